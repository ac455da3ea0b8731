/**
 * The IKE thread's priority scheduler: every IKE datagram the appliance receives (UDP 500, and
 * UDP 4500 on the main thread or through worker 0) waits here for the engine, in one of three
 * bounded classes served in strict priority order:
 *
 *   control  work the appliance defers onto the IKE thread (worker events: acquire, NAT moves)
 *   ike      datagrams of known IKE SAs: IKE_AUTH, CREATE_CHILD_SA, INFORMATIONAL, responses
 *   init     new IKE_SA_INIT requests, unauthenticated: what a flood sends
 *
 * ESP never passes through here: it runs in the data-plane workers, whose loop applies control
 * messages before each ESP batch. Admission of new IKE SAs (COOKIEs, rate and half-open limits)
 * stays in the engine; this only decides which datagram it sees first.
 *
 * One turn (a macrotask, armed when work arrives):
 *   1. control  every queued task
 *   2. ike      up to `ikeBudget` datagrams; any left → next turn, and no `init` in this one
 *   3. init     up to `initBudget` datagrams; one older than `initMaxAgeMs` is dropped and
 *               counted, without using up the budget (its initiator has resent it by then)
 *   4. yield    work left → arm the next turn, so socket reads and timers run in between
 *
 * A full class drops the new datagram and counts it; nothing here throws at a sender.
 */
import { Counters, Logger } from "../log/mod.ts";
import type { Endpoint } from "../net/mod.ts";
import { DEFAULT_IKE_RULES, type IkeClass, type IkeRules } from "./rules.ts";

/** The scheduler's counters (appliance counters, shown by `rockhopper ctl stats`). */
export const IKE_QUEUE_COUNTERS = [
  /** A control task found its class full. */
  "controlQueueDropped",
  /** An `ike` datagram found its class full (count or bytes). */
  "ikeQueueDropped",
  /** An `init` datagram found its class full (count or bytes). */
  "initQueueDropped",
  /** An `init` datagram waited longer than `initMaxAgeMs` and was dropped unhandled. */
  "initQueueExpired",
  /** The most `ike` datagrams queued at once. */
  "ikeQueuePeak",
  /** The most `init` datagrams queued at once. */
  "initQueuePeak",
] as const;
export type IkeQueueCounterName = typeof IKE_QUEUE_COUNTERS[number];
/** What the scheduler needs of a counter group: any {@link Counters} holding these names. */
export type IkeQueueCounters = Pick<Counters<IkeQueueCounterName>, "add" | "get">;

/** Where the scheduler hands a datagram: the engine (`IkeEngine.handleDatagram`). */
export type IkeDatagramHandler = (
  data: Uint8Array,
  from: Endpoint,
  localPort: number,
) => unknown;

/** Bounds and budgets of {@link IkeScheduler}. */
export interface IkeSchedulerLimits {
  /** Control tasks queued at most. */
  controlLimit: number;
  /** `ike` datagrams queued at most, and their bytes. */
  ikeLimit: number;
  ikeBytesLimit: number;
  /** `init` datagrams queued at most, and their bytes. */
  initLimit: number;
  initBytesLimit: number;
  /** `ike` datagrams handled per turn at most. */
  ikeBudget: number;
  /** `init` datagrams handled per turn at most. */
  initBudget: number;
  /** An `init` datagram queued longer than this (ms) is dropped. */
  initMaxAgeMs: number;
}

/**
 * Defaults: room for a few seconds of a busy gateway's IKE (a datagram is at most a fragment's
 * size from our peers, so the byte bounds only bite on oversized junk), and turns of a few ms.
 */
export const DEFAULT_IKE_SCHEDULER_LIMITS: IkeSchedulerLimits = {
  controlLimit: 1024,
  ikeLimit: 4096,
  ikeBytesLimit: 16 << 20,
  initLimit: 1024,
  initBytesLimit: 4 << 20,
  ikeBudget: 512,
  initBudget: 128,
  initMaxAgeMs: 2000,
};

