/**
 * The kernel-facing network layer: the packet-device and datagram seams, their Linux
 * implementations (TUN/TAP over FFI, UDP sockets), interface control through `ip`, and
 * in-memory fakes for tests.
 */
export type { PacketDevice } from "./device.ts";
export type { DatagramSocket, Endpoint, ReceivedDatagram } from "./datagram.ts";
export { DEFAULT_TUN_MTU, openTun, TunDevice } from "./tun_linux.ts";
export type { TunOptions } from "./tun_linux.ts";
export { TunFlag, TunIoctl } from "./tun_constants.ts";
export { openUdpSocket, UdpSocketError } from "./udp.ts";
export type { UdpSocketOptions } from "./udp.ts";
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
