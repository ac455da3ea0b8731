/**
 * A TUN "loopback" relay for the offload namespace test (started by offload_test.ts inside a
 * relay namespace): opens two TUN devices, moves one into namespace A and one into namespace B,
 * addresses them (A: 10.77.0.1/24 and fd77::1/64, B: 10.77.0.2/24 and fd77::2/64) and relays every packet between them, so
 * that a TCP connection from A to B runs through this process.
 *
 * Modes:
 * - `off`   plain TUNs: read one packet, write it to the other side;
 * - `split` offload TUNs: GsoSplitter → every packet written singly behind a zero vnet header;
 * - `on`    offload TUNs: GsoSplitter → GroCoalescer → super packets written to the other side
 *           (what the data path does around encryption).
 *
 * Prints `{"event":"ready"}` once both sides are up, relays until SIGTERM, then prints
 * `{"event":"done", ...statistics}` and exits.
 *
 * Usage: deno run --allow-ffi --allow-run --allow-read offload_relay_agent.ts
 *          <on|split|off> <namespace A> <namespace B>
 */
import { GroCoalescer } from "../../lib/esp/gro_coalesce.ts";
import { GsoSplitter } from "../../lib/esp/gso_split.ts";
import {
  createVnetHdr,
  decodeVnetHdr,
  openTun,
  type TunDevice,
  VNET_HDR_LENGTH,
  VNET_MAX_PACKET_LENGTH,
} from "../../lib/net/mod.ts";
import { libc, PollEvent, POLLFD_SIZE } from "../../lib/sys/mod.ts";

const MTU = 1500;
/** Frames drained from one side before the batch is coalesced and written. */
const READ_BATCH = 8;
/** Segments per batch: READ_BATCH super packets of ≤ 64 segments each at MSS ≥ 1024. */
const SEGMENT_BATCH = 512;

const [mode, nsA, nsB] = Deno.args;
if ((mode !== "on" && mode !== "off" && mode !== "split") || !nsA || !nsB) {
  console.error("usage: offload_relay_agent.ts <on|split|off> <namespace A> <namespace B>");
  Deno.exit(2);
}
const offload = mode !== "off";

async function must(argv: string[]): Promise<void> {
  const out = await new Deno.Command(argv[0]!, { args: argv.slice(1), stderr: "piped" }).output();
  if (out.code !== 0) {
    throw new Error(`Cannot run "${argv.join(" ")}": ${new TextDecoder().decode(out.stderr)}`);
  }
}

/** One direction's state and statistics. */
class Side {
  readonly frames: Uint8Array[] = Array.from(
    { length: READ_BATCH },
    () => new Uint8Array(VNET_HDR_LENGTH + VNET_MAX_PACKET_LENGTH),
  );
  readonly frameLengths = new Uint32Array(READ_BATCH);
  readonly segments: Uint8Array[] = Array.from(
    { length: SEGMENT_BATCH },
    () => new Uint8Array(MTU),
  );
  readonly segmentLengths = new Uint32Array(SEGMENT_BATCH);
  readonly output = { segments: this.segments, lengths: this.segmentLengths, start: 0 };
  readonly batch: Uint8Array[] = [];
  readonly splitter = new GsoSplitter();
  readonly coalescer = new GroCoalescer({
    maxPackets: SEGMENT_BATCH + READ_BATCH,
    maxPacketLength: MTU,
  });
  readonly hdr = createVnetHdr();
  readonly zeroHeaderFrame = new Uint8Array(VNET_HDR_LENGTH + MTU);
  stats = {
    framesRead: 0,
    bytesRead: 0,
    superFramesRead: 0,
    superFramesReadV6: 0,
    maxFrameLength: 0,
    maxGsoSize: 0,
    minGsoSize: 0,
    splitContinuations: 0,
    packetsWritten: 0,
    superFramesWritten: 0,
    superFramesAccepted: 0,
    maxWrittenLength: 0,
    writeFailures: 0,
    dropped: 0,
  };

  constructor(readonly from: TunDevice, readonly to: TunDevice) {}

  /** Relays what `from` has queued (one batch); returns false when nothing was there. */
  pump(): boolean {
    if (!offload) return this.#pumpPlain();
    let read = 0;
    while (read < READ_BATCH) {
      const n = this.from.tryRead(this.frames[read]!);
      if (n < 0) break;
      this.frameLengths[read++] = n;
    }
    if (read === 0) return false;
    this.batch.length = 0;
    this.output.start = 0;
    for (let f = 0; f < read; f++) {
      const frame = this.frames[f]!.subarray(0, this.frameLengths[f]);
      this.stats.framesRead++;
      this.stats.bytesRead += frame.length - VNET_HDR_LENGTH;
      decodeVnetHdr(frame, this.hdr);
      if (this.hdr.gsoSize > 0 && frame.length - VNET_HDR_LENGTH > MTU) {
        this.stats.superFramesRead++;
        if (frame[VNET_HDR_LENGTH]! >> 4 === 6) this.stats.superFramesReadV6++;
      }
      this.stats.maxFrameLength = Math.max(this.stats.maxFrameLength, frame.length);
      this.stats.maxGsoSize = Math.max(this.stats.maxGsoSize, this.hdr.gsoSize);
      if (this.hdr.gsoSize > 0) {
        this.stats.minGsoSize = this.stats.minGsoSize === 0
          ? this.hdr.gsoSize
          : Math.min(this.stats.minGsoSize, this.hdr.gsoSize);
      }
      if (this.output.start === this.segments.length) {
        // The previous frames filled the output exactly: send them before the next split.
        this.#flush();
        this.output.start = 0;
      }
      let count = this.splitter.split(frame, this.output);
      if (count < 0) this.stats.dropped++;
      else if (count === 0) this.batch.push(frame.subarray(VNET_HDR_LENGTH));
      while (count > 0) {
        const start = this.output.start;
        for (let i = start; i < start + count; i++) {
          this.batch.push(this.segments[i]!.subarray(0, this.segmentLengths[i]));
        }
        this.output.start += count;
        if (this.splitter.pendingSegments === 0) break;
        // The output is full (a small MSS): send what we have, then continue the frame.
        this.#flush();
        this.output.start = 0;
        this.stats.splitContinuations++;
        count = this.splitter.splitMore(this.output);
        if (count < 0) this.stats.dropped++;
      }
    }
    this.#flush();
    return true;
  }