/** Options of {@link IkeScheduler}. */
export interface IkeSchedulerOptions {
  /** Overrides of {@link DEFAULT_IKE_SCHEDULER_LIMITS}. */
  limits?: Partial<IkeSchedulerLimits>;
  /** The classification rule; default {@link DEFAULT_IKE_RULES}. */
  rules?: IkeRules;
  /** Where the counters go (e.g. the appliance's); default counters of its own. */
  counters?: IkeQueueCounters;
  /** Milliseconds clock of `initMaxAgeMs` (tests); default `performance.now`. */
  now?: () => number;
}

/**
 * A bounded FIFO of datagrams in preallocated parallel arrays: no object per entry beyond the
 * copy of the datagram itself.
 */
class DatagramRing {
  readonly #data: (Uint8Array | undefined)[];
  readonly #from: (Endpoint | undefined)[];
  readonly #localPort: Uint16Array;
  readonly #queuedAt: Float64Array;
  readonly #bytesLimit: number;
  #head = 0;
  length = 0;
  bytes = 0;

  constructor(limit: number, bytesLimit: number) {
    this.#data = new Array(limit).fill(undefined);
    this.#from = new Array(limit).fill(undefined);
    this.#localPort = new Uint16Array(limit);
    this.#queuedAt = new Float64Array(limit);
    this.#bytesLimit = bytesLimit;
  }

