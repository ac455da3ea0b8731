/**
 * State that the main thread and the data-plane workers share without messages, in
 * SharedArrayBuffers:
 *
 *   per SA     [u32 last sequence number, u32 spare][(workers + 1) × ESP_SA_COUNTERS f64]
 *   per realm  [(workers + 1) × (TUN_TO_PEER_COUNTERS + PEER_TO_TUN_COUNTERS) f64]
 *   pool       [workers × (WORKER_COUNTERS + GSO_SPLIT_COUNTERS + GRO_COALESCE_COUNTERS
 *               + UDP_OFFLOAD_COUNTERS) f64]
 *   per worker start  [i32 beats, i32 phase, i32 retired] (WorkerProgress, the watchdog's)
 *
 * Slice 0 of each SA and realm block belongs to the main thread, slice i + 1 to worker i (in the
 * pool block slice i): every writer adds to its own slice only, readers sum
 * ({@link SummedCounters}). The sequence number is claimed with a compare-and-swap by every
 * thread that encrypts for the SA (see `EspSa.nextSequence`), so numbers are unique across
 * workers and never wrap.
 */
import {
  ESP_SA_COUNTERS,
  type EspSaCounterName,
  GRO_COALESCE_COUNTERS,
  type GroCoalesceCounterName,
  GSO_SPLIT_COUNTERS,
  type GsoSplitCounterName,
  PEER_TO_TUN_COUNTERS,
  type PeerToTunCounterName,
  type SequenceSlot,
  TUN_TO_PEER_COUNTERS,
  type TunToPeerCounterName,
} from "../esp/mod.ts";
import { Counters, SummedCounters } from "../log/mod.ts";

const F64 = 8;
const SEQUENCE_BYTES = 8;

/** A new shared block for one SA used by `workers` workers. */
export function createSaShared(workers: number): SharedArrayBuffer {
  return new SharedArrayBuffer(SEQUENCE_BYTES + (workers + 1) * ESP_SA_COUNTERS.length * F64);
}

/** The SA's shared sequence number slot. */
export function sequenceSlotOf(shared: SharedArrayBuffer): SequenceSlot {
  return { words: new Uint32Array(shared, 0, 2), index: 0 };
}

function saSlice(shared: SharedArrayBuffer, slice: number): Float64Array {
  const n = ESP_SA_COUNTERS.length;
  return new Float64Array(shared, SEQUENCE_BYTES + slice * n * F64, n);
}

/** The counters worker `worker` writes for the SA. */
export function workerSaCounters(
  shared: SharedArrayBuffer,
  worker: number,
): Counters<EspSaCounterName> {
  return new Counters(ESP_SA_COUNTERS, saSlice(shared, worker + 1));
}

/** The main thread's view: the sum over all slices. */
export function summedSaCounters(
  shared: SharedArrayBuffer,
  workers: number,
): SummedCounters<EspSaCounterName> {
  const slices = [];
  for (let i = 0; i <= workers; i++) slices.push(saSlice(shared, i));
  return new SummedCounters(ESP_SA_COUNTERS, slices);
}

const REALM_SLICE = TUN_TO_PEER_COUNTERS.length + PEER_TO_TUN_COUNTERS.length;

/** A new shared block for one realm's data-path counters. */
export function createRealmShared(workers: number): SharedArrayBuffer {
  return new SharedArrayBuffer((workers + 1) * REALM_SLICE * F64);
}

/** Outbound and inbound path counters of one slice (0 = main, i + 1 = worker i). */
function realmSlices(shared: SharedArrayBuffer, slice: number): [Float64Array, Float64Array] {
  const base = slice * REALM_SLICE * F64;
  return [
    new Float64Array(shared, base, TUN_TO_PEER_COUNTERS.length),
    new Float64Array(shared, base + TUN_TO_PEER_COUNTERS.length * F64, PEER_TO_TUN_COUNTERS.length),
  ];
}

/** The realm counters worker `worker` writes. */
export function workerRealmCounters(shared: SharedArrayBuffer, worker: number): {
  outbound: Counters<TunToPeerCounterName>;
  inbound: Counters<PeerToTunCounterName>;
} {
  const [out, inb] = realmSlices(shared, worker + 1);
  return {
    outbound: new Counters(TUN_TO_PEER_COUNTERS, out),
    inbound: new Counters(PEER_TO_TUN_COUNTERS, inb),
  };
}

