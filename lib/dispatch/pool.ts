/**
 * The data-plane worker pool on the main thread. The main thread opens every descriptor (as
 * root, before any privilege drop) and hands their numbers to the workers, one of each per
 * worker: a queue of each realm's multi-queue TUN device, a member of the UDP SO_REUSEPORT group
 * on the NAT-T port, and (when ESP may run raw) a raw ESP socket. Kernel programs built from the
 * {@link DispatchRules} steer inbound ESP to the worker that owns its SPI; IKE and keepalives on
 * the NAT-T port go to worker 0, which hands them to the main thread. The main thread sends IKE
 * on that port itself (`sendto` on worker 0's socket) and never reads a TUN queue.
 *
 * SA installation, removal and path changes are control messages (see messages.ts); counters
 * and sequence numbers are shared memory (shared_state.ts).
 *
 * A worker that crashes (an uncaught exception, an `error` event, a `fatal` report) is
 * restarted with the back-off of the secure process (RestartPolicy: 250 ms doubling), on the
 * same descriptors, from the pool's record of what is installed: its realms, the inbound SAs it
 * owns and every outbound SA. Control posted while it is down only updates the record; the
 * rebuild applies it. Shared memory outlives the worker: sequence numbers continue (never
 * repeat), counters keep counting, and each inbound SA's replay window resumes from the highest
 * sequence number the dead worker published (ReplayWindow), so no packet it accepted can be
 * replayed. More than `maxRestarts` crashes of one worker in `windowMs` and it stays down: the
 * appliance keeps running (IKE on port 500 and the other workers), its traffic is dropped, and
 * status shows `workers_failed`.
 *
 * A worker that hangs (its thread alive, its loop making no progress: an endless loop, a
 * blocking call) is a crash too. Each worker beats a heartbeat in shared memory once per loop
 * iteration (WorkerProgress; a worker idle in `poll` wakes every POLL_TIMEOUT_MS); a watchdog
 * timer terminates one whose heartbeat stood still for `hangTimeoutMs` (plus POLL_TIMEOUT_MS
 * while it sits in `poll`) and restarts it as above. The hung thread's heartbeat block is
 * retired: should it ever run again, it stops at its next iteration.
 */
import { type RestartLimits, RestartPolicy } from "../auth/mod.ts";
import type { EspSa, SequenceSlot, UdpEncapsulation } from "../esp/mod.ts";
import { type Counters, getLogLevel, Logger, type SummedCounters } from "../log/mod.ts";
import type { EspSaCounterName, PeerToTunCounterName, TunToPeerCounterName } from "../esp/mod.ts";
import {
  attachReuseportProgram,
  attachSocketFilter,
  type BatchSocket,
  type DatagramSocket,
  type Endpoint,
  openBatchRawEspSocket,
  openBatchUdpSocket,
  type ReceivedDatagram,
  sockaddrOf,
} from "../net/mod.ts";
import { EventFdFlag, lastErrno, libc, SysError } from "../sys/mod.ts";
import type { ControlMessage, WorkerMessage, WorkerRealm, WorkerSaParams } from "./messages.ts";
import { DEFAULT_RULES, type DispatchRules } from "./rules.ts";
import {
  createRealmShared,
  createSaShared,
  createWorkerShared,
  type OffloadCounters,
  type OffloadStatisticName,
  offloadStatistics,
  sequenceSlotOf,
  summedOffloadCounters,
  summedRealmCounters,
  summedSaCounters,
  summedWorkerCounters,
  type WorkerCounterName,
  WorkerPhase,
  WorkerProgress,
  workerRealmCounters,
} from "./shared_state.ts";
import { POLL_TIMEOUT_MS } from "./worker.ts";

/** How long the main thread waits for a worker to acknowledge control. */
export const CONTROL_TIMEOUT_MS = 5_000;
/** Socket buffer size asked for each socket (the kernel caps it at net.core.*mem_max). */
const UDP_BUFFER_BYTES = 4 * 1024 * 1024;
/**
 * Debug only: a positive number N makes every data-plane worker started with the appliance
 * crash once it has handled N packets (TUN reads and ESP received; restarted workers are not
 * armed): the pool watches the shared counters and sends `crashForTest`. Read once when the
 * pool opens, logged as a warning; a long, explicit name so that nobody sets it by accident.
 * The netns restart test uses it.
 */
