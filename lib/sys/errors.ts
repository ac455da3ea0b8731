/** Errors raised by the FFI layer. */
import { describeErrno, errnoName } from "./errno.ts";

/**
 * A system call failed. Carries the errno value, its C name (`code`) and the libc function
 * (`call`). The message starts with the failed action:
 * `Cannot open /dev/net/tun: EPERM (Operation not permitted)`.
 *
 * @example
 * ```ts
 * const e = new SysError("open", 1, "open /dev/net/tun");
 * e.code; // "EPERM"
 * e.message; // "Cannot open /dev/net/tun: EPERM (Operation not permitted)"
 * ```
 */
export class SysError extends Error {
  /** The errno value read right after the failing call. */
  readonly errno: number;
  /** The C name of {@link errno} (`EAGAIN`, `EPERM`, ...) or `UNKNOWN(n)`. */
  readonly code: string;
  /** The libc function that failed (`open`, `ioctl`, ...). */
  readonly call: string;

  /**
   * @param call the libc function that failed
   * @param errno the errno value
   * @param action what was attempted, completing "Cannot ..."; defaults to `call`
   */
  constructor(call: string, errno: number, action: string = call) {
    const code = errnoName(errno);
    super(`Cannot ${action}: ${code} (${describeErrno(errno)})`);
    this.name = "SysError";
    this.errno = errno;
    this.code = code;
    this.call = call;
  }
}

/**
 * A shared library could not be loaded or a libcrypto operation failed. `detail` carries the
 * OpenSSL error-queue text when there was one.
 *
 * @example
 * ```ts
 * throw new LibraryError("Cannot create AES-256-GCM context: EVP_CipherInit_ex failed");
 * ```
 */
export class LibraryError extends Error {
  /** OpenSSL's error text (`error:1C800064:Provider routines::bad decrypt`), or "". */
  readonly detail: string;
  constructor(message: string, detail = "") {
    super(detail === "" ? message : `${message} (${detail})`);
    this.name = "LibraryError";
    this.detail = detail;
  }
}
