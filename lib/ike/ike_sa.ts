/**
 * The state of one IKE SA: identities, negotiated algorithms, keys, message IDs, NAT status
 * and its child SAs. Tasks read and write it; the task manager owns the message-ID state.
 */
import type { CryptoProvider, DhExchange } from "../crypto/mod.ts";
import type { Logger } from "../log/mod.ts";
import type { Endpoint } from "../net/mod.ts";
import { toHex } from "../wire/mod.ts";
import type { EncryptionInfo, IntegrityInfo, PrfInfo } from "./algorithms.ts";
import type { AddressLease } from "./address_pool.ts";
import type { InternalAddress } from "./config_attributes.ts";
import type { IkeSaKeys } from "./keys.ts";
import type { TrafficSelector } from "./payloads/types.ts";
import type { MessageProtection } from "./protection.ts";
import type { PeerPolicy, RealmPolicy } from "./realm_policy.ts";
import type { EspSuite, IkeSuite } from "./suites.ts";

export const IkeSaState = {
  /** Created, IKE_SA_INIT not yet complete. */
  Connecting: "CONNECTING",
  /** IKE_SA_INIT done, IKE_AUTH under way. */
  Authenticating: "AUTHENTICATING",
  Established: "ESTABLISHED",
  Deleting: "DELETING",
  Destroyed: "DESTROYED",
} as const;
export type IkeSaStateName = typeof IkeSaState[keyof typeof IkeSaState];

/** A negotiated child SA pair as the IKE SA remembers it (keys live only in the ESP SAs). */
export interface ChildSaRecord {
  /** Our inbound SPI (host order). */
  spiIn: number;
  /** The peer's inbound SPI = our outbound SPI. */
  spiOut: number;
  suite: EspSuite;
  localTs: TrafficSelector[];
  remoteTs: TrafficSelector[];
  udpEncapsulation: boolean;
  createdAt: number;
  /** Set once a rekey of this child is under way or done (no second rekey, no expiry rekey). */
  rekeying?: boolean;
  /**
   * The child this one replaces when the peer rekeyed it: our outbound SA takes over only once
   * the old pair is deleted, because until then the peer may not have our new inbound SA yet
   * (RFC 7296 §2.8, make-before-break on the responder side).
   */
  replaces?: ChildSaRecord;
}

/** Inner addresses of the configuration payloads (RFC 7296 §2.19, tasks/config_request.ts). */
export interface SaAddressing {
  /** Addresses our pool lent the peer (we answered its CFG_REQUEST). */
  readonly leases: AddressLease[];
  /** Addresses the peer assigned to us (our CFG_REQUEST), installed on the realm's TUN. */
  readonly assigned: InternalAddress[];
  /** No address could be agreed (INTERNAL_ADDRESS_FAILURE sent or received): no child SA. */
  failed: boolean;
}

let nextSerial = 1;

export class IkeSa {
  readonly serial: number;
  /** True when we were the original initiator (sets the I flag, picks SK_ei for sending). */
  readonly initiator: boolean;
  readonly crypto: CryptoProvider;
  readonly log: Logger;
  /** The untagged logger this SA's logger derives from. */
  readonly parentLog: Logger;
  readonly createdAt: number = Date.now();

  spiI: Uint8Array;
  spiR: Uint8Array;
  state: IkeSaStateName = IkeSaState.Connecting;

  /** Known from the start as initiator; chosen from IDi as responder. */
  realm: RealmPolicy | undefined;
  /** The configured peer we initiate toward or identified as. */
  peer: PeerPolicy | undefined;
  /** Our identity text and the peer's, once known. */
  localId: string | undefined;
  remoteId: string | undefined;

  local: Endpoint;
  remote: Endpoint;
  /** NAT between us (RFC 7296 §2.23): either flag means UDP encapsulation. */
  natLocal = false;
  natRemote = false;
  /** ESP goes in UDP (NAT seen, or forced). */
  udpEncapsulation = false;

  suite: IkeSuite | undefined;
  prf: PrfInfo | undefined;
  encryption: EncryptionInfo | undefined;
  integrity: IntegrityInfo | undefined;
  dh: DhExchange | undefined;
  nonceI: Uint8Array | undefined;
  nonceR: Uint8Array | undefined;
  keys: IkeSaKeys | undefined;
  protection: MessageProtection | undefined;
  /** Raw IKE_SA_INIT request and response: signed by AUTH (RFC 7296 §2.15). */
  initRequest: Uint8Array | undefined;
  initResponse: Uint8Array | undefined;
  /** An IKE SA rekey of this SA is under way. */
  rekeying = false;
  /** The SA that took over after a rekey; this one only waits for its deletion. */
  replacedBy: IkeSa | undefined;
  /** Hash ids of the peer's SIGNATURE_HASH_ALGORITHMS notify (RFC 7427), if it sent one. */
  peerHashAlgorithms: number[] | undefined;
  /** The peer sent INITIAL_CONTACT: older SAs between the same identities are stale. */
  initialContact = false;
  /**
   * Both ends sent IKEV2_FRAGMENTATION_SUPPORTED in IKE_SA_INIT (RFC 7383 §2.3): large
   * protected messages may go in SKF fragments. A rekeyed SA inherits it.
   */
  fragmentation = false;
  /** Cookie returned by the responder, to repeat in the next IKE_SA_INIT (RFC 7296 §2.6). */
  cookie: Uint8Array | undefined;

  readonly children: ChildSaRecord[] = [];
  /** Children replaced by a rekey we initiated, to be deleted in an INFORMATIONAL exchange. */
  readonly staleChildren: ChildSaRecord[] = [];
  /** Inner addresses lent to the peer or received from it (moves to the SA of an IKE rekey). */
  readonly addressing: SaAddressing = { leases: [], assigned: [], failed: false };
  /** When an authenticated IKE message last arrived (liveness, RFC 7296 §2.4). */
  lastInbound: number = Date.now();

  constructor(options: {
    initiator: boolean;
    crypto: CryptoProvider;
    log: Logger;
    spiI: Uint8Array;
    spiR: Uint8Array;
    local: Endpoint;
    remote: Endpoint;
  }) {
    this.serial = nextSerial++;
    this.initiator = options.initiator;
    this.crypto = options.crypto;
    this.log = options.log.with(`#${this.serial}`);
    this.parentLog = options.log;
    this.spiI = options.spiI;
    this.spiR = options.spiR;
    this.local = options.local;
    this.remote = options.remote;
  }

  /** Our own SPI: the table key. */
  get localSpi(): Uint8Array {
    return this.initiator ? this.spiI : this.spiR;
  }

  /** "spiI_spiR" for logs. */
  get spiText(): string {
    return `${toHex(this.spiI)}_${toHex(this.spiR)}`;
  }

  /** Frees crypto contexts and key material. */
  destroy(): void {
    this.state = IkeSaState.Destroyed;
    this.protection?.dispose();
    this.protection = undefined;
    if (this.keys) { for (const k of Object.values(this.keys)) k.fill(0); }
    this.keys = undefined;
    this.dh = undefined;
  }
}
