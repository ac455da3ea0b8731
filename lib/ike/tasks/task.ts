/**
 * The task contract (strongSwan's `task_t`): each piece of an exchange is a task that adds
 * payloads to an outgoing message (`build`) and consumes an incoming one (`process`). The role
 * is fixed at creation. Tasks never do I/O or set timers; the task manager does.
 *
 * Initiator: build(request) → process(response). Responder: process(request) → build(response).
 */
import type { AuthService } from "../../auth/mod.ts";
import type { CryptoProvider } from "../../crypto/mod.ts";
import type { Endpoint } from "../../net/mod.ts";
import type { IncomingMessage, OutgoingMessage } from "../message.ts";
import type { ChildSaRecord, IkeSa } from "../ike_sa.ts";
import type { RealmPolicy } from "../realm_policy.ts";
import type { EspSuite } from "../suites.ts";
import type { TrafficSelector } from "../payloads/mod.ts";
import type { AddressPools } from "../address_pool.ts";
import type { InternalAddress } from "../config_attributes.ts";

/**
 * done: finished; more: needs another exchange; failed: the IKE SA cannot continue;
 * restart: repeat this exchange from the start (INVALID_KE_PAYLOAD, COOKIE).
 */
export type TaskStatus = "done" | "more" | "failed" | "restart";

export interface Task {
  readonly name: string;
  build(message: OutgoingMessage): Promise<TaskStatus>;
  process(message: IncomingMessage): Promise<TaskStatus>;
}

/** Keys and parameters of a negotiated child SA, handed to the ESP layer once. */
export interface NegotiatedChildSa {
  realm: RealmPolicy;
  record: ChildSaRecord;
  suite: EspSuite;
  inbound: { encryptionKey: Uint8Array; integrityKey: Uint8Array };
  outbound: { encryptionKey: Uint8Array; integrityKey: Uint8Array };
  /** ESP-in-UDP endpoints when `record.udpEncapsulation`. */
  local: Endpoint;
  remote: Endpoint;
}

/** Where negotiated child SAs go: the appliance installs them into the ESP SA database. */
export interface ChildSaInstaller {
  install(sa: IkeSa, child: NegotiatedChildSa): Promise<void>;
  remove(sa: IkeSa, child: ChildSaRecord): Promise<void>;
  /** ESP packets received on the child's inbound SA so far (liveness without IKE traffic). */
  inboundPackets?(child: ChildSaRecord): number;
  /**
   * dpd_action="hold": keep routes for these selectors on the realm's device, so that traffic
   * reaches the data path and re-initiates.
   */
  holdRoutes?(realmId: number, remoteTs: readonly TrafficSelector[]): Promise<void>;
}

/**
 * Where inner addresses a peer assigned us (CFG_REPLY) go: the appliance puts them on the
 * realm's device. `install` runs before the IKE_AUTH child SA is installed, so its routes can
 * use the address as source.
 */
export interface VirtualIpInstaller {
  install(sa: IkeSa, addresses: readonly InternalAddress[]): Promise<void>;
  remove(sa: IkeSa, addresses: readonly InternalAddress[]): Promise<void>;
}

/** What tasks may use besides the IKE SA itself. */
export interface TaskServices {
  crypto: CryptoProvider;
  auth: AuthService;
  /** Current realm policies (replaced as a whole on a configuration change). */
  realms: readonly RealmPolicy[];
  childSas: ChildSaInstaller;
  /** Our addresses, to check the peer's NAT_DETECTION_DESTINATION_IP. */
  localAddresses(): readonly string[];
  /**
   * A fresh, unused inbound ESP SPI; `replaces`: the inbound SPI of the child SA the new one
   * rekeys (see IkeEngineOptions.spiAffinity).
   */
  allocateSpi(replaces?: number): number;
  /** Port for NAT-T (4500 unless a test says otherwise). */
  natTPort: number;
  /** Address pools of realms with a `<pool>` (their leases outlive configuration changes). */
  addressPools: AddressPools;
  /** Installs addresses a peer assigned us; absent where there is no device (unit tests). */
  virtualIps?: VirtualIpInstaller;
}