export const CRASH_TEST_ENV = "ROCKHOPPER_DEBUG_CRASH_DATA_PLANE_WORKERS_AFTER_PACKETS";
/** How often an armed {@link CRASH_TEST_ENV} looks at the workers' counters. */
const CRASH_WATCH_MS = 20;
/** How long a worker's heartbeat may stand still before the watchdog restarts it (default). */
export const DEFAULT_HANG_TIMEOUT_MS = 5_000;
/** Shortest `hangTimeoutMs` accepted (a loop iteration must fit with room to spare). */
const MIN_HANG_TIMEOUT_MS = 100;
/** Longest interval between two looks of the watchdog. */
const WATCHDOG_INTERVAL_MS = 1_000;

/** What the pool reports to the appliance. */
export interface DataPlaneEvents {
  /** An IKE message on the NAT-T port (non-ESP marker stripped). */
  onIke(message: Uint8Array, from: Endpoint): void;
  /** A NAT keepalive arrived. */
  onKeepalive(): void;
  /** Authenticated ESP for inbound SA `spi` came from a new address (NAT mapping change). */
  onRemote(spi: number, from: Endpoint): void;
  /** Traffic for a realm without an outbound SA (acquire). */
  onNoRoute(realm: number): void;
}

/** Options of {@link DataPlanePool.open}. */
export interface DataPlanePoolOptions {
  /** Number of workers, 1..64. */
  workers: number;
  /** IPv4 listening address ("0.0.0.0" for all). */
  address: string;
  /** The NAT-T port (4500). */
  natTPort: number;
  /** Open raw ESP sockets (IP protocol 50); a failure throws. */
  rawEsp: boolean;
  events: DataPlaneEvents;
  rules?: DispatchRules;
  /** Restart back-off and bound of crashed workers; default the secure process's. */
  restartLimits?: Partial<RestartLimits>;
  /**
   * A running worker whose loop made no progress for this long (in `poll`: this plus
   * POLL_TIMEOUT_MS) is hung: terminated and restarted as after a crash. Default
   * {@link DEFAULT_HANG_TIMEOUT_MS}, at least 100.
   */
  hangTimeoutMs?: number;
}

/** The pool's own counters and its workers' drops, for status output. */
export type DataPlaneStatistics =
  & {
    workers: number;
    /** Workers running now (the others are being restarted, or failed). */
    workersRunning: number;
    /** Workers that crashed (or hung) more often than the bound allows and stay down. */
    workersFailed: number;
    workerCrashes: number;
    /** Hangs the watchdog found (each terminated and restarted like a crash). */
    workerHangs: number;
    workerRestarts: number;
  }
  & Record<WorkerCounterName, number>
  & Record<OffloadStatisticName, number>;

/** Shared state of one SA, for the main thread's EspSa and the workers' copies. */
export interface PooledSaState {
  shared: SharedArrayBuffer;
  sequence: SequenceSlot;
  counters: Counters<EspSaCounterName>;
}

interface WorkerHandle {
  index: number;
  worker: Worker | undefined;
  /**
   * Control reaches the worker. False while it is down or starting again: control then only
   * updates the pool's record, which the restart replays.
   */
  up: boolean;
  startedAt: number;
  /** Crash times inside the restart window (the bound). */
  crashes: number[];
  policy: RestartPolicy;
  restartTimer: ReturnType<typeof setTimeout> | undefined;
  failed: boolean;
  /** The heartbeat of the worker's current start (a new one per start). */
  progress: WorkerProgress | undefined;
  /** The heartbeat the watchdog saw last, and when it last moved. */
  lastBeats: number;
  lastProgressAt: number;
  udp: BatchSocket;
  raw: BatchSocket | null;
  wakeFd: number;
  control: Int32Array;
  seq: number;
  pending: Map<number, { resolve: () => void; reject: (e: Error) => void }>;
}

const WAKE = new Uint8Array([1, 0, 0, 0, 0, 0, 0, 0]);

/** An SA as the pool recorded it, to install it again in a restarted worker. */
interface RecordedSa {
  realm: number;
  sa: WorkerSaParams;
  prefixes: string[];
  /** Outbound: carries traffic (else it waits for `activateOutbound`). */
  active: boolean;
}

/** The debug crash count of {@link CRASH_TEST_ENV}; 0 when unset or not readable. */
function crashAfterFromEnv(log: Logger): number {
  let text: string | undefined;
  try {
    if (Deno.permissions.querySync({ name: "env", variable: CRASH_TEST_ENV }).state !== "granted") {
      return 0;
    }
    text = Deno.env.get(CRASH_TEST_ENV);
  } catch {
    return 0;
  }
  if (text === undefined || text === "") return 0;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) {
    log.warn(`${CRASH_TEST_ENV}=${text} is not a positive number of packets: ignored`);
    return 0;
  }
  log.warn(
    `${CRASH_TEST_ENV}=${n}: every data-plane worker will crash once after ${n} packets (debug only)`,
  );
  return n;
}

