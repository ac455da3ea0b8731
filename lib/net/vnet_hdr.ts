/**
 * `struct virtio_net_hdr` (`linux/virtio_net.h`), the 10-byte prefix of every frame on a TUN
 * device opened with IFF_VNET_HDR (`openTun({ offload: true })`):
 *
 * ```
 *  0               1               2               3
 * +---------------+---------------+-------------------------------+
 * |     flags     |   gso_type    |        hdr_len (LE16)         |
 * +---------------+---------------+-------------------------------+
 * |       gso_size (LE16)         |       csum_start (LE16)       |
 * +-------------------------------+-------------------------------+
 * |      csum_offset (LE16)       |   packet (IP header first) ...
 * +-------------------------------+
 * ```
 *
 * We use the plain 10-byte header, not the 12-byte `virtio_net_hdr_mrg_rxbuf` (its extra
 * `num_buffers` means nothing to a TUN), and set it explicitly with TUNSETVNETHDRSZ. The fields
 * are in the host's byte order for a TUN that is not in virtio 1.0 mode, i.e. little-endian on
 * the hosts we run on (x86-64, arm64). `csum_start` counts from the IP header (a TUN has no
 * link-layer header).
 *
 * The codec works on a caller-owned {@link VnetHdr} object so that the data path decodes and
 * encodes without allocating.
 */

/** `sizeof(struct virtio_net_hdr)`: the length of the prefix we configure with TUNSETVNETHDRSZ. */
export const VNET_HDR_LENGTH = 10;

/**
 * The largest IP packet behind a vnet header: the IPv4 total length / IPv6 payload length
 * field limit (no BIG TCP). A read buffer of `VNET_HDR_LENGTH + VNET_MAX_PACKET_LENGTH` bytes
 * always holds a whole frame.
 */
export const VNET_MAX_PACKET_LENGTH = 65535;

/** `virtio_net_hdr.flags` bits (virtio 1.2 §5.1.6). */
export const VnetHdrFlag = {
  /** `VIRTIO_NET_HDR_F_NEEDS_CSUM`: checksum from `csum_start`, stored at +`csum_offset`. */
  NEEDS_CSUM: 0x01,
  /** `VIRTIO_NET_HDR_F_DATA_VALID`: the checksum was verified (CHECKSUM_UNNECESSARY). */
  DATA_VALID: 0x02,
} as const;

/** `virtio_net_hdr.gso_type` values (virtio 1.2 §5.1.6). */
export const VnetGsoType = {
  /** `VIRTIO_NET_HDR_GSO_NONE`: not a super packet. */
  NONE: 0,
  /** `VIRTIO_NET_HDR_GSO_TCPV4`: TCP over IPv4 super packet (TSO). */
  TCPV4: 1,
  /** `VIRTIO_NET_HDR_GSO_UDP`: IPv4 UDP fragmentation offload (UFO); not enabled by us. */
  UDP: 3,
  /** `VIRTIO_NET_HDR_GSO_TCPV6`: TCP over IPv6 super packet (TSO). */
  TCPV6: 4,
  /** `VIRTIO_NET_HDR_GSO_UDP_L4`: UDP segmentation (USO); not enabled by us. */
  UDP_L4: 5,
  /** `VIRTIO_NET_HDR_GSO_ECN`: bit or-ed into a TCP type when the first segment carries CWR. */
  ECN: 0x80,
} as const;

/** Name of a `gso_type` value (ECN bit as `|ECN`), `UNKNOWN(n)` for others. */
export function vnetGsoTypeName(gsoType: number): string {
  const base = gsoType & ~VnetGsoType.ECN;
  const ecn = (gsoType & VnetGsoType.ECN) !== 0 ? "|ECN" : "";
  for (const [name, value] of Object.entries(VnetGsoType)) {
    if (value === base && name !== "ECN") return name + ecn;
  }
  return `UNKNOWN(${gsoType})`;
}

