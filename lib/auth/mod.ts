/** Authentication: the AuthService seam and its in-process PSK implementation. */
export { AuthUnavailableError } from "./service.ts";
export type { AuthService, PskAuthRequest, PskVerifyRequest } from "./service.ts";
export { LocalPskAuthService, pskAuth } from "./psk.ts";
