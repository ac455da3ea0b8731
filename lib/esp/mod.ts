/**
 * ESPv3 (RFC 4303) in tunnel mode: SAs, encapsulation/decapsulation, anti-replay, the SA
 * database with its prefix table, RFC 3948 UDP encapsulation, and the data path loops.
 *
 * @example
 * ```ts
 * import { EspSa, Sadb, parsePrefix, runTunToPeer, runPeerToTun } from "./lib/esp/mod.ts";
 * const sadb = new Sadb();
 * sadb.installChild({ inbound, outbound, remotePrefixes: [parsePrefix("10.2.0.0/24")] });
 * runTunToPeer(tun, sadb, (bytes, to) => socket.send(bytes, to));
 * runPeerToTun(socket, sadb, tun, { onIke });
 * ```
 */
export {
  AES_BLOCK_LENGTH,
  CBC_IV_LENGTH,
  EncapFailure,
  ESP_HEADER_LENGTH,
  ESP_HEADROOM,
  ESP_MAX_OVERHEAD,
  ESP_SEQUENCE_MAX,
  ESP_SEQUENCE_REKEY_THRESHOLD,
  ESP_TRAILER_LENGTH,
  EspDropReason,
  GCM_ICV_LENGTH,
  GCM_IV_LENGTH,
  GCM_SALT_LENGTH,
  NextHeader,
} from "./constants.ts";
export {
  REPLAY_WINDOW_DEFAULT,
  REPLAY_WINDOW_MAX,
  REPLAY_WINDOW_MIN,
  ReplayWindow,
} from "./replay_window.ts";
export { ESP_SA_COUNTERS, EspSa, espSuiteTransforms } from "./sa.ts";
export type {
  DecapResult,
  EspEncryption,
  EspIntegrity,
  EspSaCounterName,
  EspSaParams,
  EspSuiteTransforms,
  SequenceSlot,
  UdpEncapsulation,
} from "./sa.ts";
export {
  encapsulate,
  encapsulatedLength,
  encapsulatedTextStart,
  encapsulateInPlace,
} from "./encap.ts";
export { decapsulate } from "./decap.ts";
export { espFraming, largestInnerLength } from "./esp_room.ts";
export type { EspFraming } from "./esp_room.ts";
export {
  ipVersionOf,
  parsePrefix,
  prefixFromBytes,
  prefixOf,
  sourceInPrefixes,
} from "./ip_prefix.ts";
export type { IpPrefix } from "./ip_prefix.ts";
export { PrefixTable } from "./prefix_table.ts";
export { Sadb } from "./sadb.ts";
export type { ChildSaEntry, InboundEntry } from "./sadb.ts";
export {
  addNonEspMarker,
  buildNatKeepalive,
  classifyUdpEncap,
  espSpiOf,
  NAT_KEEPALIVE_BYTE,
  stripNonEspMarker,
  UdpEncapKind,
} from "./udp_encap.ts";
export { BufferPool, PooledBuffer } from "./buffer_pool.ts";
export type { BufferPoolOptions } from "./buffer_pool.ts";
export {
  createInboundContext,
  createPeerToTunCounters,
  createTunToPeerCounters,
  deliverInboundEsp,
  handleInboundEsp,
  inboundContextOf,
  InboundResult,
  PEER_TO_TUN_COUNTERS,
  publishInboundTally,
  runPeerToTun,
  runTunToPeer,
  TUN_TO_PEER_COUNTERS,
} from "./data_path.ts";
export type {
  EspSender,
  InboundContext,
  InboundTally,
  PeerToTunCounterName,
  PeerToTunOptions,
  TunToPeerCounterName,
  TunToPeerOptions,
} from "./data_path.ts";
export { GSO_SPLIT_COUNTERS, GsoSplitter } from "./gso_split.ts";
export type { GsoSplitCounterName, SegmentOutput } from "./gso_split.ts";
export { GRO_COALESCE_COUNTERS, GroCoalescer } from "./gro_coalesce.ts";
export type { GroCoalesceCounterName, GroCoalescerOptions } from "./gro_coalesce.ts";
export { ChecksumMemory, useChecksumMemory } from "./_checksum_wasm.ts";