function wipe(sa: WorkerSaParams): void {
  sa.encryptionKey.fill(0);
  sa.integrityKey.fill(0);
}

/**
 * The pool. Open it with {@link DataPlanePool.open} (sockets), add realms' TUN queues, then
 * {@link start} the workers.
 *
 * @example
 * ```ts
 * const pool = DataPlanePool.open({ workers: 2, address: "0.0.0.0", natTPort: 4500,
 *   rawEsp: true, events });
 * await pool.start([{ id: 1, name: "rhp1", mtu: 1400, queues: [q0, q1] }]);
 * ```
 */
export class DataPlanePool {
  readonly workers: number;
  readonly rules: DispatchRules;
  readonly log: Logger = new Logger("dispatch");
  readonly #handles: WorkerHandle[];
  readonly #events: DataPlaneEvents;
  readonly #natT: PoolNatTSocket;
  readonly #workerShared: SharedArrayBuffer;
  readonly #workerCounters: SummedCounters<WorkerCounterName>;
  readonly #offloadCounters: OffloadCounters;
  readonly #crashAfterPackets: number;
  readonly #hangTimeoutMs: number;
  /** What is installed, by the pool's record (the source of a restarted worker's state). */
  readonly #realms = new Map<number, PoolRealm>();
  readonly #inboundSas = new Map<number, RecordedSa>();
  readonly #outboundSas = new Map<number, RecordedSa>();
  #crashWatch: ReturnType<typeof setInterval> | undefined;
  #watchdog: ReturnType<typeof setInterval> | undefined;
  #crashCount = 0;
  #hangCount = 0;
  #restartCount = 0;
  #started = false;
  #stopped = false;

  private constructor(
    workers: number,
    handles: WorkerHandle[],
    events: DataPlaneEvents,
    rules: DispatchRules,
    local: Endpoint,
    hangTimeoutMs: number,
  ) {
    this.workers = workers;
    this.#handles = handles;
    this.#events = events;
    this.rules = rules;
    this.#natT = new PoolNatTSocket(handles[0]!.udp, local);
    this.#workerShared = createWorkerShared(workers);
    this.#workerCounters = summedWorkerCounters(this.#workerShared, workers);
    this.#offloadCounters = summedOffloadCounters(this.#workerShared, workers);
    this.#crashAfterPackets = crashAfterFromEnv(this.log);
    this.#hangTimeoutMs = hangTimeoutMs;
  }

  /**
   * Opens the UDP group (with its reuseport program), the raw ESP sockets (with their filters)
   * and one wake-up eventfd per worker. Throws {@link SysError} (port in use, no CAP_NET_RAW)
   * or `RangeError` (not IPv4), having closed what it opened.
   */
  static open(options: DataPlanePoolOptions): DataPlanePool {
    const n = options.workers;
    if (!Number.isInteger(n) || n < 1 || n > 64) {
      throw new RangeError(`Cannot start the data plane: ${n} workers is not in 1..64`);
    }
    const hangTimeoutMs = options.hangTimeoutMs ?? DEFAULT_HANG_TIMEOUT_MS;
    if (!(hangTimeoutMs >= MIN_HANG_TIMEOUT_MS) || !Number.isFinite(hangTimeoutMs)) {
      throw new RangeError(
        `Cannot start the data plane: a hang timeout of ${hangTimeoutMs} ms is not ${MIN_HANG_TIMEOUT_MS} ms or more`,
      );
    }
    const rules = options.rules ?? DEFAULT_RULES;
    const c = libc();
    const handles: WorkerHandle[] = [];
    const opened: number[] = [];
    try {
      for (let i = 0; i < n; i++) {
        const udp = openBatchUdpSocket({
          address: options.address,
          port: options.natTPort,
          reusePort: true,
          bufferBytes: UDP_BUFFER_BYTES,
        });
        opened.push(udp.fd);
        let raw: BatchSocket | null = null;
        if (options.rawEsp) {
          raw = openBatchRawEspSocket(options.address, UDP_BUFFER_BYTES);
          opened.push(raw.fd);
          attachSocketFilter(raw.fd, rules.rawEspProgram(n, i));
          // Packets queued before the filter was attached belong to any worker: drop them.
          const scratch = new Uint8Array(65535);
          while (c.read(raw.fd, scratch, 65535n) >= 0) continue;
        }
        const wakeFd = c.eventfd(0, EventFdFlag.EFD_NONBLOCK | EventFdFlag.EFD_CLOEXEC);
        if (wakeFd < 0) throw new SysError("eventfd", lastErrno(), "create a worker's eventfd");
        opened.push(wakeFd);
        handles.push({
          index: i,
          worker: undefined,
          up: false,
          startedAt: 0,
          crashes: [],
          policy: new RestartPolicy(options.restartLimits),
          restartTimer: undefined,
          failed: false,
          progress: undefined,
          lastBeats: 0,
          lastProgressAt: 0,
          udp,
          raw,
          wakeFd,
          control: new Int32Array(new SharedArrayBuffer(8)),
          seq: 0,
          pending: new Map(),
        });
      }
      attachReuseportProgram(handles[0]!.udp.fd, rules.udpProgram(n));
    } catch (e) {
      for (const fd of opened) c.close(fd);
      throw e;
    }
    return new DataPlanePool(n, handles, options.events, rules, {
      address: options.address,
      port: options.natTPort,
    }, hangTimeoutMs);
  }

