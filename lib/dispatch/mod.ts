/**
 * The dispatcher: a pool of data-plane workers (ESP), the IKE thread's priority scheduler, the
 * rule handlers that decide which thread handles a packet and how urgently, and the state the
 * workers share with the main thread.
 *
 * @example
 * ```ts
 * import { DataPlanePool } from "./lib/dispatch/mod.ts";
 * const pool = DataPlanePool.open({ workers: 2, address: "0.0.0.0", natTPort: 4500,
 *   rawEsp: true, events });
 * ```
 */
export {
  CONTROL_TIMEOUT_MS,
  CRASH_TEST_ENV,
  DataPlanePool,
  DEFAULT_HANG_TIMEOUT_MS,
} from "./pool.ts";
export type {
  DataPlaneEvents,
  DataPlanePoolOptions,
  DataPlaneStatistics,
  PooledSaState,
  PoolRealm,
} from "./pool.ts";
export { UDP_OFFLOAD_COUNTERS, WORKER_COUNTERS } from "./shared_state.ts";
export type {
  OffloadStatisticName,
  UdpOffloadCounterName,
  WorkerCounterName,
} from "./shared_state.ts";
export { DEFAULT_IKE_RULES, DEFAULT_RULES } from "./rules.ts";
export type { DispatchRules, IkeClass, IkeRules } from "./rules.ts";
export { DEFAULT_IKE_SCHEDULER_LIMITS, IKE_QUEUE_COUNTERS, IkeScheduler } from "./ike_queue.ts";
export type {
  IkeDatagramHandler,
  IkeQueueCounterName,
  IkeQueueCounters,
  IkeSchedulerLimits,
  IkeSchedulerOptions,
} from "./ike_queue.ts";
export type { WorkerSaParams } from "./messages.ts";
