/**
 * Micro-benchmarks of the ESP hot path (`deno task bench:micro`): one 1400-byte IPv4 packet
 * encapsulated or decapsulated per iteration with the libcrypto (FFI) provider the data path
 * uses, for AES-GCM-128, AES-GCM-256 and AES-CBC-256 + HMAC-SHA-256-128; and one anti-replay
 * check + update per iteration, in order and out of order.
 *
 * Decapsulation decrypts the same packet again and again into a separate buffer, so its SA has
 * anti-replay off (the window is measured on its own); the ICV is verified every time.
 */
import { LibcryptoProvider } from "../../lib/crypto/mod.ts";
import {
  decapsulate,
  encapsulate,
  encapsulatedLength,
  ESP_HEADROOM,
  ReplayWindow,
} from "../../lib/esp/mod.ts";
import { ipv4Packet, saPair } from "../esp/_helpers.ts";

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
