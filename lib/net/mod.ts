/**
 * The kernel-facing network layer: the packet-device and datagram seams, their Linux
 * implementations (TUN/TAP over FFI, UDP sockets, the raw ESP socket), the kernel's source
 * address toward a peer, interface control through `ip`, and in-memory fakes for tests.
 */
export type { PacketDevice } from "./device.ts";
export type { DatagramSocket, Endpoint, ReceivedDatagram } from "./datagram.ts";
export { DEFAULT_TUN_MTU, openTun, TunDevice } from "./tun_linux.ts";
export type { TunOptions } from "./tun_linux.ts";
export { TunFlag, TunIoctl, TunOffload } from "./tun_constants.ts";
export {
  clearVnetHdr,
  createVnetHdr,
  decodeVnetHdr,
  encodeVnetHdr,
  VNET_HDR_LENGTH,
  VNET_MAX_PACKET_LENGTH,
  VnetGsoType,
  vnetGsoTypeName,
  VnetHdrFlag,
  vnetHdrLength,
} from "./vnet_hdr.ts";
export type { VnetHdr } from "./vnet_hdr.ts";
export { openUdpSocket, UdpSocketError } from "./udp.ts";
export {
  attachReuseportProgram,
  attachSocketFilter,
  BatchSocket,
  boundPort,
  Bpf,
  encodeSockFilter,
  formatIpv4Word,
  ipv4Word,
  MAX_SLOT_SIZE,
  openBatchRawEspSocket,
  openBatchUdpSocket,
  PacketBatch,
  PollSet,
  sockaddrOf,
  TunQueue,
} from "./batch_linux.ts";
export type {
  BatchSocketStats,
  BatchUdpSocketOptions,
  PacketBatchOptions,
  SockFilter,
} from "./batch_linux.ts";
export type { UdpSocketOptions } from "./udp.ts";
export {
  IPV4_MIN_HEADER_LENGTH,
  openRawEspSocket,
  parseRawIpv4,
  RAW_ESP_COUNTER_NAMES,
  RawEspSocket,
  RawIpv4Error,
} from "./raw_esp_linux.ts";
export type { RawEspCounterName, RawEspSocketOptions } from "./raw_esp_linux.ts";
export { sourceAddressFor } from "./source_address_linux.ts";
export {
  addAddress,
  addRoute,
  delAddress,
  delRoute,
  IpCommandError,
  linkDown,
  linkUp,
  runIp,
  setMtu,
} from "./ip_control.ts";
export type { IpCommandOptions, RouteOptions } from "./ip_control.ts";
export { MemoryDevice, MemoryNetwork } from "./memory.ts";
