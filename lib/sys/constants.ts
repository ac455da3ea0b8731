/**
 * Linux ABI constants for the libc calls in `libc.ts` (x86_64 and aarch64 share these values).
 * Keys are the C names so that they grep like the man pages.
 */

/** `open(2)` flags. */
export const OpenFlag = {
  O_RDONLY: 0,
  O_WRONLY: 0x1,
  O_RDWR: 0x2,
  O_NONBLOCK: 0x800,
  O_CLOEXEC: 0x80000,
} as const;

/** `fcntl(2)` commands and descriptor flags. */
export const FcntlCommand = {
  F_GETFD: 1,
  F_SETFD: 2,
  F_GETFL: 3,
  F_SETFL: 4,
  FD_CLOEXEC: 1,
} as const;

/** `poll(2)` event bits; `struct pollfd` is 8 bytes (fd i32, events i16, revents i16). */
export const PollEvent = {
  POLLIN: 0x1,
  POLLPRI: 0x2,
  POLLOUT: 0x4,
  POLLERR: 0x8,
  POLLHUP: 0x10,
  POLLNVAL: 0x20,
} as const;

/** Size of `struct pollfd`. */
export const POLLFD_SIZE = 8;

/** Address families (`socket(2)`). */
export const AddressFamily = {
  AF_UNSPEC: 0,
  AF_INET: 2,
  AF_INET6: 10,
  AF_PACKET: 17,
} as const;

/** Socket types and the flags that may be or-ed into them. */
export const SocketType = {
  SOCK_STREAM: 1,
  SOCK_DGRAM: 2,
  SOCK_RAW: 3,
  SOCK_NONBLOCK: 0x800,
  SOCK_CLOEXEC: 0x80000,
} as const;

/** IP protocol numbers used with `socket(2)` and `setsockopt(2)` levels. */
export const IpProtocol = {
  IPPROTO_IP: 0,
  IPPROTO_ICMP: 1,
  IPPROTO_UDP: 17,
  IPPROTO_IPV6: 41,
  IPPROTO_ESP: 50,
} as const;

/** `setsockopt(2)` levels and options. */
export const SocketOption = {
  SOL_SOCKET: 1,
  SO_REUSEADDR: 2,
  SO_SNDBUF: 7,
  SO_RCVBUF: 8,
  SO_REUSEPORT: 15,
  /** Classic BPF socket filter (`struct sock_fprog`), run on every packet queued to the socket. */
  SO_ATTACH_FILTER: 26,
  /** Classic BPF program that picks the socket of a SO_REUSEPORT group (returns the index). */
  SO_ATTACH_REUSEPORT_CBPF: 51,
  SOL_UDP: 17,
  UDP_ENCAP: 100,
  UDP_SEGMENT: 103,
  UDP_GRO: 104,
} as const;

/** `send(2)`/`recv(2)` flags. */
export const MsgFlag = {
  MSG_DONTWAIT: 0x40,
  MSG_TRUNC: 0x20,
  MSG_WAITFORONE: 0x10000,
} as const;

/** `eventfd(2)` flags. */
export const EventFdFlag = {
  EFD_NONBLOCK: 0x800,
  EFD_CLOEXEC: 0x80000,
} as const;

/** Sizes of kernel structures passed through FFI (64-bit Linux). */
export const StructSize = {
  /** `struct sockaddr_in`. */
  sockaddr_in: 16,
  /** `struct sockaddr_in6`. */
  sockaddr_in6: 28,
  /** `struct iovec` (iov_base, iov_len). */
  iovec: 16,
  /** `struct msghdr`. */
  msghdr: 56,
  /** `struct mmsghdr` (msghdr + msg_len, padded); msg_iov at 16, msg_iovlen at 24, msg_len at 56. */
  mmsghdr: 64,
  /** `struct sock_filter` (code u16, jt u8, jf u8, k u32). */
  sock_filter: 8,
  /** `struct sock_fprog` (len u16, padding, filter pointer at 8). */
  sock_fprog: 16,
} as const;