/** The main thread's summed view of a realm's counters. */
export function summedRealmCounters(shared: SharedArrayBuffer, workers: number): {
  outbound: SummedCounters<TunToPeerCounterName>;
  inbound: SummedCounters<PeerToTunCounterName>;
} {
  const outs: Float64Array[] = [];
  const ins: Float64Array[] = [];
  for (let i = 0; i <= workers; i++) {
    const [out, inb] = realmSlices(shared, i);
    outs.push(out);
    ins.push(inb);
  }
  return {
    outbound: new SummedCounters(TUN_TO_PEER_COUNTERS, outs),
    inbound: new SummedCounters(PEER_TO_TUN_COUNTERS, ins),
  };
}

/**
 * Drops a worker counts before a packet belongs to a realm or SA: ESP whose SPI no SA of the
 * worker has, raw ESP packets too short or cut off, datagrams on the NAT-T port that are
 * neither ESP, IKE nor a keepalive.
 */
export const WORKER_COUNTERS = ["dropUnknownSpi", "dropMalformed", "dropInvalid"] as const;
export type WorkerCounterName = typeof WORKER_COUNTERS[number];

/**
 * UDP offload counters of a worker's NAT-T socket (its BatchSocket's, published by the worker):
 * UDP GSO messages sent and the datagrams they carried, sends the kernel refused (the socket
 * then sends datagram by datagram), UDP GRO buffers received and the datagrams in them, and
 * realms whose UDP GRO the kernel refused.
 */
export const UDP_OFFLOAD_COUNTERS = [
  "udpGsoMessages",
  "udpGsoDatagrams",
  "udpGsoRefused",
  "udpGroBuffers",
  "udpGroDatagrams",
  "udpGroRefused",
] as const;
export type UdpOffloadCounterName = typeof UDP_OFFLOAD_COUNTERS[number];

/** The counter groups of a worker's slice of the pool block, in order. */
const WORKER_GROUPS = [
  WORKER_COUNTERS,
  GSO_SPLIT_COUNTERS,
  GRO_COALESCE_COUNTERS,
  UDP_OFFLOAD_COUNTERS,
] as const;
const WORKER_SLICE = WORKER_GROUPS.reduce((n, group) => n + group.length, 0);

/** A new shared block of a pool's worker counters for `workers` workers (one slice each). */
export function createWorkerShared(workers: number): SharedArrayBuffer {
  return new SharedArrayBuffer(workers * WORKER_SLICE * F64);
}

/** Group `group` (an index into WORKER_GROUPS) of worker `worker`'s slice. */
function workerSlice(shared: SharedArrayBuffer, worker: number, group = 0): Float64Array {
  let at = worker * WORKER_SLICE;
  for (let g = 0; g < group; g++) at += WORKER_GROUPS[g]!.length;
  return new Float64Array(shared, at * F64, WORKER_GROUPS[group]!.length);
}

/** The counters worker `worker` writes; they outlive the worker (a restart continues them). */
export function workerCounters(
  shared: SharedArrayBuffer,
  worker: number,
): Counters<WorkerCounterName> {
  return new Counters(WORKER_COUNTERS, workerSlice(shared, worker));
}

/** The main thread's view: the sum over the workers. */
export function summedWorkerCounters(
  shared: SharedArrayBuffer,
  workers: number,
): SummedCounters<WorkerCounterName> {
  const slices = [];
  for (let i = 0; i < workers; i++) slices.push(workerSlice(shared, i));
  return new SummedCounters(WORKER_COUNTERS, slices);
}

/** A worker's offload counters: TUN GSO split, TUN GRO coalesce and its UDP socket's. */
export interface OffloadCounters {
  split: Counters<GsoSplitCounterName>;
  coalesce: Counters<GroCoalesceCounterName>;
  udp: Counters<UdpOffloadCounterName>;
}

/**
 * The offload counters worker `worker` writes (every GsoSplitter and GroCoalescer of its realms
 * adds to the same ones); like {@link workerCounters} they outlive the worker.
 */
export function workerOffloadCounters(shared: SharedArrayBuffer, worker: number): OffloadCounters {
  return {
    split: new Counters(GSO_SPLIT_COUNTERS, workerSlice(shared, worker, 1)),
    coalesce: new Counters(GRO_COALESCE_COUNTERS, workerSlice(shared, worker, 2)),
    udp: new Counters(UDP_OFFLOAD_COUNTERS, workerSlice(shared, worker, 3)),
  };
}

