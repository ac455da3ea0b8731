/**
 * The FFI layer: libc (files, ioctl, poll, sockets, credentials) and libcrypto (EVP ciphers,
 * HMAC, RAND). Everything that touches the kernel or a native library goes through here.
 *
 * @example
 * ```ts
 * import { cString, lastError, libc, OpenFlag } from "./lib/sys/mod.ts";
 * const fd = libc().open(cString("/dev/net/tun"), OpenFlag.O_RDWR, 0);
 * if (fd < 0) throw lastError("open", "open /dev/net/tun");
 * ```
 */
export { describeErrno, Errno, errnoName, EWOULDBLOCK } from "./errno.ts";
export type { ErrnoName } from "./errno.ts";
export { LibraryError, SysError } from "./errors.ts";
export {
  AddressFamily,
  EventFdFlag,
  FcntlCommand,
  IpProtocol,
  MsgFlag,
  OpenFlag,
  PollEvent,
  POLLFD_SIZE,
  SocketOption,
  SocketType,
  StructSize,
} from "./constants.ts";
export { closeLibc, cString, lastErrno, lastError, libc, strerror } from "./libc.ts";
export type { LibcSymbols } from "./libc.ts";
export {
  closeLibcrypto,
  EvpCtrl,
  hasLibcrypto,
  libcrypto,
  LIBCRYPTO_NAMES,
  opensslError,
  takeOpensslErrors,
} from "./libcrypto.ts";
export type { LibcryptoSymbols } from "./libcrypto.ts";
export { EvpAesGcm, GCM_NONCE_LENGTH, GCM_TAG_LENGTH } from "./evp_gcm.ts";
export type { GcmUse } from "./evp_gcm.ts";
export { AES_BLOCK_LENGTH, EvpAesCbc } from "./evp_cbc.ts";
export { EvpHmac, HmacDigest } from "./evp_hmac.ts";
export type { HmacDigestName } from "./evp_hmac.ts";
export { randBytes } from "./random.ts";
