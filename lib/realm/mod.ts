/**
 * Realms (roles): match rules parsed from auth.xml's `<role type match>`, X.501 distinguished
 * names read from DER and text, identity comparison, and the selection of a peer's realm with
 * documented precedence (lib/realm/README.md).
 */
export { DerDecodeError } from "./_der.ts";
export {
  attributeCount,
  attributeNameOf,
  attributeOidOf,
  decodeDistinguishedName,
  type DistinguishedName,
  type DnAttribute,
  dnContains,
  dnEquals,
  DnSyntaxError,
  formatDistinguishedName,
  parseDistinguishedName,
} from "./distinguished_name.ts";
export { emailOf, fqdnOf, identitiesEqual, type Identity } from "./identity.ts";
export {
  type AnyRule,
  compareSpecificity,
  type DnRule,
  type EapRule,
  type EmailRule,
  exactIdRule,
  formatMatchRule,
  type FqdnRule,
  type IdRule,
  type IpRange,
  type IpRule,
  MATCH_RULE_TYPES,
  matchPreparedPeer,
  type MatchRule,
  matchRule,
  MatchRuleSyntaxError,
  type MatchRuleType,
  parseMatchRule,
  type PeerFacts,
  type PreparedPeer,
  preparePeer,
  RuleTier,
  type SanPattern,
  type SanRule,
  type Specificity,
  type SubjectAltName,
} from "./match_rule.ts";
export {
  matchingRealms,
  type RealmLocalIdentity,
  type RealmRules,
  type RealmSelection,
  selectRealm,
  selectRealmForIdr,
} from "./select.ts";
