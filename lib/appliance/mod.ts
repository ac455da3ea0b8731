/** The appliance: realms, sockets, IKE engine and ESP data path wired together. */
export { Appliance, AUTO_TUNNEL_MTU } from "./appliance.ts";
export type { ApplianceOptions } from "./appliance.ts";
export { EspInstaller } from "./esp_installer.ts";
export { RealmRuntime } from "./realm_runtime.ts";