  /** True when the workers run raw ESP sockets. */
  get rawEsp(): boolean {
    return this.#handles[0]!.raw !== null;
  }

  /** Sending side of the NAT-T port for the main thread (IKE, keepalives); never receives. */
  get natTSocket(): DatagramSocket {
    return this.#natT;
  }

  /** New shared counters of a realm; pass the SAB to {@link start} or {@link addRealm}. */
  createRealmCounters(): {
    shared: SharedArrayBuffer;
    outbound: SummedCounters<TunToPeerCounterName>;
    inbound: SummedCounters<PeerToTunCounterName>;
  } {
    const shared = createRealmShared(this.workers);
    return { shared, ...summedRealmCounters(shared, this.workers) };
  }

  /** Shared sequence number and counters for a new SA. */
  createSaState(): PooledSaState {
    const shared = createSaShared(this.workers);
    return {
      shared,
      sequence: sequenceSlotOf(shared),
      counters: summedSaCounters(shared, this.workers),
    };
  }

  /** Spawns the workers with the realms open so far; resolves when all are ready. */
  async start(realms: readonly PoolRealm[]): Promise<void> {
    if (this.#started) throw new RangeError("Cannot start the data plane: already started");
    this.#started = true;
    for (const realm of realms) this.#realms.set(realm.id, realm);
    await Promise.all(
      this.#handles.map(async (handle) => {
        await this.#spawn(handle, realms);
        handle.up = true;
      }),
    );
    if (this.#crashAfterPackets > 0) this.#armCrashes(this.#crashAfterPackets);
    this.#watchdog = setInterval(
      () => this.#checkProgress(),
      Math.min(WATCHDOG_INTERVAL_MS, Math.floor(this.#hangTimeoutMs / 4)),
    );
    Deno.unrefTimer(this.#watchdog);
    this.log.info(
      `data plane: ${this.workers} worker(s), UDP ${this.#natT.local.port} in a SO_REUSEPORT group${
        this.rawEsp ? ", raw ESP sockets" : ""
      }, inbound ESP by SPI % ${this.workers}`,
    );
  }

  /**
   * Starts a worker on the handle's descriptors with `realms`; resolves when it is ready.
   * Rejects (worker terminated) when it fails before; a crash after is {@link #onCrash}.
   */
  #spawn(handle: WorkerHandle, realms: readonly PoolRealm[]): Promise<void> {
    const index = handle.index;
    const worker = new Worker(new URL("./worker_entry.ts", import.meta.url), {
      type: "module",
      name: `data-plane-${index}`,
    });
    handle.worker = worker;
    handle.startedAt = Date.now();
    const progress = new WorkerProgress();
    handle.progress = progress;
    // A new worker has applied nothing: the control word starts again.
    Atomics.store(handle.control, 0, 0);
    let ready = false;
    const started = new Promise<void>((resolve, reject) => {
      const failed = (reason: string) => {
        if (handle.worker !== worker) return;
        if (ready) {
          this.#onCrash(handle, worker, reason);
          return;
        }
        handle.worker = undefined;
        worker.terminate();
        progress.retire();
        reject(startError(index, reason));
      };
      worker.onmessage = (event: MessageEvent<WorkerMessage>) => {
        if (handle.worker !== worker) return;
        const message = event.data;
        if (message.type === "ready") {
          ready = true;
          handle.lastBeats = progress.beats;
          handle.lastProgressAt = Date.now();
          resolve();
        } else if (message.type === "fatal") failed(message.message);
        else this.#onMessage(handle, message);
      };
      worker.onerror = (event) => {
        event.preventDefault();
        failed(event.message);
      };
    });
    const init: ControlMessage = {
      type: "init",
      index,
      workers: this.workers,
      udpFd: handle.udp.fd,
      rawFd: handle.raw?.fd ?? -1,
      wakeFd: handle.wakeFd,
      control: handle.control.buffer as SharedArrayBuffer,
      realms: realms.map((r) => this.#workerRealm(r, index)),
      logLevel: getLogLevel(),
      counters: this.#workerShared,
      progress: progress.shared,
    };
    worker.postMessage(init);
    return started;
  }

  /**
   * A running worker crashed or hung: terminate it, settle its pending control (the record
   * holds what it carried) and restart it after the back-off, or leave it down past the bound.
   * Hangs and crashes share the back-off and the bound.
   */
  #onCrash(
    handle: WorkerHandle,
    worker: Worker | undefined,
    reason: string,
    kind: "crashed" | "hung" = "crashed",
  ): void {
    if (worker !== undefined && handle.worker !== worker) return; // already handled
    handle.worker = undefined;
    handle.up = false;
    worker?.terminate();
    // Deno cannot stop a thread stuck in JavaScript: retired, it stops should it ever go on.
    handle.progress?.retire();
    for (const pending of handle.pending.values()) pending.resolve();
    handle.pending.clear();
    if (kind === "hung") this.#hangCount++;
    else this.#crashCount++;
    if (this.#stopped) return;
    const index = handle.index;
    const now = Date.now();
    const limits = handle.policy.limits;
    handle.crashes = handle.crashes.filter((t) => t > now - limits.windowMs);
    handle.crashes.push(now);
    const window = `${limits.windowMs / 1000} s`;
    if (handle.crashes.length > limits.maxRestarts) {
      handle.failed = true;
      this.log.error(
        `data-plane worker ${index} ${
          kind === "hung" ? "crashed or hung" : "crashed"
        } ${handle.crashes.length} times in ${window} (${kind}: ${reason}): not restarting it; the data plane is degraded (ESP to inbound SAs with SPI % ${this.workers} = ${index}, its TUN queues${
          index === 0 ? " and IKE on the NAT-T port" : ""
        } are dropped) until the appliance restarts`,
      );
      return;
    }
    const { delayMs } = handle.policy.next(now, now - handle.startedAt);
    this.log.warn(
      `data-plane worker ${index} ${kind}: ${reason}; restarting it in ${delayMs} ms (${
        kind === "hung" ? "crash or hang" : "crash"
      } ${handle.crashes.length} in ${window}, at most ${limits.maxRestarts} restarts)`,
    );
    handle.restartTimer = setTimeout(() => {
      handle.restartTimer = undefined;
      void this.#restart(handle);
    }, delayMs);
  }

  /** Starts a crashed worker again and replays the record into it. */
  async #restart(handle: WorkerHandle): Promise<void> {
    if (this.#stopped) return;
    const realms = [...this.#realms.values()];
    try {
      await this.#spawn(handle, realms);
    } catch (e) {
      // Failed before it was ready: count it as a crash (the back-off and the bound apply).
      this.#onCrash(handle, undefined, (e as Error).message);
      return;
    }
    const worker = handle.worker;
    if (this.#stopped || worker === undefined) return;
    this.#restartCount++;
    // Synchronously from the record, so that control posted from now on comes after it.
    handle.up = true;
    const index = handle.index;
    const replay: Promise<void>[] = [];
    for (const realm of this.#realms.values()) {
      if (!realms.includes(realm)) {
        replay.push(
          this.#send(handle, { type: "addRealm", seq: 0, realm: this.#workerRealm(realm, index) }),
        );
      }
    }
    for (const realm of realms) {
      if (!this.#realms.has(realm.id)) {
        replay.push(this.#send(handle, { type: "removeRealm", seq: 0, id: realm.id }));
      }
    }
    let inbound = 0;
    for (const [spi, r] of this.#inboundSas) {
      if (this.rules.inboundWorker(spi, this.workers) !== index) continue;
      inbound++;
      replay.push(this.#send(handle, {
        type: "addInbound",
        seq: 0,
        realm: r.realm,
        sa: r.sa,
        prefixes: r.prefixes,
      }));
    }
    for (const r of this.#outboundSas.values()) {
      replay.push(this.#send(handle, {
        type: "addOutbound",
        seq: 0,
        realm: r.realm,
        sa: r.sa,
        prefixes: r.prefixes,
        active: r.active,
      }));
    }
    const failed = (await Promise.allSettled(replay)).filter((r) => r.status === "rejected");
    if (handle.worker !== worker) return; // crashed again meanwhile (logged)
    for (const f of failed) {
      this.log.warn(
        `data-plane worker ${index}: Cannot re-install state: ${(f.reason as Error).message}`,
      );
    }
    this.log.info(
      `data-plane worker ${index} is back: ${this.#realms.size} realm(s), ${inbound} inbound and ${this.#outboundSas.size} outbound SA(s) re-installed (sequence numbers continue, replay windows resume)`,
    );
  }

  /** {@link CRASH_TEST_ENV}: crashes each first worker once it has handled `after` packets. */
  #armCrashes(after: number): void {
    const armed = new Set(this.#handles);
    this.#crashWatch = setInterval(() => {
      for (const handle of armed) {
        let packets = 0;
        for (const realm of this.#realms.values()) {
          const counters = workerRealmCounters(realm.counters, handle.index);
          packets += counters.outbound.get("rxPackets") + counters.inbound.get("rxPackets");
        }
        if (packets < after || !handle.up) continue;
        armed.delete(handle);
        this.log.warn(`${CRASH_TEST_ENV}: crashing data-plane worker ${handle.index}`);
        this.crashWorkerForTest(handle.index);
      }
      if (armed.size === 0) clearInterval(this.#crashWatch);
    }, CRASH_WATCH_MS);
  }

