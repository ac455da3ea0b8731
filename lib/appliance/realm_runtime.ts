/**
 * What runs per realm: its TUN device, its ESP SA database, the outbound loop's counters and
 * the inbound context.
 */
import type { PacketDevice } from "../net/mod.ts";
import {
  createInboundContext,
  createPeerToTunCounters,
  createTunToPeerCounters,
  type InboundContext,
  type PeerToTunCounterName,
  Sadb,
  type TunToPeerCounterName,
} from "../esp/mod.ts";
import type { Counters } from "../log/mod.ts";
import { Logger } from "../log/mod.ts";
import type { RealmPolicy } from "../ike/mod.ts";

export class RealmRuntime {
  readonly policy: RealmPolicy;
  readonly device: PacketDevice;
  /** Our inner address without prefix length (route `src`). */
  readonly innerAddress: string | undefined;
  readonly sadb: Sadb = new Sadb();
  readonly outboundCounters: Counters<TunToPeerCounterName> = createTunToPeerCounters();
  readonly inboundCounters: Counters<PeerToTunCounterName> = createPeerToTunCounters();
  readonly inbound: InboundContext;
  loop: Promise<void> | undefined;

  constructor(policy: RealmPolicy, device: PacketDevice, innerAddress: string | undefined) {
    this.policy = policy;
    this.device = device;
    this.innerAddress = innerAddress;
    this.inbound = createInboundContext(this.inboundCounters, new Logger("esp", policy.name));
  }
}
