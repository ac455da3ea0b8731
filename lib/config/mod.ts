/**
 * Configuration: loading and validating conf/rockhopper.xml and conf/auth.xml into the value
 * types the rest of the program uses. See conf/README.md for the file format.
 */
export {
  checkAuthAgainstConfig,
  CONFIG_DEFAULTS,
  loadAuthConfig,
  loadConfig,
  parseAuthConfig,
  parseConfig,
  readConfigFile,
} from "./load.ts";
export { MIN_PSK_LENGTH } from "./auth_file.ts";
export { ConfigError, formatConfigProblem } from "./errors.ts";
export type { ConfigErrorDetails } from "./errors.ts";
export { parseDuration } from "./duration.ts";
export { IdentityKind, parseIdentity } from "./identity.ts";
export type { ConfigIdentity, IdentityKindName } from "./identity.ts";
export { formatIpAddress, formatPrefix, parseIpAddress, parsePrefix } from "./ip_prefix.ts";
export type { IpAddress, IpPrefix } from "./ip_prefix.ts";
export type * from "./types.ts";
export { parseXml } from "./xml.ts";
export type { XmlAttribute, XmlElement } from "./xml.ts";
export {
  escapeXml,
  insertRealm,
  locateRealms,
  removeRealm,
  renderElement,
  replaceRealm,
  setRealmAttribute,
} from "./realm_edit.ts";
export type { RealmDocument, RealmEdit, RealmSpan, RenderedElement } from "./realm_edit.ts";
export { encodeBase64, formatScryptHash, parseScryptHash, SCRYPT_LIMITS } from "./password_hash.ts";
export { PREVIOUS_SUFFIX, saveConfigText } from "./save.ts";
