/**
 * libc through Deno FFI: one lazily opened `libc.so.6` per thread (each Deno worker has its
 * own module instance, hence its own handle and its own `errno` location).
 *
 * Fast-path rules (LAB-FACTS): `ssize_t`-like results are declared `i32` (packet sizes fit),
 * 64-bit parameters take BigInt, buffers are `"buffer"`, never `Deno.UnsafePointer.of()` per
 * call. Read {@link lastErrno} immediately after a call returned -1, before any other FFI call.
 * The `nonblocking` symbol ({@link LibcSymbols.pollWait}) runs on another thread: its errno is
 * not observable, and it costs 17–30 µs, so it is for waiting, never for the data path.
 */
import { SysError } from "./errors.ts";

const LIBC_SYMBOLS = {
  /** `int open(const char *path, int flags, mode_t mode)`; path NUL-terminated ({@link cString}). */
  open: { parameters: ["buffer", "i32", "i32"], result: "i32" },
  close: { parameters: ["i32"], result: "i32" },
  /** `ssize_t read(int fd, void *buf, size_t count)`. */
  read: { parameters: ["i32", "buffer", "u64"], result: "i32" },
  /** `ssize_t write(int fd, const void *buf, size_t count)`. */
  write: { parameters: ["i32", "buffer", "u64"], result: "i32" },
  /** `int ioctl(int fd, unsigned long request, void *arg)` (variadic, pointer argument form). */
  ioctl: { parameters: ["i32", "u64", "buffer"], result: "i32" },
  /** `int poll(struct pollfd *fds, nfds_t n, int timeout)`, synchronous: use timeout 0. */
  poll: { parameters: ["buffer", "u64", "i32"], result: "i32" },
  /** `poll` on a worker thread: resolves when ready or after the timeout (errno unobservable). */
  pollWait: {
    name: "poll",
    parameters: ["buffer", "u64", "i32"],
    result: "i32",
    nonblocking: true,
  },
  /** `int fcntl(int fd, int cmd, int arg)` (variadic, int argument form). */
  fcntl: { parameters: ["i32", "i32", "i32"], result: "i32" },
  /** `int eventfd(unsigned int initval, int flags)`. */
  eventfd: { parameters: ["u32", "i32"], result: "i32" },
  socket: { parameters: ["i32", "i32", "i32"], result: "i32" },
  /** `int bind(int fd, const struct sockaddr *addr, socklen_t len)`. */
  bind: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  /** `int connect(int fd, const struct sockaddr *addr, socklen_t len)`. */
  connect: { parameters: ["i32", "buffer", "u32"], result: "i32" },
  /** `int getsockname(int fd, struct sockaddr *addr, socklen_t *len)`. */
  getsockname: { parameters: ["i32", "buffer", "buffer"], result: "i32" },
  /** `int setsockopt(int fd, int level, int name, const void *value, socklen_t len)`. */
  setsockopt: { parameters: ["i32", "i32", "i32", "buffer", "u32"], result: "i32" },
  /** `ssize_t sendto(int fd, const void *buf, size_t n, int flags, const sockaddr *to, socklen_t)`. */
  sendto: { parameters: ["i32", "buffer", "u64", "i32", "buffer", "u32"], result: "i32" },
  /** `ssize_t recvfrom(int fd, void *buf, size_t n, int flags, sockaddr *from, socklen_t *len)`. */
  recvfrom: { parameters: ["i32", "buffer", "u64", "i32", "buffer", "buffer"], result: "i32" },
  /** `int sendmmsg(int fd, struct mmsghdr *v, unsigned int n, int flags)`. */
  sendmmsg: { parameters: ["i32", "buffer", "u32", "i32"], result: "i32" },
  /**
   * `int recvmmsg(int fd, struct mmsghdr *v, unsigned int n, int flags, struct timespec *t)`;
   * the timeout is declared `u64`: pass `0n` for NULL.
   */
  recvmmsg: { parameters: ["i32", "buffer", "u32", "i32", "u64"], result: "i32" },
  __errno_location: { parameters: [], result: "pointer" },
  strerror: { parameters: ["i32"], result: "pointer" },
  getuid: { parameters: [], result: "u32" },
  geteuid: { parameters: [], result: "u32" },
  getgid: { parameters: [], result: "u32" },
  setuid: { parameters: ["u32"], result: "i32" },
  setgid: { parameters: ["u32"], result: "i32" },
  /** `int setgroups(size_t n, const gid_t *list)`; drop supplementary groups before setgid. */
  setgroups: { parameters: ["u64", "buffer"], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;

/** The bound libc functions (see the declarations above for the C signatures). */
export type LibcSymbols = Deno.DynamicLibrary<typeof LIBC_SYMBOLS>["symbols"];

let library: Deno.DynamicLibrary<typeof LIBC_SYMBOLS> | undefined;
let errnoView: Deno.UnsafePointerView | undefined;

/**
 * The libc symbols of this thread, opening `libc.so.6` on first use. Needs `--allow-ffi`
 * (`Deno.dlopen`'s `NotCapable` error propagates otherwise).
 *
 * @example
 * ```ts
 * const fd = libc().open(cString("/dev/null"), OpenFlag.O_RDWR, 0);
 * ```
 */
export function libc(): LibcSymbols {
  if (library === undefined) library = Deno.dlopen("libc.so.6", LIBC_SYMBOLS);
  return library.symbols;
}

/**
 * The calling thread's `errno`. Valid only right after a synchronous libc call returned an
 * error; the `errno` location is resolved once per thread and then read without allocation.
 *
 * @example
 * ```ts
 * if (libc().close(fd) < 0) console.log(errnoName(lastErrno()));
 * ```
 */
export function lastErrno(): number {
  if (errnoView === undefined) {
    const location = libc().__errno_location();
    if (location === null) throw new Error("Cannot read errno: __errno_location returned NULL");
    errnoView = new Deno.UnsafePointerView(location);
  }
  return errnoView.getInt32(0);
}

/**
 * A {@link SysError} for the call that just failed, built from {@link lastErrno}.
 *
 * @example
 * ```ts
 * const fd = libc().open(cString(path), OpenFlag.O_RDWR, 0);
 * if (fd < 0) throw lastError("open", `open ${path}`);
 * ```
 */
export function lastError(call: string, action: string = call): SysError {
  return new SysError(call, lastErrno(), action);
}

/**
 * libc's own `strerror` text for `errno` (for diagnostics; {@link describeErrno} is the
 * FFI-free equivalent used in error messages).
 */
export function strerror(errno: number): string {
  const text = libc().strerror(errno);
  return text === null ? `Unknown error ${errno}` : Deno.UnsafePointerView.getCString(text);
}

const encoder = new TextEncoder();

/**
 * A NUL-terminated copy of `text` for `const char *` parameters; throws `TypeError` when the
 * text contains a NUL.
 *
 * @example
 * ```ts
 * cString("/dev/net/tun"); // Uint8Array of 13 bytes, the last one 0
 * ```
 */
export function cString(text: string): Uint8Array<ArrayBuffer> {
  if (text.includes("\0")) {
    throw new TypeError(`Cannot pass "${text}" to libc: it contains a NUL character`);
  }
  const encoded = encoder.encode(text);
  const out = new Uint8Array(encoded.length + 1);
  out.set(encoded);
  return out;
}

/**
 * Closes libc's handle of this thread (tests; workers that exit). Later calls reopen it.
 */
export function closeLibc(): void {
  library?.close();
  library = undefined;
  errnoView = undefined;
}
