/** The appliance: realms, sockets, IKE engine and ESP data path wired together. */
export { Appliance } from "./appliance.ts";
export { AUTO_PATH_MTU, autoTunnelMtu } from "./tunnel_mtu.ts";
export type { OuterPath } from "./tunnel_mtu.ts";
export type { ApplianceOptions } from "./appliance.ts";
export { EspInstaller } from "./esp_installer.ts";
export { RealmRuntime } from "./realm_runtime.ts";
export { VirtualIpManager } from "./virtual_ips.ts";
export type { VirtualIpManagerOptions } from "./virtual_ips.ts";
export { ApplianceControl, ControlError, ControlErrorCode, RealmConfigError } from "./control.ts";
export type {
  AdminScope,
  ApplianceControlOptions,
  ChangeContext,
  ChildSaStatus,
  ConfigView,
  ControlErrorCodeName,
  ControlEvent,
  ControlTarget,
  IkeStatistics,
  PeerStatus,
  RealmChange,
  RealmEspStatistics,
  RealmSummary,
  VpnStatus,
} from "./control.ts";
