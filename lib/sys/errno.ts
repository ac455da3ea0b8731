/**
 * Linux errno values (x86_64 / aarch64 generic ABI, `asm-generic/errno*.h`) with their glibc
 * `strerror` texts. A static table rather than FFI `strerror` so that errors can be built and
 * printed without `--allow-ffi` and without touching libc's static message buffer.
 */

/** Linux errno numbers by their C name. */
export const Errno = {
  EPERM: 1,
  ENOENT: 2,
  ESRCH: 3,
  EINTR: 4,
  EIO: 5,
  ENXIO: 6,
  E2BIG: 7,
  EBADF: 9,
  ECHILD: 10,
  EAGAIN: 11,
  ENOMEM: 12,
  EACCES: 13,
  EFAULT: 14,
  EBUSY: 16,
  EEXIST: 17,
  ENODEV: 19,
  ENOTDIR: 20,
  EISDIR: 21,
  EINVAL: 22,
  ENFILE: 23,
  EMFILE: 24,
  ENOTTY: 25,
  ENOSPC: 28,
  EPIPE: 32,
  ERANGE: 34,
  ENOSYS: 38,
  EBADFD: 77,
  ENOTSOCK: 88,
  EDESTADDRREQ: 89,
  EMSGSIZE: 90,
  EPROTOTYPE: 91,
  ENOPROTOOPT: 92,
  EPROTONOSUPPORT: 93,
  EOPNOTSUPP: 95,
  EAFNOSUPPORT: 97,
  EADDRINUSE: 98,
  EADDRNOTAVAIL: 99,
  ENETDOWN: 100,
  ENETUNREACH: 101,
  ECONNABORTED: 103,
  ECONNRESET: 104,
  ENOBUFS: 105,
  EISCONN: 106,
  ENOTCONN: 107,
  ETIMEDOUT: 110,
  ECONNREFUSED: 111,
  EHOSTDOWN: 112,
  EHOSTUNREACH: 113,
  EALREADY: 114,
  EINPROGRESS: 115,
} as const;

/** A C errno name known to {@link Errno}. */
export type ErrnoName = keyof typeof Errno;

/** `EWOULDBLOCK` is `EAGAIN` on Linux. */
export const EWOULDBLOCK: number = Errno.EAGAIN;

const DESCRIPTIONS: Readonly<Record<ErrnoName, string>> = {
  EPERM: "Operation not permitted",
  ENOENT: "No such file or directory",
  ESRCH: "No such process",
  EINTR: "Interrupted system call",
  EIO: "Input/output error",
  ENXIO: "No such device or address",
  E2BIG: "Argument list too long",
  EBADF: "Bad file descriptor",
  ECHILD: "No child processes",
  EAGAIN: "Resource temporarily unavailable",
  ENOMEM: "Cannot allocate memory",
  EACCES: "Permission denied",
  EFAULT: "Bad address",
  EBUSY: "Device or resource busy",
  EEXIST: "File exists",
  ENODEV: "No such device",
  ENOTDIR: "Not a directory",
  EISDIR: "Is a directory",
  EINVAL: "Invalid argument",
  ENFILE: "Too many open files in system",
  EMFILE: "Too many open files",
  ENOTTY: "Inappropriate ioctl for device",
  ENOSPC: "No space left on device",
  EPIPE: "Broken pipe",
  ERANGE: "Numerical result out of range",
  ENOSYS: "Function not implemented",
  EBADFD: "File descriptor in bad state",
  ENOTSOCK: "Socket operation on non-socket",
  EDESTADDRREQ: "Destination address required",
  EMSGSIZE: "Message too long",
  EPROTOTYPE: "Protocol wrong type for socket",
  ENOPROTOOPT: "Protocol not available",
  EPROTONOSUPPORT: "Protocol not supported",
  EOPNOTSUPP: "Operation not supported",
  EAFNOSUPPORT: "Address family not supported by protocol",
  EADDRINUSE: "Address already in use",
  EADDRNOTAVAIL: "Cannot assign requested address",
  ENETDOWN: "Network is down",
  ENETUNREACH: "Network is unreachable",
  ECONNABORTED: "Software caused connection abort",
  ECONNRESET: "Connection reset by peer",
  ENOBUFS: "No buffer space available",
  EISCONN: "Transport endpoint is already connected",
  ENOTCONN: "Transport endpoint is not connected",
  ETIMEDOUT: "Connection timed out",
  ECONNREFUSED: "Connection refused",
  EHOSTDOWN: "Host is down",
  EHOSTUNREACH: "No route to host",
  EALREADY: "Operation already in progress",
  EINPROGRESS: "Operation now in progress",
};

const NAMES = new Map<number, ErrnoName>(
  (Object.entries(Errno) as [ErrnoName, number][]).map(([name, value]) => [value, name]),
);

/**
 * The C name of an errno value, or `UNKNOWN(n)`.
 *
 * @example
 * ```ts
 * errnoName(1); // "EPERM"
 * errnoName(4095); // "UNKNOWN(4095)"
 * ```
 */
export function errnoName(errno: number): string {
  return NAMES.get(errno) ?? `UNKNOWN(${errno})`;
}

/**
 * The glibc `strerror` text of an errno value; `Unknown error n` (glibc's wording) otherwise.
 *
 * @example
 * ```ts
 * describeErrno(11); // "Resource temporarily unavailable"
 * ```
 */
export function describeErrno(errno: number): string {
  const name = NAMES.get(errno);
  return name === undefined ? `Unknown error ${errno}` : DESCRIPTIONS[name];
}
