/**
 * The dispatcher: a pool of data-plane workers, the rule handlers that decide which worker
 * handles a packet, and the state they share with the main thread.
 *
 * @example
 * ```ts
 * import { DataPlanePool } from "./lib/dispatch/mod.ts";
 * const pool = DataPlanePool.open({ workers: 2, address: "0.0.0.0", natTPort: 4500,
 *   rawEsp: true, events });
 * ```
 */
export { CONTROL_TIMEOUT_MS, CRASH_TEST_ENV, DataPlanePool } from "./pool.ts";
export type {
  DataPlaneEvents,
  DataPlanePoolOptions,
  DataPlaneStatistics,
  PooledSaState,
  PoolRealm,
} from "./pool.ts";
export { WORKER_COUNTERS } from "./shared_state.ts";
export type { WorkerCounterName } from "./shared_state.ts";
export { DEFAULT_RULES } from "./rules.ts";
export type { DispatchRules } from "./rules.ts";
export type { WorkerSaParams } from "./messages.ts";
