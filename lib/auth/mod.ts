/** Authentication: the AuthService seam and its in-process PSK implementation. */
export { AuthUnavailableError, isEapMethod } from "./service.ts";
export type {
  AuthMethodName,
  AuthService,
  CertificateVerifyRequest,
  CertificateVerifyResult,
  EapAuthRequest,
  EapConclusion,
  EapRound,
  EapStartRequest,
  EapVerifyRequest,
  PskAuthRequest,
  PskAuthService,
  PskVerifyRequest,
  SignatureAuthRequest,
} from "./service.ts";
export { CredentialError, LocalAuthService } from "./local.ts";
export { LocalPskAuthService, pskAuth } from "./psk.ts";
export {
  DEFAULT_SCRYPT_PARAMETERS,
  hashPassword,
  LocalWebUserService,
  VERIFIED_CACHE_TTL_MS,
  verifyPassword,
} from "./web_users.ts";
export type { ScryptParameters, WebUserAuthService, WebUserGrant } from "./web_users.ts";
// The secure-process supervisor's back-off, shared with the data-plane pool's worker restarts.
export { DEFAULT_RESTART_LIMITS, RestartPolicy } from "./secure/supervisor.ts";
export type { RestartLimits } from "./secure/supervisor.ts";
