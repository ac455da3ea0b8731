/**
 * A UDP relay between two gateways for the replay-window namespace test (started by
 * replay_relay_test.ts in the middle namespace). It listens on ports 500 and 4500 on both sides
 * and forwards gw1 ↔ gw2, so each gateway uses the relay's address as its peer. IKE, NAT
 * keepalives and everything from gw2 pass unchanged; ESP datagrams from gw1 (port 4500, a
 * non-zero SPI in the first 4 bytes) are reordered and duplicated on a fixed schedule by their
 * arrival index `i`:
 *
 *   i % 50 ==  5  duplicate: sent twice back to back
 *   i % 50 == 12  late duplicate: sent, and a copy sent again after 8 later arrivals
 *   i % 50 == 20  in-window reorder: held back, sent after 7 later arrivals
 *   i % 50 == 30  beyond the window: held back, sent after 40 later arrivals (window 32)
 *   i % 50 == 41  late duplicate beyond the window: sent, a copy after 45 later arrivals
 *
 * Toward gw2 the relay pauses 1 ms after every 4 ESP datagrams. Held packets and copies still
 * due are sent at once when no ESP arrived for 20 ms (the end of a burst) or on SIGUSR1, which
 * also records a mark: the number of ESP datagrams forwarded so far.
 * The relay logs the SPI and sequence number of every ESP datagram it forwards toward gw2, in
 * the order it sent them, so that the test can run its own replay-window model over exactly
 * what gw2 received.
 *
 * Prints `{"event":"ready"}` once its sockets are open and `{"event":"mark","forwarded":n}` per
 * SIGUSR1; on SIGTERM prints `{"event":"done", ...}` with the counts and the log, and exits.
 *
 * Usage (UDP sockets need the unstable flags of deno.json):
 *   deno run --allow-net --config deno.json replay_relay_agent.ts <address toward gw1>
 *     <address toward gw2> <gw2 address>
 */

/** What the schedule does with the ESP datagram of one arrival index. */
const Action = {
  Duplicate: "duplicate",
  LateDuplicate: "lateDuplicate",
  Reorder: "reorder",
  BeyondWindow: "beyondWindow",
  LateDuplicateBeyondWindow: "lateDuplicateBeyondWindow",
} as const;
type ActionName = typeof Action[keyof typeof Action];

const SCHEDULE_PERIOD = 50;
/** Arrival index modulo {@link SCHEDULE_PERIOD} → what to do and after how many arrivals. */
const SCHEDULE: ReadonlyMap<number, { action: ActionName; after: number; hold: boolean }> = new Map(
  [
    [5, { action: Action.Duplicate, after: 0, hold: false }],
    [12, { action: Action.LateDuplicate, after: 8, hold: false }],
    [20, { action: Action.Reorder, after: 7, hold: true }],
    [30, { action: Action.BeyondWindow, after: 40, hold: true }],
    [41, { action: Action.LateDuplicateBeyondWindow, after: 45, hold: false }],
  ],
);
const IDLE_FLUSH_MS = 20;
/**
 * ESP datagrams sent toward gw2 between two 1 ms pauses: paces a TCP stream (which adapts to
 * the relay's own receive buffer) so that gw2's socket never overflows; every forwarded
 * datagram must reach gw2's window for the test's count to be exact.
 */
const BURST = 4;
const PORTS = [500, 4500] as const;
const ESP_PORT = 4500;
const ESP_HEADER_LENGTH = 8;

const [towardGw1, towardGw2, gw2Arg] = Deno.args;
if (!towardGw1 || !towardGw2 || !gw2Arg) {
  console.error(
    "usage: replay_relay_agent.ts <address toward gw1> <address toward gw2> <gw2 address>",
  );
  Deno.exit(2);
}
const gw2Address: string = gw2Arg;

/** A datagram due after `remaining` more ESP arrivals from gw1. */
interface Pending {
  data: Uint8Array;
  remaining: number;
  action: ActionName;
}

const counts: Record<ActionName | "released" | "releasedEarly", number> = {
  duplicate: 0,
  lateDuplicate: 0,
  reorder: 0,
  beyondWindow: 0,
  lateDuplicateBeyondWindow: 0,
  released: 0,
  releasedEarly: 0,
};
/** SPIs (hex) of the ESP datagrams forwarded toward gw2. */
const spis = new Set<string>();
/** Sequence numbers of the ESP datagrams forwarded toward gw2, in the order they were sent. */
const sequence: number[] = [];
const marks: number[] = [];
let received = 0;
let markRequested = false;
let stopRequested = false;
Deno.addSignalListener("SIGUSR1", () => (markRequested = true));
Deno.addSignalListener("SIGTERM", () => (stopRequested = true));

