/**
 * Micro-benchmarks of the ESP hot path (`deno task bench:micro`): one 1400-byte IPv4 packet
 * encapsulated or decapsulated per iteration with the libcrypto (FFI) provider the data path
 * uses, for AES-GCM-128, AES-GCM-256 and AES-CBC-256 + HMAC-SHA-256-128; and one anti-replay
 * check + update per iteration, in order and out of order.
 *
 * Decapsulation decrypts the same packet again and again into a separate buffer, so its SA has
 * anti-replay off (the window is measured on its own); the ICV is verified every time.
 *
 * The offload group runs a worker's per-segment work on one 64 KiB TCP super packet (47
 * segments of MSS 1360, AES-GCM-256) in packet memory (`_checksum_wasm.ts`), as the workers
 * keep it: split straight into send slots and encrypt there; then decrypt the 47 ESP packets
 * and coalesce them into one super frame. Divide by 47 for the cost per segment.
 */
import { LibcryptoProvider } from "../../lib/crypto/mod.ts";
import {
  ChecksumMemory,
  decapsulate,
  encapsulate,
  encapsulatedLength,
  encapsulatedTextStart,
  encapsulateInPlace,
  ESP_HEADROOM,
  GroCoalescer,
  GsoSplitter,
  ReplayWindow,
  useChecksumMemory,
} from "../../lib/esp/mod.ts";
import { VNET_HDR_LENGTH } from "../../lib/net/mod.ts";
import { ipv4Packet, saPair } from "../esp/_helpers.ts";
import { ACK, payloadBytes, superFrame } from "../esp/_offload_packets.ts";

/** Inner packet size of the per-packet benchmarks. */
const PACKET_LENGTH = 1400;
/** Suites measured, as negotiated names. */
const SUITES = ["aes128gcm16", "aes256gcm16", "aes256-sha256"] as const;
/** Out-of-order pattern: each block of this many sequence numbers arrives shuffled. */
const REORDER_BLOCK = 64;

const crypto = new LibcryptoProvider();
const packet = ipv4Packet(PACKET_LENGTH);

for (const suite of SUITES) {
  const { outbound, inbound } = saPair(suite, crypto, { replayWindow: 0 });
  const out = new Uint8Array(encapsulatedLength(outbound, PACKET_LENGTH) + ESP_HEADROOM);
  Deno.bench({
    name: `encapsulate ${PACKET_LENGTH} B ${suite}`,
    group: "encapsulate",
    baseline: suite === "aes256gcm16",
    fn() {
      if (encapsulate(outbound, packet, out) <= 0) throw new Error("Cannot encapsulate");
    },
  });

  const esp = out.slice(0, encapsulate(outbound, packet, out));
  const plain = new Uint8Array(esp.length);
  Deno.bench({
    name: `decapsulate ${PACKET_LENGTH} B ${suite}`,
    group: "decapsulate",
    baseline: suite === "aes256gcm16",
    fn() {
      if (typeof decapsulate(inbound, esp, plain) === "number") {
        throw new Error("Cannot decapsulate");
      }
    },
  });
}

/** Sequence numbers 1, 2, 3, … */
function inOrder(): () => number {
  let seq = 0;
  return () => ++seq;
}

/**
 * Sequence numbers in blocks of {@link REORDER_BLOCK}, each block in one fixed random order:
 * every number arrives once, at most a block late — well inside a 1024 window.
 */
function outOfOrder(): () => number {
  const order = Array.from({ length: REORDER_BLOCK }, (_, i) => i);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const offsets = Uint32Array.from(order);
  let n = 0;
  return () => {
    const base = n - (n % REORDER_BLOCK);
    const seq = base + offsets[n % REORDER_BLOCK]! + 1;
    n++;
    return seq;
  };
}

for (const [name, source] of [["in order", inOrder], ["out of order", outOfOrder]] as const) {
  const window = new ReplayWindow(1024);
  const next = source();
  Deno.bench({
    name: `replay window check + update, ${name}`,
    group: "replay window",
    baseline: name === "in order",
    fn() {
      const seq = next();
      if (!window.check(seq) || !window.update(seq)) throw new Error(`Cannot accept ${seq}`);
    },
  });
}

{
  const window = new ReplayWindow(1024);
  for (let seq = 1; seq <= 4096; seq++) window.update(seq);
  let n = 0;
  Deno.bench({
    name: "replay window check, replayed packet",
    group: "replay window",
    fn() {
      // Inside the window and already seen: the cheap rejection before any decryption.
      if (window.check(4096 - (n++ & 511))) throw new Error("Cannot reject a replay");
    },
  });
}

{
  const memory = ChecksumMemory.create(16 << 20);
  if (memory === null) throw new Error("Cannot create packet memory (WebAssembly SIMD)");
  useChecksumMemory(memory);
  const { outbound, inbound } = saPair("aes256gcm16", crypto, { replayWindow: 0 });
  const mss = 1360;
  const source = superFrame({ payload: payloadBytes(47 * mss), flags: ACK }, mss);
  const frame = memory.alloc(source.length);
  frame.set(source);
  const sendSlots = Array.from({ length: 64 }, () => memory.alloc(2048));
  const textStart = encapsulatedTextStart(outbound);
  const output = {
    segments: sendSlots.map((slot) => slot.subarray(textStart)),
    lengths: new Uint32Array(64),
    start: 0,
  };
  const splitter = new GsoSplitter();
  const espLengths = new Int32Array(64);
  let segments = 0;
  const splitAndEncrypt = () => {
    segments = splitter.split(frame, output);
    for (let j = 0; j < segments; j++) {
      espLengths[j] = encapsulateInPlace(
        outbound,
        sendSlots[j]!,
        output.lengths[j]!,
        undefined,
        output.segments[j],
      );
      if (espLengths[j]! < 0) throw new Error(`Cannot encapsulate segment ${j}`);
    }
  };
  splitAndEncrypt();
  if (segments !== 47) throw new Error(`Expected 47 segments, got ${segments}`);
  Deno.bench({
    name: "split 64 KiB super packet + encapsulate 47 segments in place, aes256gcm16",
    group: "offload",
    fn: splitAndEncrypt,
  });

  const received = Array.from({ length: 47 }, (_, j) => memory.alloc(espLengths[j]!));
  const packets: Uint8Array[] = new Array(47);
  const coalescer = new GroCoalescer({
    maxPackets: 64,
    maxPacketLength: 2048,
    arena: memory.alloc(64 * (2048 + VNET_HDR_LENGTH)),
  });
  Deno.bench({
    name: "decapsulate 47 ESP packets + coalesce into one super frame, aes256gcm16",
    group: "offload",
    fn() {
      for (let j = 0; j < 47; j++) {
        const esp = received[j]!;
        esp.set(sendSlots[j]!.subarray(0, espLengths[j]!)); // decryption is in place
        const result = decapsulate(inbound, esp);
        if (typeof result === "number") throw new Error(`Cannot decapsulate segment ${j}`);
        packets[j] = result.packet;
      }
      if (coalescer.coalesce(packets, 47) !== 1) throw new Error("Cannot coalesce");
    },
  });
}
