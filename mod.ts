/**
 * Rockhopper-TS public API: the IKEv2 wire codec, the configuration loader and the appliance.
 *
 * @example
 * ```ts
 * import { Appliance, loadAuthConfig, loadConfig } from "./mod.ts";
 * const appliance = await Appliance.start({
 *   config: await loadConfig("conf/rockhopper.xml"),
 *   auth: await loadAuthConfig("conf/auth.xml"),
 * });
 * // ...
 * await appliance.stop();
 * ```
 * @module
 */
export { Appliance, AUTO_PATH_MTU, autoTunnelMtu } from "./lib/appliance/mod.ts";
export type { ApplianceOptions, OuterPath } from "./lib/appliance/mod.ts";
export {
  checkAuthAgainstConfig,
  ConfigError,
  loadAuthConfig,
  loadConfig,
  parseAuthConfig,
  parseConfig,
} from "./lib/config/mod.ts";
export type { AuthConfig, RealmConfig, RockhopperConfig } from "./lib/config/mod.ts";
export {
  decodeMessage,
  decodePayloadChain,
  encodeMessage,
  encodePayloadChain,
  formatIdentity,
  InvalidMajorVersionError,
  parseIdentity,
  UnsupportedCriticalPayloadError,
} from "./lib/ike/payloads/mod.ts";
export type { IkeHeader, IkeMessage, Payload } from "./lib/ike/payloads/mod.ts";
export * as ike from "./lib/ike/constants.ts";
export { IkeEngine } from "./lib/ike/engine.ts";
export type { IkeEngineEvent, IkeEngineOptions, IkeTransport } from "./lib/ike/engine.ts";
export { ESP_SUITES, IKE_SUITES } from "./lib/ike/suites.ts";
export { DecodeError } from "./lib/wire/mod.ts";
