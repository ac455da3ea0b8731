/**
 * In-memory fakes of the two I/O seams (wireguard-go's `tuntest` and `bindtest`): a
 * {@link MemoryDevice} standing in for a TUN/TAP device and a {@link MemoryNetwork} of
 * {@link DatagramSocket}s, so two engines can talk back to back in a unit test without root.
 * Everything is copied on the way in, as the kernel would.
 */
import { Counters } from "../log/mod.ts";
import type { DatagramSocket, Endpoint, ReceivedDatagram } from "./datagram.ts";
import type { PacketDevice } from "./device.ts";

/** Options of a {@link MemoryDevice}. */
export interface MemoryDeviceOptions {
  name?: string;
  mtu?: number;
  /** Packets queued for reading before {@link MemoryDevice.inject} refuses more. */
  queueLimit?: number;
}

/** A FIFO of copies with an O(1) pop from the front. */
class Fifo<T> {
  #items: (T | undefined)[] = [];
  #head = 0;

  get length(): number {
    return this.#items.length - this.#head;
  }

  push(item: T): void {
    this.#items.push(item);
  }

  shift(): T | undefined {
    if (this.#head >= this.#items.length) return undefined;
    const item = this.#items[this.#head];
    this.#items[this.#head++] = undefined;
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }

  clear(): void {
    this.#items = [];
    this.#head = 0;
  }
}

function wakeAll(waiters: (() => void)[]): void {
  for (const wake of waiters.splice(0)) wake();
}

/**
 * A fake {@link PacketDevice}: tests {@link inject} packets "from the OS" and read what the
 * program wrote from {@link written} (or from the paired device).
 *
 * @example
 * ```ts
 * const dev = new MemoryDevice({ name: "tun-a" });
 * dev.inject(ipPacket);                 // the data path will tryRead it
 * await dev.waitForWritten(1);          // the data path wrote one packet
 * dev.written[0];
 * ```
 */
export class MemoryDevice implements PacketDevice {
  readonly name: string;
  readonly mtu: number;
  readonly queueLimit: number;
  /** Copies of the packets the program wrote (unless the device is paired). */
  readonly written: Uint8Array[] = [];
  /** Called with each written packet (a copy) after it was recorded. */
  onWrite: ((packet: Uint8Array) => void) | null = null;
  #queue = new Fifo<Uint8Array>();
  #readWaiters: (() => void)[] = [];
  #writeWaiters: (() => void)[] = [];
  #peer: MemoryDevice | null = null;
  #closed = false;

  constructor(options: MemoryDeviceOptions = {}) {
    this.name = options.name ?? "mem0";
    this.mtu = options.mtu ?? 1500;
    this.queueLimit = options.queueLimit ?? 65536;
  }