  /**
   * The watchdog: a running worker whose heartbeat stood still longer than the hang timeout
   * (plus one poll timeout while it sits in `poll`) is hung.
   */
  #checkProgress(): void {
    const now = Date.now();
    for (const handle of this.#handles) {
      const progress = handle.progress;
      if (!handle.up || handle.worker === undefined || progress === undefined) continue;
      // Phase before beats: a worker leaving poll beats before it says Busy (worker.ts run).
      const polling = progress.phase === WorkerPhase.Polling;
      const beats = progress.beats;
      if (beats !== handle.lastBeats) {
        handle.lastBeats = beats;
        handle.lastProgressAt = now;
        continue;
      }
      const stillMs = now - handle.lastProgressAt;
      if (stillMs < this.#hangTimeoutMs + (polling ? POLL_TIMEOUT_MS : 0)) continue;
      this.#onCrash(
        handle,
        handle.worker,
        `no progress for ${(stillMs / 1000).toFixed(1)} s (${
          polling ? "in poll" : "busy"
        }); terminated`,
        "hung",
      );
    }
  }

  /** The pool's counters and its workers' drops and offload counters (status output). */
  statistics(): DataPlaneStatistics {
    return {
      workers: this.workers,
      workersRunning: this.#handles.filter((h) => h.up).length,
      workersFailed: this.#handles.filter((h) => h.failed).length,
      workerCrashes: this.#crashCount,
      workerHangs: this.#hangCount,
      workerRestarts: this.#restartCount,
      ...this.#workerCounters.snapshot(),
      ...offloadStatistics(this.#offloadCounters),
    };
  }

  /**
   * Tests and {@link CRASH_TEST_ENV} only: makes worker `index` throw an uncaught exception
   * (control message `crashForTest`); the pool then restarts it. No bus action, packet or
   * configuration reaches it.
   */
  crashWorkerForTest(index: number): void {
    this.#postForTest(index, "crashForTest");
  }

  /**
   * Tests only: blocks worker `index`'s thread (control message `hangForTest`) until the
   * watchdog finds it hung and replaces it. No bus action, packet or configuration reaches it.
   */
  hangWorkerForTest(index: number): void {
    this.#postForTest(index, "hangForTest");
  }

  #postForTest(index: number, type: "crashForTest" | "hangForTest"): void {
    const handle = this.#handles[index];
    if (!handle?.worker || !handle.up) {
      throw new RangeError(
        `Cannot ${
          type === "crashForTest" ? "crash" : "hang"
        } data-plane worker ${index}: it is not running`,
      );
    }
    const seq = ++handle.seq;
    handle.worker.postMessage({ type, seq } satisfies ControlMessage);
    Atomics.store(handle.control, 0, seq);
    libc().write(handle.wakeFd, WAKE, 8n);
  }

  #workerRealm(realm: PoolRealm, index: number): WorkerRealm {
    const tunFd = realm.queues[index];
    if (tunFd === undefined) {
      throw new RangeError(`Cannot add realm ${realm.id}: no TUN queue for worker ${index}`);
    }
    return {
      id: realm.id,
      name: realm.name,
      tunFd,
      mtu: realm.mtu,
      counters: realm.counters,
      offload: realm.offload,
    };
  }

  /** Hands a realm opened at run time to the workers (queue i to worker i). */
  async addRealm(realm: PoolRealm): Promise<void> {
    for (let i = 0; i < this.workers; i++) this.#workerRealm(realm, i); // throws before recording
    this.#realms.set(realm.id, realm);
    await Promise.all(
      this.#handles.map((h, i) =>
        this.#send(h, { type: "addRealm", seq: 0, realm: this.#workerRealm(realm, i) })
      ),
    );
  }

  /** Takes a realm (and its SAs) away from the workers; then its queues may be closed. */
  async removeRealm(id: number): Promise<void> {
    this.#realms.delete(id);
    for (const sas of [this.#inboundSas, this.#outboundSas]) {
      for (const [spi, r] of sas) {
        if (r.realm !== id) continue;
        sas.delete(spi);
        wipe(r.sa);
      }
    }
    await Promise.all(this.#handles.map((h) => this.#send(h, { type: "removeRealm", seq: 0, id })));
  }

  /** Installs an inbound SA in the worker that owns its SPI. */
  addInbound(realm: number, sa: WorkerSaParams, prefixes: string[]): Promise<void> {
    const owner = this.#handles[this.rules.inboundWorker(sa.spi, this.workers)]!;
    this.#record(this.#inboundSas, { realm, sa, prefixes, active: true });
    return this.#send(owner, { type: "addInbound", seq: 0, realm, sa, prefixes });
  }

  #record(sas: Map<number, RecordedSa>, recorded: RecordedSa): void {
    const copy = {
      ...recorded,
      sa: {
        ...recorded.sa,
        encryptionKey: recorded.sa.encryptionKey.slice(),
        integrityKey: recorded.sa.integrityKey.slice(),
        encapsulation: copyEncapsulation(recorded.sa.encapsulation),
      },
      prefixes: [...recorded.prefixes],
    };
    const previous = sas.get(copy.sa.spi);
    if (previous) wipe(previous.sa);
    sas.set(copy.sa.spi, copy);
  }

  #forget(sas: Map<number, RecordedSa>, spi: number): void {
    const recorded = sas.get(spi);
    if (!recorded) return;
    sas.delete(spi);
    wipe(recorded.sa);
  }

  /** Installs an outbound SA in every worker (each makes its own contexts). */
  addOutbound(realm: number, sa: WorkerSaParams, prefixes: string[], active: boolean) {
    this.#record(this.#outboundSas, { realm, sa, prefixes, active });
    return this.#broadcast({ type: "addOutbound", seq: 0, realm, sa, prefixes, active });
  }

  /** Lets a waiting outbound SA (rekey successor) carry traffic. */
  activateOutbound(spi: number): Promise<void> {
    const recorded = this.#outboundSas.get(spi);
    if (recorded) recorded.active = true;
    return this.#broadcast({ type: "activateOutbound", seq: 0, spi });
  }

  removeInbound(spi: number): Promise<void> {
    this.#forget(this.#inboundSas, spi);
    const owner = this.#handles[this.rules.inboundWorker(spi, this.workers)]!;
    return this.#send(owner, { type: "removeInbound", seq: 0, spi });
  }

  removeOutbound(spi: number): Promise<void> {
    this.#forget(this.#outboundSas, spi);
    return this.#broadcast({ type: "removeOutbound", seq: 0, spi });
  }

  /** Moves an SA to a new path (NAT mapping change) in the workers that hold it. */
  setPath(sa: EspSa): Promise<void> {
    const message: ControlMessage = {
      type: "setPath",
      seq: 0,
      spi: sa.spi,
      direction: sa.direction,
      encapsulation: copyEncapsulation(sa.encapsulation),
      peerAddress: sa.remote.address,
    };
    const recorded = (sa.direction === "out" ? this.#outboundSas : this.#inboundSas).get(sa.spi);
    if (recorded) {
      recorded.sa.encapsulation = copyEncapsulation(sa.encapsulation);
      recorded.sa.peerAddress = sa.remote.address;
    }
    if (sa.direction === "out") return this.#broadcast(message);
    return this.#send(this.#handles[this.rules.inboundWorker(sa.spi, this.workers)]!, message);
  }

  /** Stops the workers (waiting for their last batch), then closes the sockets it opened. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#natT.closeSocket();
    clearInterval(this.#crashWatch);
    clearInterval(this.#watchdog);
    for (const h of this.#handles) clearTimeout(h.restartTimer);
    await Promise.allSettled(
      this.#handles.map((h) => h.up ? this.#send(h, { type: "stop", seq: 0 }) : undefined),
    );
    const c = libc();
    for (const sas of [this.#inboundSas, this.#outboundSas]) {
      for (const r of sas.values()) wipe(r.sa);
      sas.clear();
    }
    for (const h of this.#handles) {
      h.up = false;
      h.worker?.terminate();
      h.worker = undefined;
      h.progress?.retire();
      h.udp.close();
      h.raw?.close();
      c.close(h.wakeFd);
    }
  }

  #broadcast(message: ControlMessage): Promise<void> {
    return Promise.all(this.#handles.map((h) => this.#send(h, { ...message }))).then(() => {});
  }

  /** Posts control to one worker, wakes it and resolves on its acknowledgement. */
  #send(handle: WorkerHandle, message: ControlMessage): Promise<void> {
    const worker = handle.worker;
    // Down or starting again: the record holds the change, the restart applies it.
    if (!worker || !handle.up) return Promise.resolve();
    if (
      message.type === "init" || message.type === "crashForTest" || message.type === "hangForTest"
    ) {
      throw new RangeError(`${message.type} is not sent by #send`);
    }
    const seq = ++handle.seq;
    message.seq = seq;
    const acked = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        handle.pending.delete(seq);
        reject(new Error(`Cannot ${message.type}: the data-plane worker did not answer in time`));
      }, CONTROL_TIMEOUT_MS);
      handle.pending.set(seq, {
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
    });
    worker.postMessage(message);
    Atomics.store(handle.control, 0, seq);
    libc().write(handle.wakeFd, WAKE, 8n);
    return acked;
  }

  #onMessage(handle: WorkerHandle, message: WorkerMessage): void {
    switch (message.type) {
      case "ack": {
        const pending = handle.pending.get(message.seq);
        handle.pending.delete(message.seq);
        if (message.error === undefined) pending?.resolve();
        else pending?.reject(new Error(message.error));
        return;
      }
      case "ike":
        this.#events.onIke(message.data, message.from);
        return;
      case "keepalive":
        this.#events.onKeepalive();
        return;
      case "remote":
        this.#events.onRemote(message.spi, message.from);
        return;
      case "noRoute":
        this.#events.onNoRoute(message.realm);
        return;
      case "log":
        new Logger(message.subsystem, message.tag).log(message.level, message.message);
        return;
      case "fatal": // handled by #spawn's listener
      case "ready":
        return;
    }
  }
}