  /** Writes the batch (coalesced, or singly in mode "split") and empties it. */
  #flush(): void {
    if (mode === "split") {
      for (const packet of this.batch) {
        this.zeroHeaderFrame.set(packet, VNET_HDR_LENGTH);
        this.#write(this.zeroHeaderFrame.subarray(0, VNET_HDR_LENGTH + packet.length), false);
      }
    } else {
      const frames = this.coalescer.coalesce(this.batch);
      for (let i = 0; i < frames; i++) {
        const out = this.coalescer.frame(i);
        this.#write(out, out[1] !== 0);
      }
    }
    this.batch.length = 0;
  }

  #pumpPlain(): boolean {
    const buf = this.frames[0]!;
    let any = false;
    for (let k = 0; k < READ_BATCH; k++) {
      const n = this.from.tryRead(buf);
      if (n < 0) break;
      any = true;
      this.stats.framesRead++;
      this.stats.bytesRead += n;
      this.stats.maxFrameLength = Math.max(this.stats.maxFrameLength, n);
      this.#write(buf.subarray(0, n), false);
    }
    return any;
  }

  #write(frame: Uint8Array, isSuper: boolean): void {
    const ok = this.to.write(frame);
    if (!ok) this.stats.writeFailures++;
    this.stats.packetsWritten++;
    this.stats.maxWrittenLength = Math.max(this.stats.maxWrittenLength, frame.length);
    if (isSuper) {
      this.stats.superFramesWritten++;
      if (ok) this.stats.superFramesAccepted++;
    }
  }

  report(): Record<string, unknown> {
    return {
      ...this.stats,
      split: this.splitter.counters.snapshot(),
      coalesce: this.coalescer.counters.snapshot(),
      tunOut: this.to.counters.snapshot(),
    };
  }
}

const tunA = openTun({ name: "rhoffa0", mtu: MTU, offload });
const tunB = openTun({ name: "rhoffb0", mtu: MTU, offload });
let stop = false;
Deno.addSignalListener("SIGTERM", () => (stop = true));
try {
  const sides: [TunDevice, string, string, string][] = [
    [tunA, nsA, "10.77.0.1/24", "fd77::1/64"],
    [tunB, nsB, "10.77.0.2/24", "fd77::2/64"],
  ];
  for (const [tun, ns, address, address6] of sides) {
    await must(["ip", "link", "set", "dev", tun.name, "netns", ns]);
    await must(["ip", "-n", ns, "link", "set", "dev", tun.name, "mtu", String(MTU)]);
    await must(["ip", "-n", ns, "addr", "add", address, "dev", tun.name]);
    await must(["ip", "-n", ns, "addr", "add", address6, "dev", tun.name, "nodad"]);
    await must(["ip", "-n", ns, "link", "set", "dev", tun.name, "up"]);
  }
  const aToB = new Side(tunA, tunB);
  const bToA = new Side(tunB, tunA);
  const pollFds = new Uint8Array(POLLFD_SIZE * 2);
  const view = new DataView(pollFds.buffer);
  view.setInt32(0, tunA.fd, true);
  view.setInt16(4, PollEvent.POLLIN, true);
  view.setInt32(POLLFD_SIZE, tunB.fd, true);
  view.setInt16(POLLFD_SIZE + 4, PollEvent.POLLIN, true);
  const c = libc();
  console.log(JSON.stringify({ event: "ready", offload: tunA.offload, vnet: tunA.vnetHdrLength }));
  const started = performance.now();
  let busyMs = 0;
  while (!stop) {
    const t0 = performance.now();
    const a = aToB.pump();
    const b = bToA.pump();
    if (a || b) {
      busyMs += performance.now() - t0;
      continue;
    }
    await c.pollWait(pollFds, 2n, 100);
  }
  console.log(JSON.stringify({
    event: "done",
    mode,
    seconds: (performance.now() - started) / 1000,
    busySeconds: busyMs / 1000,
    aToB: aToB.report(),
    bToA: bToA.report(),
  }));
} catch (e) {
  console.log(
    JSON.stringify({ event: "error", message: e instanceof Error ? e.message : String(e) }),
  );
} finally {
  tunA.close();
  tunB.close();
}