  /**
   * Two devices wired back to back: what the program writes to one can be read from the other.
   */
  static pair(a: MemoryDeviceOptions = {}, b: MemoryDeviceOptions = {}): [
    MemoryDevice,
    MemoryDevice,
  ] {
    const left = new MemoryDevice({ name: "mem0", ...a });
    const right = new MemoryDevice({ name: "mem1", ...b });
    left.#peer = right;
    right.#peer = left;
    return [left, right];
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Packets waiting to be read. */
  get queued(): number {
    return this.#queue.length;
  }

  /** Queues a copy of `packet` as if the OS routed it into the device; false when full/closed. */
  inject(packet: Uint8Array): boolean {
    if (this.#closed || this.#queue.length >= this.queueLimit) return false;
    this.#queue.push(packet.slice());
    wakeAll(this.#readWaiters);
    return true;
  }

  tryRead(buf: Uint8Array): number {
    if (this.#closed) throw new Deno.errors.BadResource(`Cannot read from ${this.name}: closed`);
    const packet = this.#queue.shift();
    if (!packet) return -1;
    // Like read(2) on a TUN fd: a short buffer truncates.
    const n = Math.min(packet.length, buf.length);
    buf.set(n === packet.length ? packet : packet.subarray(0, n));
    return n;
  }

  waitReadable(): Promise<void> {
    if (this.#closed || this.#queue.length > 0) return Promise.resolve();
    return new Promise((resolve) => this.#readWaiters.push(resolve));
  }

  write(packet: Uint8Array): boolean {
    if (this.#closed) return false;
    const copy = packet.slice();
    if (this.#peer) return this.#peer.inject(copy);
    this.written.push(copy);
    this.onWrite?.(copy);
    wakeAll(this.#writeWaiters);
    return true;
  }

  /**
   * Resolves once {@link written} holds at least `count` packets; rejects after `timeoutMs`
   * (default 5000) with a `Deno.errors.TimedOut` naming how many arrived.
   */
  async waitForWritten(count: number, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.written.length < count) {
      const left = deadline - Date.now();
      if (left <= 0 || this.#closed) {
        throw new Deno.errors.TimedOut(
          `Cannot wait for ${count} packets on ${this.name}: ${this.written.length} written`,
        );
      }
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        this.#writeWaiters.push(resolve);
        timer = setTimeout(resolve, left);
      });
      clearTimeout(timer);
    }
  }

  /** Returns and forgets the written packets. */
  takeWritten(): Uint8Array[] {
    return this.written.splice(0);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#queue.clear();
    wakeAll(this.#readWaiters);
    wakeAll(this.#writeWaiters);
  }
}

/** Decides the fate of one datagram: return false to drop it (loss, firewall, NAT tests). */
export type DeliveryFilter = (data: Uint8Array, from: Endpoint, to: Endpoint) => boolean;

/** Options of a {@link MemoryNetwork}. */
export interface MemoryNetworkOptions {
  /** Datagrams queued per socket before further ones are dropped (a full socket buffer). */
  queueLimit?: number;
}

/** Counter names of a {@link MemoryNetwork}. */
export const MEMORY_NETWORK_COUNTERS = [
  "sent",
  "delivered",
  "dropFiltered",
  "dropUnreachable",
  "dropQueueFull",
] as const;

const EPHEMERAL_FIRST = 49152;

function endpointKey(e: Endpoint): string {
  return `${e.address}|${e.port}`;
}

interface QueuedDatagram {
  data: Uint8Array;
  from: Endpoint;
}

/**
 * A fake network of UDP sockets. Datagrams are copied at send time and delivered in order to
 * the socket bound to the destination endpoint; receives resolve asynchronously.
 *
 * @example
 * ```ts
 * const net = new MemoryNetwork();
 * const a = net.open({ address: "198.51.100.1", port: 4500 });
 * const b = net.open({ address: "198.51.100.2", port: 4500 });
 * await a.send(bytes, b.local);
 * const { data, from } = await b.receive(new Uint8Array(2048));
 * ```
 */
export class MemoryNetwork {
  readonly queueLimit: number;
  /** Optional per-datagram hook; return false to drop. */
  filter: DeliveryFilter | null = null;
  readonly counters: Counters<typeof MEMORY_NETWORK_COUNTERS[number]> = new Counters(
    MEMORY_NETWORK_COUNTERS,
  );
  readonly #sockets = new Map<string, MemorySocket>();
  #nextPort = EPHEMERAL_FIRST;

  constructor(options: MemoryNetworkOptions = {}) {
    this.queueLimit = options.queueLimit ?? 65536;
  }

  /**
   * Binds a socket at `local`; port 0 picks a free ephemeral port. Throws
   * `Deno.errors.AddrInUse` when the endpoint is taken.
   */
  open(local: Endpoint): DatagramSocket {
    let port = local.port;
    if (port === 0) {
      while (this.#sockets.has(endpointKey({ address: local.address, port: this.#nextPort }))) {
        this.#nextPort = this.#nextPort >= 65535 ? EPHEMERAL_FIRST : this.#nextPort + 1;
      }
      port = this.#nextPort++;
    }
    const bound = { address: local.address, port };
    const key = endpointKey(bound);
    if (this.#sockets.has(key)) {
      throw new Deno.errors.AddrInUse(
        `Cannot bind memory socket ${local.address}:${port}: address in use`,
      );
    }
    const socket = new MemorySocket(this, bound, () => this.#sockets.delete(key));
    this.#sockets.set(key, socket);
    return socket;
  }

  /** @internal Called by {@link MemorySocket.send}. */
  deliver(data: Uint8Array, from: Endpoint, to: Endpoint): void {
    this.counters.add("sent");
    if (this.filter && !this.filter(data, from, to)) {
      this.counters.add("dropFiltered");
      return;
    }
    const target = this.#sockets.get(endpointKey(to));
    if (!target) {
      this.counters.add("dropUnreachable");
      return;
    }
    if (target.enqueue(data.slice(), from)) this.counters.add("delivered");
    else this.counters.add("dropQueueFull");
  }
}

class MemorySocket implements DatagramSocket {
  readonly local: Endpoint;
  readonly #network: MemoryNetwork;
  readonly #unbind: () => void;
  readonly #queue = new Fifo<QueuedDatagram>();
  #waiters: {
    buf: Uint8Array;
    resolve: (d: ReceivedDatagram) => void;
    reject: (e: Error) => void;
  }[] = [];
  #closed = false;

  constructor(network: MemoryNetwork, local: Endpoint, unbind: () => void) {
    this.#network = network;
    this.local = local;
    this.#unbind = unbind;
  }

  get closed(): boolean {
    return this.#closed;
  }

  enqueue(data: Uint8Array, from: Endpoint): boolean {
    const waiter = this.#waiters.shift();
    if (waiter) {
      waiter.resolve(copyInto(waiter.buf, data, from));
      return true;
    }
    if (this.#queue.length >= this.#network.queueLimit) return false;
    this.#queue.push({ data, from: { address: from.address, port: from.port } });
    return true;
  }

  receive(buf: Uint8Array): Promise<ReceivedDatagram> {
    if (this.#closed) return Promise.reject(closedError(this.local));
    const queued = this.#queue.shift();
    if (queued) return Promise.resolve(copyInto(buf, queued.data, queued.from));
    return new Promise((resolve, reject) => this.#waiters.push({ buf, resolve, reject }));
  }

  send(data: Uint8Array, to: Endpoint): Promise<void> {
    if (this.#closed) return Promise.reject(closedError(this.local));
    this.#network.deliver(data, this.local, to);
    return Promise.resolve();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#unbind();
    this.#queue.clear();
    for (const w of this.#waiters.splice(0)) w.reject(closedError(this.local));
  }
}

function copyInto(buf: Uint8Array, data: Uint8Array, from: Endpoint): ReceivedDatagram {
  // Like recvfrom(2): a short buffer truncates.
  const n = Math.min(buf.length, data.length);
  buf.set(n === data.length ? data : data.subarray(0, n));
  return { data: buf.subarray(0, n), from: { address: from.address, port: from.port } };
}

function closedError(local: Endpoint): Error {
  return new Deno.errors.BadResource(
    `Cannot use memory socket ${local.address}:${local.port}: it is closed`,
  );
}
