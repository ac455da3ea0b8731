/**
 * The raw ESP socket end to end (needs root): two namespaces on a veth (198.51.100.1 ⇄
 * 198.51.100.2, MTU 1500). The agent in `b` listens on a raw IP-protocol-50 socket bound to
 * 0.0.0.0, the agent in `a` (bound to 198.51.100.1) sends four ESP-shaped packets, one larger
 * than the MTU; `b` must receive each exactly, IPv4 header stripped, from 198.51.100.1, and
 * its answer must reach `a`. tcpdump on b's veth shows protocol 50 on the wire.
 */
import { assert, assertEquals } from "../_assert.ts";
import { toHex } from "../../lib/wire/mod.ts";
import { NetnsError, requireRoot, withLab } from "./harness.ts";
import { PacketCapture } from "./pcap.ts";
import { REPLY, testPackets } from "./raw_esp_agent.ts";

const AGENT = new URL("./raw_esp_agent.ts", import.meta.url).pathname;

interface ReceiveReport {
  event: "report";
  received: { data: string; length: number; from: string; fromPort: number }[];
  replyError: string;
  closeWakeMs: number;
  receiveAfterClose: string;
  sendAfterClose: boolean;
  counters: Record<string, number>;
}

interface SendReport {
  event: "report";
  sent: boolean[];
  badAddress: boolean;
  reply: { data: string; from: string } | null;
  counters: Record<string, number>;
}

/** Reads JSON lines from a stream until one with `event`. */
async function nextRecord(
  reader: ReadableStreamDefaultReader<string>,
  state: { buffer: string },
  event: string,
): Promise<Record<string, unknown>> {
  for (;;) {
    const newline = state.buffer.indexOf("\n");
    if (newline >= 0) {
      const line = state.buffer.slice(0, newline).trim();
      state.buffer = state.buffer.slice(newline + 1);
      if (line === "") continue;
      const record = JSON.parse(line) as Record<string, unknown>;
      if (record.event === event) return record;
      continue;
    }
    const { value, done } = await reader.read();
    if (done) throw new NetnsError(`Cannot read "${event}" from the raw ESP agent: it exited`);
    state.buffer += value;
  }
}

Deno.test({
  name: "raw ESP socket sends and receives IP protocol 50 between two namespaces",
  ignore: requireRoot(),
  fn: () =>
    withLab(async (lab) => {
      await lab.addNamespace("a");
      await lab.addNamespace("b");
      const { devB } = await lab.link("a", "198.51.100.1/24", "b", "198.51.100.2/24");
      const capture = await PacketCapture.start(lab, "b", devB, { filter: "not ip6" });
      const packets = testPackets();

      const receiver = lab.spawn("b", [
        Deno.execPath(),
        "run",
        "--allow-ffi",
        AGENT,
        "receive",
        "0.0.0.0",
        String(packets.length),
      ], { pipeStdout: true });
      const reader = receiver.stdout!.pipeThrough(new TextDecoderStream()).getReader();
      const state = { buffer: "" };
      const ready = await nextRecord(reader, state, "ready");
      assertEquals(ready.local, { address: "0.0.0.0", port: 0 });

      const sender = await lab.execChecked("a", [
        Deno.execPath(),
        "run",
        "--allow-ffi",
        AGENT,
        "send",
        "198.51.100.1",
        "198.51.100.2",
      ], { timeoutMs: 30_000 });
      const sent = JSON.parse(sender.stdout) as SendReport;
      const got = await nextRecord(reader, state, "report") as unknown as ReceiveReport;
      reader.releaseLock();
      assertEquals((await receiver.status).code, 0, "the receiving agent exits cleanly");
      const wire = await capture.stop();

      // Sender side.
      assertEquals(sent.sent, [true, true, true, true], "every sendto succeeded");
      assertEquals(sent.badAddress, false, "an IPv6 destination is refused, not thrown");
      assertEquals(sent.counters.txPackets, 4);
      assertEquals(sent.counters.txErrors, 1);
      assertEquals(sent.reply, { data: toHex(REPLY), from: "198.51.100.2" });

      // Receiver side: each payload exactly, header stripped, from the sender, port 0.
      assertEquals(got.received.length, packets.length);
      for (const [i, p] of packets.entries()) {
        assertEquals(got.received[i]!.length, p.length, `packet ${i} length`);
        assertEquals(got.received[i]!.data, toHex(p), `packet ${i} bytes`);
        assertEquals(got.received[i]!.from, "198.51.100.1");
        assertEquals(got.received[i]!.fromPort, 0);
      }
      assertEquals(got.replyError, "");
      assertEquals(got.counters.rxPackets, packets.length);
      assertEquals(got.counters.rxMalformed, 0);
      assert(got.closeWakeMs < 150, `close woke the pending wait after ${got.closeWakeMs} ms`);
      assertEquals(got.receiveAfterClose, "EBADF");
      assertEquals(got.sendAfterClose, false);

      // On the wire: IP protocol 50 both ways, the 3000-byte packet in fragments, no UDP.
      const toB = wire.filter((p) => p.protocol === 50 && p.destination === "198.51.100.2");
      const toA = wire.filter((p) => p.protocol === 50 && p.destination === "198.51.100.1");
      assertEquals(toB.length, packets.length, "one first fragment or packet per send");
      assertEquals(
        toB.map((p) => toHex(p.payload.subarray(0, 8))),
        packets.map((p) => toHex(p.subarray(0, 8))),
      );
      assertEquals(toA.length, 1);
      assertEquals(toHex(toA[0]!.payload), toHex(REPLY));
      assertEquals(wire.filter((p) => p.protocol === 17).length, 0, "no UDP at all");
    }, { timeoutMs: 90_000 }),
});