  /** Appends a copy of `data`; false when full. */
  push(data: Uint8Array, from: Endpoint, localPort: number, now: number): boolean {
    const capacity = this.#localPort.length;
    if (this.length === capacity || this.bytes + data.length > this.#bytesLimit) return false;
    const i = (this.#head + this.length) % capacity;
    this.#data[i] = data.slice();
    this.#from[i] = from;
    this.#localPort[i] = localPort;
    this.#queuedAt[i] = now;
    this.length++;
    this.bytes += data.length;
    return true;
  }

  /** When the oldest entry was queued (the ring must not be empty). */
  headQueuedAt(): number {
    return this.#queuedAt[this.#head]!;
  }

  /** Removes the oldest entry and returns what `handler` returns for it. */
  handleHead(handler: IkeDatagramHandler): unknown {
    const i = this.#head;
    const data = this.#data[i]!;
    const from = this.#from[i]!;
    const localPort = this.#localPort[i]!;
    this.dropHead();
    return handler(data, from, localPort);
  }

  /** Removes the oldest entry unhandled. */
  dropHead(): void {
    const i = this.#head;
    this.bytes -= this.#data[i]!.length;
    this.#data[i] = undefined;
    this.#from[i] = undefined;
    this.#head = (i + 1) % this.#localPort.length;
    this.length--;
  }

  clear(): void {
    this.#data.fill(undefined);
    this.#from.fill(undefined);
    this.#head = 0;
    this.length = 0;
    this.bytes = 0;
  }
}

/**
 * The IKE thread's priority scheduler (see the module comment). One per appliance; call
 * {@link stop} on shutdown.
 *
 * @example
 * ```ts
 * const scheduler = new IkeScheduler((data, from, port) => engine.handleDatagram(data, from, port));
 * scheduler.enqueue(datagram, { address: "198.51.100.1", port: 500 }, 500);
 * scheduler.stop();
 * ```
 */
export class IkeScheduler {
  readonly counters: IkeQueueCounters;
  readonly limits: Readonly<IkeSchedulerLimits>;
  readonly #handler: IkeDatagramHandler;
  readonly #rules: IkeRules;
  readonly #now: () => number;
  readonly #log = new Logger("dispatch");
  readonly #control: (() => void)[] = [];
  readonly #ike: DatagramRing;
  readonly #init: DatagramRing;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #stopped = false;
  readonly #turn = () => this.#runTurn();
  readonly #onHandlerError = (e: unknown) => this.#handlerFailed(e);

  constructor(handler: IkeDatagramHandler, options: IkeSchedulerOptions = {}) {
    this.#handler = handler;
    this.limits = { ...DEFAULT_IKE_SCHEDULER_LIMITS, ...options.limits };
    for (const [name, value] of Object.entries(this.limits)) {
      if (!(value > 0)) {
        throw new RangeError(`Cannot create the IKE scheduler: ${name} ${value} is not positive`);
      }
    }
    this.#rules = options.rules ?? DEFAULT_IKE_RULES;
    this.counters = options.counters ?? new Counters(IKE_QUEUE_COUNTERS);
    this.#now = options.now ?? (() => performance.now());
    this.#ike = new DatagramRing(this.limits.ikeLimit, this.limits.ikeBytesLimit);
    this.#init = new DatagramRing(this.limits.initLimit, this.limits.initBytesLimit);
  }

  /**
   * Queues IKE message `data` (without non-ESP marker) from `from` to our `localPort` in the
   * class the rule gives it. `data` is copied: the caller may reuse its buffer. False when the
   * class is full (counted) or the scheduler is stopped.
   */
  enqueue(data: Uint8Array, from: Endpoint, localPort: number): boolean {
    if (this.#stopped) return false;
    const kind = this.#rules.ikeClass(data);
    const ring = kind === "init" ? this.#init : this.#ike;
    if (!ring.push(data, from, localPort, this.#now())) {
      this.counters.add(kind === "init" ? "initQueueDropped" : "ikeQueueDropped");
      return false;
    }
    const peakName = kind === "init" ? "initQueuePeak" : "ikeQueuePeak";
    const peak = this.counters.get(peakName);
    if (ring.length > peak) this.counters.add(peakName, ring.length - peak);
    this.#arm();
    return true;
  }

  /** Queues `task` ahead of every datagram. False when the class is full (counted) or stopped. */
  control(task: () => void): boolean {
    if (this.#stopped) return false;
    if (this.#control.length >= this.limits.controlLimit) {
      this.counters.add("controlQueueDropped");
      return false;
    }
    this.#control.push(task);
    this.#arm();
    return true;
  }

  /** Entries waiting in class `kind`. */
  queued(kind: IkeClass | "control"): number {
    return kind === "control"
      ? this.#control.length
      : kind === "init"
      ? this.#init.length
      : this.#ike.length;
  }

  /** Drops everything queued and cancels the next turn; later work is refused. */
  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#control.length = 0;
    this.#ike.clear();
    this.#init.clear();
  }

  #arm(): void {
    this.#timer ??= setTimeout(this.#turn, 0);
  }

  #runTurn(): void {
    this.#timer = undefined;
    const control = this.#control;
    // A task queued by a task runs in this turn too.
    for (let i = 0; i < control.length && !this.#stopped; i++) {
      try {
        control[i]!();
      } catch (e) {
        this.#handlerFailed(e);
      }
    }
    control.length = 0;

    const ike = this.#ike;
    for (let n = 0; n < this.limits.ikeBudget && ike.length > 0 && !this.#stopped; n++) {
      this.#handleHead(ike);
    }
    const init = this.#init;
    if (ike.length === 0) {
      const oldest = this.#now() - this.limits.initMaxAgeMs;
      let n = 0;
      while (n < this.limits.initBudget && init.length > 0 && !this.#stopped) {
        if (init.headQueuedAt() < oldest) {
          init.dropHead();
          this.counters.add("initQueueExpired");
          continue;
        }
        this.#handleHead(init);
        n++;
      }
    }
    if (!this.#stopped && (ike.length > 0 || init.length > 0 || control.length > 0)) this.#arm();
  }

  /** Hands the oldest datagram of `ring` to the handler; its failure is logged, not thrown. */
  #handleHead(ring: DatagramRing): void {
    try {
      const result = ring.handleHead(this.#handler);
      // A rejection nobody observes would end the process.
      if (result instanceof Promise) result.catch(this.#onHandlerError);
    } catch (e) {
      this.#handlerFailed(e);
    }
  }

  #handlerFailed(e: unknown): void {
    this.#log.warn(`Cannot handle queued IKE work: ${(e as Error)?.message ?? e}`);
  }
}
