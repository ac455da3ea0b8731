/**
 * Shared set-up of the dispatch tests with real worker threads on loopback: "TUN queues" as
 * Unix datagram socket pairs, a free loopback UDP port, a polling wait and SA pairs.
 */
import { assert, assertEquals } from "../_assert.ts";
import { LibcryptoProvider } from "../../lib/crypto/mod.ts";
import { encapsulate, EspSa, type UdpEncapsulation } from "../../lib/esp/mod.ts";
import { type BatchSocket, boundPort, openBatchUdpSocket, sockaddrOf } from "../../lib/net/mod.ts";
import { setLogSinks } from "../../lib/log/mod.ts";
import { libc } from "../../lib/sys/mod.ts";
import {
  type DataPlaneEvents,
  DataPlanePool,
  type DataPlanePoolOptions,
  type PooledSaState,
  type WorkerSaParams,
} from "../../lib/dispatch/mod.ts";
import { ipv4Packet, randomBytes } from "../esp/_helpers.ts";

export const LOOPBACK = "127.0.0.1";

const AF_UNIX = 1;
const SOCK_DGRAM = 2;
const SOCK_NONBLOCK = 0x800;

const extra = Deno.dlopen(
  "libc.so.6",
  {
    socketpair: { parameters: ["i32", "i32", "i32", "buffer"], result: "i32" },
  } as const,
);

/** Two connected non-blocking Unix datagram sockets: [the worker's "TUN" end, the test's]. */
export function packetPipe(): [number, number] {
  const fds = new Int32Array(2);
  const r = extra.symbols.socketpair(
    AF_UNIX,
    SOCK_DGRAM | SOCK_NONBLOCK,
    0,
    new Uint8Array(fds.buffer),
  );
  assertEquals(r, 0, "socketpair");
  return [fds[0]!, fds[1]!];
}

/** Polls `predicate` every 10 ms; throws naming `what` if it is not true within `ms`. */
export async function until(
  predicate: () => boolean,
  ms = 5000,
  what = "condition",
): Promise<void> {
  const end = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > end) throw new Error(`${what} not reached in time`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Packets waiting on a test-side pipe end (read and counted). */
export function drain(fd: number): number {
  const buf = new Uint8Array(4096);
  let n = 0;
  while (libc().read(fd, buf, 4096n) > 0) n++;
  return n;
}

/** Sends `count` ESP packets from the peer on `sa` to the pool's `port`; returns them. */
export function sendEsp(peer: BatchSocket, sa: EspSa, port: number, count: number): Uint8Array[] {
  const name = sockaddrOf({ address: LOOPBACK, port });
  const sent: Uint8Array[] = [];
  for (let n = 0; n < count; n++) {
    const out = new Uint8Array(2048);
    const length = encapsulate(sa, ipv4Packet(80, { src: "10.1.0.3", id: n }), out);
    sent.push(out.slice(0, length));
    assert(peer.sendTo(out.subarray(0, length), name));
  }
  return sent;
}

/** A free UDP port on loopback (bound and released). */
export function freePort(): number {
  const probe = openBatchUdpSocket({ address: LOOPBACK, port: 0 });
  const port = boundPort(probe.fd);
  probe.close();
  return port;
}

/** An SA of a pool (the worker side's parameters and shared state) and the peer's twin. */
export interface PooledSaPair {
  params: WorkerSaParams;
  state: PooledSaState;
  /** The peer's SA of the other direction (same SPI and key), for `encapsulate`/`decapsulate`. */
  peer: EspSa;
}

/**
 * A fresh AES-GCM SA for `pool` over UDP `encapsulation` (the pool's port → the peer) and the
 * peer's matching SA; the caller disposes `peer`.
 */
export function pooledSaPair(
  pool: DataPlanePool,
  options: { spi: number; direction: "in" | "out"; encapsulation: UdpEncapsulation },
): PooledSaPair {
  const key = randomBytes(36);
  const state = pool.createSaState();
  const params: WorkerSaParams = {
    spi: options.spi,
    direction: options.direction,
    encryption: "aes-gcm-16",
    integrity: "none",
    encryptionKey: key,
    integrityKey: new Uint8Array(0),
    ...(options.direction === "in" ? { replayWindow: 64 } : {}),
    encapsulation: options.encapsulation,
    peerAddress: LOOPBACK,
    shared: state.shared,
  };
  const peer = new EspSa({
    spi: options.spi,
    direction: options.direction === "in" ? "out" : "in",
    encryption: "aes-gcm-16",
    integrity: "none",
    encryptionKey: key,
    encapsulation: null,
    peerAddress: LOOPBACK,
    crypto: new LibcryptoProvider(),
    replayWindow: 0,
  });
  return { params, state, peer };
}

/** A started pool of two workers on loopback with one realm (id 1) on packet pipes. */
export interface LoopbackPool {
  pool: DataPlanePool;
  /** Log lines written while it ran. */
  logs: string[];
  /** [worker end, test end] of each worker's "TUN queue". */
  pipes: [number, number][];
  /** The peer's UDP socket. */
  peer: BatchSocket;
  /** The realm's data-path counters, summed over the workers. */
  counters: ReturnType<DataPlanePool["createRealmCounters"]>;
  /** The pool's NAT-T port. */
  port: number;
  /** The pool's port → the peer, for {@link pooledSaPair}. */
  encapsulation: UdpEncapsulation;
  /** Stops the pool, closes the pipes and the peer, restores the log sinks. */
  close(): Promise<void>;
}

/**
 * Opens and starts a pool of two workers on a free loopback port, one realm of `offload`
 * queues, log lines collected; `close` undoes it all.
 */
export async function startLoopbackPool(
  options: Partial<Pick<DataPlanePoolOptions, "restartLimits" | "hangTimeoutMs">> & {
    offload?: boolean;
    /** Events to observe (the others do nothing). */
    events?: Partial<DataPlaneEvents>;
  } = {},
): Promise<LoopbackPool> {
  const logs: string[] = [];
  const previousSinks = setLogSinks([(_r, line) => logs.push(line)]);
  const port = freePort();
  const pool = DataPlanePool.open({
    workers: 2,
    address: LOOPBACK,
    natTPort: port,
    rawEsp: false,
    events: {
      onIke: () => {},
      onKeepalive: () => {},
      onRemote: () => {},
      onNoRoute: () => {},
      ...options.events,
    },
    ...(options.restartLimits ? { restartLimits: options.restartLimits } : {}),
    ...(options.hangTimeoutMs === undefined ? {} : { hangTimeoutMs: options.hangTimeoutMs }),
  });
  const pipes = [packetPipe(), packetPipe()];
  const peer = openBatchUdpSocket({ address: LOOPBACK, port: 0 });
  const counters = pool.createRealmCounters();
  const close = async () => {
    await pool.stop();
    for (const [a, b] of pipes) {
      libc().close(a);
      libc().close(b);
    }
    peer.close();
    setLogSinks(previousSinks);
  };
  try {
    await pool.start([{
      id: 1,
      name: "rhp-loopback",
      mtu: 1400,
      queues: pipes.map(([worker]) => worker),
      counters: counters.shared,
      offload: options.offload ?? false,
    }]);
  } catch (e) {
    await close();
    throw e;
  }
  return {
    pool,
    logs,
    pipes,
    peer,
    counters,
    port,
    encapsulation: {
      local: { address: LOOPBACK, port },
      remote: { address: LOOPBACK, port: boundPort(peer.fd) },
    },
    close,
  };
}
