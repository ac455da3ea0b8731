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
  readonly outboundCounters: Counters<TunToPeerCounterName>;
  readonly inboundCounters: Counters<PeerToTunCounterName>;
  readonly inbound: InboundContext;
  loop: Promise<void> | undefined;
  /**
   * With data-plane workers: the further queues of the realm's multi-queue TUN device (queue 0
   * is `device`); the workers read them, the main thread never does.
   */
  extraQueues: PacketDevice[] = [];
  /** With data-plane workers: the SharedArrayBuffer behind the counters. */
  sharedCounters: SharedArrayBuffer | undefined;

  /**
   * `counters` replaces the private counter groups, e.g. by views summed over the data-plane
   * workers' shared slices.
   */
  constructor(
    policy: RealmPolicy,
    device: PacketDevice,
    innerAddress: string | undefined,
    counters?: {
      outbound: Counters<TunToPeerCounterName>;
      inbound: Counters<PeerToTunCounterName>;
    },
  ) {
    this.policy = policy;
    this.device = device;
    this.innerAddress = innerAddress;
    this.outboundCounters = counters?.outbound ?? createTunToPeerCounters();
    this.inboundCounters = counters?.inbound ?? createPeerToTunCounters();
    this.inbound = createInboundContext(this.inboundCounters, new Logger("esp", policy.name));
  }
}