const gw1Side = new Map<number, Deno.DatagramConn>();
const gw2Side = new Map<number, Deno.DatagramConn>();
/** The gw1 endpoint last seen per port: where gw2's answers go. */
const gw1Endpoint = new Map<number, Deno.NetAddr>();
for (const port of PORTS) {
  gw1Side.set(port, Deno.listenDatagram({ transport: "udp", hostname: towardGw1, port }));
  gw2Side.set(port, Deno.listenDatagram({ transport: "udp", hostname: towardGw2, port }));
}

function isEsp(data: Uint8Array): boolean {
  return data.length >= ESP_HEADER_LENGTH && (data[0]! | data[1]! | data[2]! | data[3]!) !== 0;
}

/** Sends one ESP datagram toward gw2 and logs it (the only sender of ESP to gw2). */
async function forwardEsp(data: Uint8Array): Promise<void> {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  spis.add(view.getUint32(0).toString(16).padStart(8, "0"));
  sequence.push(view.getUint32(4));
  if (sequence.length % BURST === 0) await new Promise((r) => setTimeout(r, 1));
  await gw2Side.get(ESP_PORT)!.send(data, {
    transport: "udp",
    hostname: gw2Address,
    port: ESP_PORT,
  });
}

const pending: Pending[] = [];

/** Sends every pending datagram whose count ran out (all of them with `all`), oldest first. */
async function release(all: boolean): Promise<void> {
  for (let k = 0; k < pending.length;) {
    const p = pending[k]!;
    if (all || p.remaining <= 0) {
      pending.splice(k, 1);
      if (p.remaining > 0) counts.releasedEarly++;
      counts.released++;
      await forwardEsp(p.data);
    } else {
      k++;
    }
  }
}

/** One ESP datagram from gw1: the schedule by arrival index. */
async function relayEspFromGw1(data: Uint8Array): Promise<void> {
  const index = received++;
  for (const p of pending) p.remaining--;
  const step = SCHEDULE.get(index % SCHEDULE_PERIOD);
  if (step !== undefined) counts[step.action]++;
  if (step === undefined || !step.hold) await forwardEsp(data);
  if (step?.action === Action.Duplicate) await forwardEsp(data);
  else if (step !== undefined) pending.push({ data, remaining: step.after, action: step.action });
  await release(false);
}

const delay = (ms: number) => new Promise<"idle">((r) => setTimeout(() => r("idle"), ms));

/** gw1 → gw2 on the ESP port: the scheduled path; SIGUSR1 and SIGTERM are handled when idle. */
async function runEspFromGw1(): Promise<void> {
  const socket = gw1Side.get(ESP_PORT)!;
  let next = socket.receive();
  for (;;) {
    const got = await Promise.race([next, delay(IDLE_FLUSH_MS)]);
    if (got !== "idle") {
      next = socket.receive();
      const [data, from] = got;
      gw1Endpoint.set(ESP_PORT, from as Deno.NetAddr);
      if (isEsp(data)) {
        await relayEspFromGw1(data);
      } else {
        await gw2Side.get(ESP_PORT)!.send(data, {
          transport: "udp",
          hostname: gw2Address,
          port: ESP_PORT,
        });
      }
      continue;
    }
    await release(true);
    if (markRequested) {
      markRequested = false;
      marks.push(sequence.length);
      console.log(JSON.stringify({ event: "mark", forwarded: sequence.length }));
    }
    if (stopRequested) return;
  }
}

/** Everything else: forwarded unchanged. */
async function runPlain(port: number, fromGw1: boolean): Promise<void> {
  const socket = (fromGw1 ? gw1Side : gw2Side).get(port)!;
  const out = (fromGw1 ? gw2Side : gw1Side).get(port)!;
  for (;;) {
    const [data, from] = await socket.receive();
    if (fromGw1) {
      gw1Endpoint.set(port, from as Deno.NetAddr);
      await out.send(data, { transport: "udp", hostname: gw2Address, port });
    } else {
      const to = gw1Endpoint.get(port);
      if (to !== undefined) await out.send(data, to);
    }
  }
}

for (const port of PORTS) {
  if (port !== ESP_PORT) runPlain(port, true).catch(() => {});
  runPlain(port, false).catch(() => {});
}
console.log(JSON.stringify({ event: "ready" }));
try {
  await runEspFromGw1();
  console.log(JSON.stringify({
    event: "done",
    received,
    forwarded: sequence.length,
    counts,
    spis: [...spis],
    marks,
    sequence,
  }));
} catch (e) {
  console.log(
    JSON.stringify({ event: "error", message: e instanceof Error ? e.message : String(e) }),
  );
}
Deno.exit(0);
