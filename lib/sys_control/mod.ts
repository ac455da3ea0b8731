/**
 * System changes behind a seam: the {@link SysService} interface (addresses, MTU, link state,
 * routes), its in-process `ip` implementation, a policy that limits changes to each realm's
 * tunnel device and networks, an in-memory recorder for tests, and the user switch of `-u`/`-s`.
 */
export { type RouteChange, SysRefusedError, type SysService } from "./service.ts";
export { IpSysService } from "./ip_service.ts";
export { PolicedSysService, prefixContains, SysPolicy } from "./policy.ts";
export type { RealmSysPolicy } from "./policy.ts";
export { MemorySysService } from "./memory.ts";
export type { SysCall } from "./memory.ts";
export {
  Capability,
  currentUid,
  lookupUser,
  switchUser,
  UserSwitchError,
} from "./privileges_linux.ts";
export type { CapabilityNumber, UserIdentity } from "./privileges_linux.ts";