/** The main thread's view of the offload counters: the sums over the workers. */
export function summedOffloadCounters(
  shared: SharedArrayBuffer,
  workers: number,
): OffloadCounters {
  const sum = <Name extends string>(names: readonly Name[], group: number) => {
    const slices = [];
    for (let i = 0; i < workers; i++) slices.push(workerSlice(shared, i, group));
    return new SummedCounters(names, slices);
  };
  return {
    split: sum(GSO_SPLIT_COUNTERS, 1),
    coalesce: sum(GRO_COALESCE_COUNTERS, 2),
    udp: sum(UDP_OFFLOAD_COUNTERS, 3),
  };
}

/** A status name of an offload counter: the split's prefixed `gso`, the coalescer's `gro`. */
export type OffloadStatisticName =
  | `gso${Capitalize<GsoSplitCounterName>}`
  | `gro${Capitalize<GroCoalesceCounterName>}`
  | UdpOffloadCounterName;

/**
 * The offload counters under their status names (`superPackets` of the split is
 * `gsoSuperPackets`, `dropNoRoom` of the coalescer `groDropNoRoom`).
 */
export function offloadStatistics(counters: OffloadCounters): Record<OffloadStatisticName, number> {
  const out = {} as Record<string, number>;
  const prefixed = (prefix: string, snapshot: Record<string, number>) => {
    for (const [name, value] of Object.entries(snapshot)) {
      out[prefix + name[0]!.toUpperCase() + name.slice(1)] = value;
    }
  };
  prefixed("gso", counters.split.snapshot());
  prefixed("gro", counters.coalesce.snapshot());
  Object.assign(out, counters.udp.snapshot());
  return out as Record<OffloadStatisticName, number>;
}

/** What a worker is doing, as its {@link WorkerProgress} says. */
export const WorkerPhase = {
  /** Running a round, applying control or yielding to its event loop. */
  Busy: 0,
  /** Blocked in `poll` with a timeout (it beats again when the timeout ends at the latest). */
  Polling: 1,
} as const;
export type WorkerPhase = typeof WorkerPhase[keyof typeof WorkerPhase];

const BEATS = 0;
const PHASE = 1;
const RETIRED = 2;

/**
 * The heartbeat of one started worker, for the pool's watchdog: the worker adds a beat per loop
 * iteration and marks the blocking poll; the pool reads both without messages. A new block per
 * start: retiring one (the pool gave up on a hung worker) tells that thread, should it ever run
 * again, to stop at its next iteration without touching the replacement's state.
 *
 * @example
 * ```ts
 * const progress = new WorkerProgress(); // main thread; progress.shared goes to the worker
 * const mine = new WorkerProgress(progress.shared); // in the worker
 * mine.beat();
 * progress.beats; // 1
 * ```
 */
export class WorkerProgress {
  readonly shared: SharedArrayBuffer;
  readonly #words: Int32Array;

  constructor(shared: SharedArrayBuffer = new SharedArrayBuffer(3 * 4)) {
    this.shared = shared;
    this.#words = new Int32Array(shared, 0, 3);
  }

  /** Loop iterations so far (wraps at 2^31, which only equality checks see). */
  get beats(): number {
    return Atomics.load(this.#words, BEATS);
  }

  get phase(): WorkerPhase {
    return Atomics.load(this.#words, PHASE) as WorkerPhase;
  }

  /** True once the pool gave up on this start of the worker. */
  get retired(): boolean {
    return Atomics.load(this.#words, RETIRED) !== 0;
  }

  beat(): void {
    Atomics.add(this.#words, BEATS, 1);
  }

  setPhase(phase: WorkerPhase): void {
    Atomics.store(this.#words, PHASE, phase);
  }

  /** The pool's side: this start is over (wakes {@link waitUntilRetired}). */
  retire(): void {
    Atomics.store(this.#words, RETIRED, 1);
    Atomics.notify(this.#words, RETIRED);
  }

  /** Blocks the calling thread until {@link retire} (the debug hang, `hangForTest`). */
  waitUntilRetired(): void {
    while (Atomics.load(this.#words, RETIRED) === 0) Atomics.wait(this.#words, RETIRED, 0);
  }
}