/** A realm as the pool needs it: TUN queue descriptors (one per worker) and shared counters. */
export interface PoolRealm {
  id: number;
  name: string;
  mtu: number;
  queues: readonly number[];
  counters: SharedArrayBuffer;
  /** The queues were opened with offloads (see WorkerRealm.offload). */
  offload: boolean;
}

function startError(index: number, message: string): Error {
  return new Error(
    `Cannot start data-plane worker ${index}: ${message} (<data_plane workers="0"/> runs ESP on the main thread)`,
  );
}

function copyEncapsulation(e: UdpEncapsulation | null): UdpEncapsulation | null {
  return e === null ? null : { local: { ...e.local }, remote: { ...e.remote } };
}

/** The main thread's side of the NAT-T port: `sendto` on worker 0's socket. */
class PoolNatTSocket implements DatagramSocket {
  readonly local: Endpoint;
  readonly #socket: BatchSocket;
  #closed = false;
  #lastAddress = "";
  #lastPort = -1;
  #sockaddr: Uint8Array = new Uint8Array(16);

  constructor(socket: BatchSocket, local: Endpoint) {
    this.#socket = socket;
    this.local = local;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Never resolves: worker 0 receives on this port. */
  receive(_buf: Uint8Array): Promise<ReceivedDatagram> {
    return new Promise(() => {});
  }

  send(data: Uint8Array, to: Endpoint): Promise<void> {
    if (this.#closed) {
      return Promise.reject(new SysError("sendto", 9, `send to ${to.address}:${to.port}`));
    }
    try {
      if (to.address !== this.#lastAddress || to.port !== this.#lastPort) {
        this.#sockaddr = sockaddrOf(to);
        this.#lastAddress = to.address;
        this.#lastPort = to.port;
      }
    } catch (e) {
      return Promise.reject(e);
    }
    if (this.#socket.sendTo(data, this.#sockaddr)) return Promise.resolve();
    return Promise.reject(
      new SysError("sendto", lastErrno(), `send to ${to.address}:${to.port} on the NAT-T port`),
    );
  }

  /** The pool closes the descriptor; this only stops sends. */
  close(): void {
    this.#closed = true;
  }

  closeSocket(): void {
    this.#closed = true;
  }
}