/** The decoded fields of a `struct virtio_net_hdr`; reused across packets by the data path. */
export interface VnetHdr {
  /** {@link VnetHdrFlag} bits. */
  flags: number;
  /** A {@link VnetGsoType} value, possibly with the ECN bit. */
  gsoType: number;
  /** Length of the headers (IP + transport) of a super packet; a hint, see `gso_split.ts`. */
  hdrLen: number;
  /** Payload bytes per segment (the MSS) of a super packet. */
  gsoSize: number;
  /** Where checksumming starts (the transport header), from the IP header. */
  csumStart: number;
  /** Where the checksum is stored, from `csumStart` (16 for TCP, 6 for UDP). */
  csumOffset: number;
}

/**
 * A zeroed {@link VnetHdr} (GSO NONE, no flags): allocate one per loop, not per packet.
 *
 * @example
 * ```ts
 * const hdr = createVnetHdr();
 * decodeVnetHdr(frame, hdr);
 * ```
 */
export function createVnetHdr(): VnetHdr {
  return { flags: 0, gsoType: 0, hdrLen: 0, gsoSize: 0, csumStart: 0, csumOffset: 0 };
}

/**
 * Decodes the header at the start of `bytes` into `out` and returns `out`. Throws `RangeError`
 * when `bytes` is shorter than {@link VNET_HDR_LENGTH}; the values are not checked against
 * the packet (that is the splitter's job).
 *
 * @example
 * ```ts
 * const hdr = decodeVnetHdr(frame, createVnetHdr());
 * if (hdr.gsoType !== VnetGsoType.NONE) console.log(`super packet, MSS ${hdr.gsoSize}`);
 * ```
 */
export function decodeVnetHdr(bytes: Uint8Array, out: VnetHdr): VnetHdr {
  if (bytes.length < VNET_HDR_LENGTH) {
    throw new RangeError(
      `Cannot decode virtio-net header: ${bytes.length} bytes, need ${VNET_HDR_LENGTH}`,
    );
  }
  out.flags = bytes[0]!;
  out.gsoType = bytes[1]!;
  out.hdrLen = bytes[2]! | (bytes[3]! << 8);
  out.gsoSize = bytes[4]! | (bytes[5]! << 8);
  out.csumStart = bytes[6]! | (bytes[7]! << 8);
  out.csumOffset = bytes[8]! | (bytes[9]! << 8);
  return out;
}

/**
 * Encodes `value` into the first {@link VNET_HDR_LENGTH} bytes of `bytes` (fields are taken
 * modulo their width). Throws `RangeError` when `bytes` is too short.
 *
 * @example
 * ```ts
 * encodeVnetHdr(createVnetHdr(), frame); // GSO NONE: a plain packet follows
 * ```
 */
export function encodeVnetHdr(value: VnetHdr, bytes: Uint8Array): void {
  if (bytes.length < VNET_HDR_LENGTH) {
    throw new RangeError(
      `Cannot encode virtio-net header: ${bytes.length} bytes, need ${VNET_HDR_LENGTH}`,
    );
  }
  bytes[0] = value.flags;
  bytes[1] = value.gsoType;
  bytes[2] = value.hdrLen;
  bytes[3] = value.hdrLen >>> 8;
  bytes[4] = value.gsoSize;
  bytes[5] = value.gsoSize >>> 8;
  bytes[6] = value.csumStart;
  bytes[7] = value.csumStart >>> 8;
  bytes[8] = value.csumOffset;
  bytes[9] = value.csumOffset >>> 8;
}

/**
 * Writes an all-zero header (GSO NONE, no flags) at `offset`: the prefix of a complete packet
 * whose checksums are already correct.
 *
 * @example
 * ```ts
 * clearVnetHdr(frame, 0);
 * frame.set(packet, VNET_HDR_LENGTH);
 * ```
 */
export function clearVnetHdr(bytes: Uint8Array, offset: number): void {
  bytes.fill(0, offset, offset + VNET_HDR_LENGTH);
}

/** The encoded length of a header: always {@link VNET_HDR_LENGTH} (codec symmetry). */
export function vnetHdrLength(_value?: VnetHdr): number {
  return VNET_HDR_LENGTH;
}
