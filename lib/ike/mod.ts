/**
 * IKEv2 (RFC 7296): wire constants and codecs, built-in suites, key derivation, SK payload
 * protection, the task-based exchange engine and realm policies.
 */
export * from "./constants.ts";
export * from "./payloads/mod.ts";
export { encryptionInfo, integrityInfo, prfInfo } from "./algorithms.ts";
export type { EncryptionInfo, IntegrityInfo, PrfInfo } from "./algorithms.ts";
export {
  DEFAULT_ESP_SUITES,
  DEFAULT_IKE_SUITES,
  describeProposal,
  ESP_SUITES,
  espSuitesByName,
  IKE_SUITES,
  ikeSuitesByName,
} from "./suites.ts";
export type { EspSuite, IkeSuite } from "./suites.ts";
export { deriveChildSaKeys, deriveIkeSaKeys } from "./keys.ts";
export type { ChildSaKeys, IkeSaKeys } from "./keys.ts";
export { IntegrityError, MessageProtection } from "./protection.ts";
export { IkeEngine } from "./engine.ts";
export type { IkeEngineEvent, IkeEngineOptions, IkeTransport } from "./engine.ts";
export { DEFAULT_INIT_ADMISSION_LIMITS, InitAdmission, TokenBucket } from "./admission.ts";
export type { AdmissionVerdict, CookieEvidence, InitAdmissionLimits } from "./admission.ts";
export { IkeSa, IkeSaState } from "./ike_sa.ts";
export type { ChildSaRecord, IkeSaStateName } from "./ike_sa.ts";
export { realmForPeer, realmPolicies } from "./realm_policy.ts";
export type { PeerPolicy, RealmPolicy } from "./realm_policy.ts";
export { formatSpi, spiFromBytes, spiToBytes } from "./spi.ts";
export {
  formatSelector,
  isCoveredBy,
  narrowSelectors,
  rangeToPrefixes,
  selectorFromCidr,
} from "./traffic_selectors.ts";
export type { ChildSaInstaller, NegotiatedChildSa, VirtualIpInstaller } from "./tasks/task.ts";
export { AddressPool, AddressPools } from "./address_pool.ts";
export type { AddressLease, AddressPoolPolicy } from "./address_pool.ts";
export {
  configReplyAttributes,
  configRequestAttributes,
  isDnsDomain,
  readConfigValues,
  readConfigWishes,
} from "./config_attributes.ts";
export type { ConfigValues, ConfigWishes, InternalAddress } from "./config_attributes.ts";
export { DEFAULT_RETRANSMIT } from "./task_manager.ts";
export type { RetransmitPolicy } from "./task_manager.ts";
