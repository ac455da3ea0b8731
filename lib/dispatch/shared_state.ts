/**
 * State that the main thread and the data-plane workers share without messages, in
 * SharedArrayBuffers:
 *
 *   per SA     [u32 last sequence number, u32 spare][(workers + 1) × ESP_SA_COUNTERS f64]
 *   per realm  [(workers + 1) × (TUN_TO_PEER_COUNTERS + PEER_TO_TUN_COUNTERS) f64]
 *
 * Slice 0 of each counter block belongs to the main thread, slice i + 1 to worker i: every
 * writer adds to its own slice only, readers sum ({@link SummedCounters}). The sequence number
 * is claimed with a compare-and-swap by every thread that encrypts for the SA (see
 * `EspSa.nextSequence`), so numbers are unique across workers and never wrap.
 */
import {
  ESP_SA_COUNTERS,
  type EspSaCounterName,
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

/** A new shared block of {@link WORKER_COUNTERS} for `workers` workers (one slice each). */
export function createWorkerShared(workers: number): SharedArrayBuffer {
  return new SharedArrayBuffer(workers * WORKER_COUNTERS.length * F64);
}

function workerSlice(shared: SharedArrayBuffer, worker: number): Float64Array {
  const n = WORKER_COUNTERS.length;
  return new Float64Array(shared, worker * n * F64, n);
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
