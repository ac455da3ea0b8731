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
 */
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
  sequenceSlotOf,
  summedRealmCounters,
  summedSaCounters,
} from "./shared_state.ts";

/** How long the main thread waits for a worker to acknowledge control. */
export const CONTROL_TIMEOUT_MS = 5_000;
/** Socket buffer size asked for each socket (the kernel caps it at net.core.*mem_max). */
const UDP_BUFFER_BYTES = 4 * 1024 * 1024;

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
}

/** Shared state of one SA, for the main thread's EspSa and the workers' copies. */
export interface PooledSaState {
  shared: SharedArrayBuffer;
  sequence: SequenceSlot;
  counters: Counters<EspSaCounterName>;
}

interface WorkerHandle {
  worker: Worker | undefined;
  udp: BatchSocket;
  raw: BatchSocket | null;
  wakeFd: number;
  control: Int32Array;
  seq: number;
  pending: Map<number, { resolve: () => void; reject: (e: Error) => void }>;
}

const WAKE = new Uint8Array([1, 0, 0, 0, 0, 0, 0, 0]);

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
  #started = false;
  #stopped = false;

  private constructor(
    workers: number,
    handles: WorkerHandle[],
    events: DataPlaneEvents,
    rules: DispatchRules,
    local: Endpoint,
  ) {
    this.workers = workers;
    this.#handles = handles;
    this.#events = events;
    this.rules = rules;
    this.#natT = new PoolNatTSocket(handles[0]!.udp, local);
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
          worker: undefined,
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
    });
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
    const ready: Promise<void>[] = [];
    this.#handles.forEach((handle, index) => {
      const worker = new Worker(new URL("./worker_entry.ts", import.meta.url), {
        type: "module",
        name: `data-plane-${index}`,
      });
      handle.worker = worker;
      ready.push(
        new Promise<void>((resolve, reject) => {
          worker.onmessage = (event: MessageEvent<WorkerMessage>) => {
            const message = event.data;
            if (message.type === "ready") resolve();
            else if (message.type === "fatal") {
              this.log.error(`data-plane worker ${index} failed: ${message.message}`);
              reject(startError(index, message.message));
            } else this.#onMessage(handle, message);
          };
          worker.onerror = (event) => {
            event.preventDefault();
            this.log.error(`data-plane worker ${index} failed: ${event.message}`);
            reject(startError(index, event.message));
          };
        }),
      );
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
      };
      worker.postMessage(init);
    });
    await Promise.all(ready);
    this.log.info(
      `data plane: ${this.workers} worker(s), UDP ${this.#natT.local.port} in a SO_REUSEPORT group${
        this.rawEsp ? ", raw ESP sockets" : ""
      }, inbound ESP by SPI % ${this.workers}`,
    );
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
    await Promise.all(
      this.#handles.map((h, i) =>
        this.#send(h, { type: "addRealm", seq: 0, realm: this.#workerRealm(realm, i) })
      ),
    );
  }

  /** Takes a realm (and its SAs) away from the workers; then its queues may be closed. */
  async removeRealm(id: number): Promise<void> {
    await Promise.all(this.#handles.map((h) => this.#send(h, { type: "removeRealm", seq: 0, id })));
  }

  /** Installs an inbound SA in the worker that owns its SPI. */
  addInbound(realm: number, sa: WorkerSaParams, prefixes: string[]): Promise<void> {
    const owner = this.#handles[this.rules.inboundWorker(sa.spi, this.workers)]!;
    return this.#send(owner, { type: "addInbound", seq: 0, realm, sa, prefixes });
  }

  /** Installs an outbound SA in every worker (each makes its own contexts). */
  addOutbound(realm: number, sa: WorkerSaParams, prefixes: string[], active: boolean) {
    return this.#broadcast({ type: "addOutbound", seq: 0, realm, sa, prefixes, active });
  }

  /** Lets a waiting outbound SA (rekey successor) carry traffic. */
  activateOutbound(spi: number): Promise<void> {
    return this.#broadcast({ type: "activateOutbound", seq: 0, spi });
  }

  removeInbound(spi: number): Promise<void> {
    const owner = this.#handles[this.rules.inboundWorker(spi, this.workers)]!;
    return this.#send(owner, { type: "removeInbound", seq: 0, spi });
  }

  removeOutbound(spi: number): Promise<void> {
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
    if (sa.direction === "out") return this.#broadcast(message);
    return this.#send(this.#handles[this.rules.inboundWorker(sa.spi, this.workers)]!, message);
  }

  /** Stops the workers (waiting for their last batch), then closes the sockets it opened. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#natT.closeSocket();
    await Promise.allSettled(
      this.#handles.map((h) => h.worker ? this.#send(h, { type: "stop", seq: 0 }) : undefined),
    );
    const c = libc();
    for (const h of this.#handles) {
      h.worker?.terminate();
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
    if (!worker) return Promise.resolve();
    if (message.type === "init") throw new RangeError("init is sent by start()");
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
      case "fatal":
        this.log.error(`data-plane worker failed: ${message.message}`);
        return;
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
  #lastTo: Endpoint | null = null;
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
      if (to !== this.#lastTo || to.address !== this.#lastAddress || to.port !== this.#lastPort) {
        this.#sockaddr = sockaddrOf(to);
        this.#lastTo = to;
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
