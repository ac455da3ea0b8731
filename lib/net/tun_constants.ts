/**
 * Linux TUN/TAP ABI constants (`linux/if_tun.h`, `linux/if.h`), as measured in LAB-FACTS.
 * Keys are the C names.
 */

/** `ioctl(2)` requests on `/dev/net/tun`. */
export const TunIoctl = {
  /** `_IOW('T', 202, int)`: attach the descriptor to an interface (struct ifreq). */
  TUNSETIFF: 0x400454ca,
  /** `_IOW('T', 203, int)`: keep the interface after close. */
  TUNSETPERSIST: 0x400454cb,
  /** `_IOW('T', 208, unsigned int)`: checksum/segmentation offloads (with IFF_VNET_HDR). */
  TUNSETOFFLOAD: 0x400454d0,
  /** `_IOR('T', 210, unsigned int)`: read back the ifreq of an attached descriptor. */
  TUNGETIFF: 0x800454d2,
  /** `_IOW('T', 216, int)`: virtio-net header size. */
  TUNSETVNETHDRSZ: 0x400454d8,
} as const;

/** `ifr_flags` bits for TUNSETIFF. */
export const TunFlag = {
  /** Layer 3: IP packets. */
  IFF_TUN: 0x0001,
  /** Layer 2: Ethernet frames. */
  IFF_TAP: 0x0002,
  /** One descriptor per queue (one per worker). */
  IFF_MULTI_QUEUE: 0x0100,
  /** No 4-byte packet-information prefix. */
  IFF_NO_PI: 0x1000,
  /** Frames carry a `struct virtio_net_hdr` (offloads). */
  IFF_VNET_HDR: 0x4000,
} as const;

/** `TUNSETOFFLOAD` argument bits: what the kernel may hand us unfinished (with IFF_VNET_HDR). */
export const TunOffload = {
  /** `TUN_F_CSUM`: we complete checksums (NEEDS_CSUM); required by the TSO bits. */
  TUN_F_CSUM: 0x01,
  /** `TUN_F_TSO4`: TCP over IPv4 super packets (GSO_TCPV4). */
  TUN_F_TSO4: 0x02,
  /** `TUN_F_TSO6`: TCP over IPv6 super packets (GSO_TCPV6). */
  TUN_F_TSO6: 0x04,
  /** `TUN_F_TSO_ECN`: super packets with CWR (GSO ECN bit); not requested. */
  TUN_F_TSO_ECN: 0x08,
  /** `TUN_F_UFO`: UDP fragmentation offload; not requested. */
  TUN_F_UFO: 0x10,
  /** `TUN_F_USO4` (Linux 6.2): UDP segmentation over IPv4; not requested. */
  TUN_F_USO4: 0x20,
  /** `TUN_F_USO6` (Linux 6.2): UDP segmentation over IPv6; not requested. */
  TUN_F_USO6: 0x40,
} as const;

/** `IFNAMSIZ`: interface names are at most 15 bytes plus the terminating NUL. */
export const IFNAMSIZ = 16;

/** `sizeof(struct ifreq)` on 64-bit Linux; `ifr_flags` is a little-endian i16 at offset 16. */
export const IFREQ_SIZE = 40;

/** Offset of `ifr_flags` inside `struct ifreq`. */
export const IFREQ_FLAGS_OFFSET = 16;

/** The clone device opened for every TUN/TAP interface. */
export const TUN_CLONE_DEVICE = "/dev/net/tun";
