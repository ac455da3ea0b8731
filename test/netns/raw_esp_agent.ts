/**
 * Runs inside a test namespace (started by raw_esp_socket_test.ts through `ip netns exec`) with
 * a {@link RawEspSocket}, and prints JSON lines on stdout.
 *
 *   receive <bind> <count>   print {"event":"ready"}, receive <count> packets (10 s at most),
 *                            answer the first sender with one packet "reply", check that close
 *                            wakes a pending wait, print {"event":"report",...}
 *   send <bind> <to>         send the test packets to <to>, wait 5 s at most for the answer,
 *                            print {"event":"report",...}
 *
 * Usage: deno run --allow-ffi raw_esp_agent.ts receive|send ...
 */
import { openRawEspSocket, type RawEspSocket } from "../../lib/net/raw_esp_linux.ts";
import { SysError } from "../../lib/sys/mod.ts";
import { toHex } from "../../lib/wire/mod.ts";

/** ESP-shaped test payloads: SPI | sequence | bytes; the last one is larger than the MTU. */
export function testPackets(): Uint8Array[] {
  const sizes = [16, 100, 1400, 3000];
  return sizes.map((size, i) => {
    const p = new Uint8Array(size);
    for (let j = 0; j < size; j++) p[j] = (j * 7 + i) & 0xff;
    p.set([0x00, 0x00, 0x10, i + 1, 0, 0, 0, i + 1]);
    return p;
  });
}

/** The answer from the receiver. */
export const REPLY = new Uint8Array([0x00, 0x00, 0x20, 0x01, 0, 0, 0, 1, 0x72, 0x65, 0x70]);

function print(record: Record<string, unknown>): void {
  console.log(JSON.stringify(record));
}

async function receiveOne(
  socket: RawEspSocket,
  buf: Uint8Array,
  deadline: number,
): Promise<{ data: string; length: number; from: string; fromPort: number } | null> {
  while (Date.now() < deadline) {
    const got = socket.tryReceive(buf);
    if (got !== null) {
      return {
        data: toHex(got.data),
        length: got.data.length,
        from: got.from.address,
        fromPort: got.from.port,
      };
    }
    await socket.waitReadable();
  }
  return null;
}

async function receiveMode(bind: string, count: number): Promise<void> {
  const socket = openRawEspSocket({ address: bind, pollTimeoutMs: 200 });
  print({ event: "ready", local: socket.local });
  const buf = new Uint8Array(65535);
  const received = [];
  const deadline = Date.now() + 10_000;
  while (received.length < count) {
    const one = await receiveOne(socket, buf, deadline);
    if (one === null) break;
    received.push(one);
  }
  // Through the DatagramSocket seam: send to the first sender (port is ignored).
  let replyError = "";
  if (received[0]) {
    await socket.send(REPLY, { address: received[0].from, port: 0 })
      .catch((e) => replyError = (e as Error).message);
  }
  // A wait pending on an idle socket returns promptly once the socket is closed.
  const waiting = socket.waitReadable();
  await new Promise((r) => setTimeout(r, 50));
  const closedAt = performance.now();
  socket.close();
  await waiting;
  const closeWakeMs = performance.now() - closedAt;
  let receiveAfterClose = "";
  try {
    socket.tryReceive(buf);
  } catch (e) {
    receiveAfterClose = e instanceof SysError ? e.code : String(e);
  }
  const sendAfterClose = socket.trySend(REPLY, "198.51.100.1");
  print({
    event: "report",
    received,
    replyError,
    closeWakeMs,
    receiveAfterClose,
    sendAfterClose,
    counters: socket.counters.snapshot(),
  });
}

async function sendMode(bind: string, to: string): Promise<void> {
  const socket = openRawEspSocket({ address: bind, pollTimeoutMs: 200 });
  const sent = testPackets().map((p) => socket.trySend(p, to));
  const badAddress = socket.trySend(REPLY, "2001:db8::1");
  const buf = new Uint8Array(65535);
  // Through the DatagramSocket seam: receive() resolves with a fresh result.
  const reply = await Promise.race([
    socket.receive(buf).then(
      (r) => ({ data: toHex(r.data), from: r.from.address }),
      () => null, // closed after the timeout
    ),
    new Promise<null>((r) => setTimeout(() => r(null), 5000)),
  ]);
  socket.close();
  print({ event: "report", sent, badAddress, reply, counters: socket.counters.snapshot() });
}

if (import.meta.main) {
  const [mode, a, b] = Deno.args;
  if (mode === "receive") await receiveMode(a!, Number(b));
  else if (mode === "send") await sendMode(a!, b!);
  else throw new Error(`Cannot run raw_esp_agent: unknown mode ${mode}`);
}
