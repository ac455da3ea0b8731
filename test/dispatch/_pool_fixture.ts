/**
 * Shared set-up of the dispatch tests with real worker threads on loopback: "TUN queues" as
 * Unix datagram socket pairs, a free loopback UDP port and a polling wait.
 */
import { assertEquals } from "../_assert.ts";
import { boundPort, openBatchUdpSocket } from "../../lib/net/mod.ts";

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

/** A free UDP port on loopback (bound and released). */
export function freePort(): number {
  const probe = openBatchUdpSocket({ address: LOOPBACK, port: 0 });
  const port = boundPort(probe.fd);
  probe.close();
  return port;
}
