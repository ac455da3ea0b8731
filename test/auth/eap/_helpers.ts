/** Shared helpers for the EAP tests: deterministic randomness and a back-to-back driver. */
import type { EapConversation, EapStep, RandomSource } from "../../../lib/auth/eap/mod.ts";
import { fromHex } from "../../../lib/wire/mod.ts";

export const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

/** Hex with spaces and comments (`# ...` to end of line) stripped, as in the RFC listings. */
export function hex(text: string): Uint8Array {
  return fromHex(text.replace(/#[^\n]*/g, ""));
}

/**
 * A random source that hands out `chunks` in order; each call must ask for exactly the next
 * chunk's length, so a test also pins down what the machine draws and when.
 */
export function scriptedRandom(...chunks: Uint8Array[]): RandomSource & { left(): number } {
  const queue = [...chunks];
  const source = (out: Uint8Array) => {
    const next = queue.shift();
    if (!next) throw new Error(`scriptedRandom: no chunk left for ${out.length} bytes`);
    if (next.length !== out.length) {
      throw new Error(
        `scriptedRandom: asked for ${out.length} bytes, next chunk has ${next.length}`,
      );
    }
    out.set(next);
  };
  return Object.assign(source, { left: () => queue.length });
}

/** A random source of a fixed byte stream (a simple LCG): deterministic, not scripted. */
export function seededRandom(seed: number): RandomSource {
  let state = seed >>> 0;
  return (out) => {
    for (let i = 0; i < out.length; i++) {
      state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
      out[i] = state >>> 24;
    }
  };
}

export interface Transcript {
  /** Every packet in wire order, tagged with its sender. */
  packets: { from: "server" | "peer"; bytes: Uint8Array }[];
  server: EapStep["done"];
  peer: EapStep["done"];
}

/**
 * Runs a server and a peer back to back (as the IKE engine would, one EAP payload per IKE
 * message) until both are done or one side stops sending. `tamper` may rewrite any packet.
 */
export function converse(
  server: EapConversation,
  peer: EapConversation,
  tamper: (from: "server" | "peer", bytes: Uint8Array, index: number) => Uint8Array = (_f, b) => b,
): Transcript {
  const transcript: Transcript = { packets: [], server: undefined, peer: undefined };
  peer.start();
  let step = server.start();
  for (let round = 0; round < 20; round++) {
    if (step.done) transcript.server = step.done;
    if (!step.send) break;
    const toPeer = tamper("server", step.send, transcript.packets.length);
    transcript.packets.push({ from: "server", bytes: toPeer });
    const reply = peer.handle(toPeer);
    if (reply.done) transcript.peer = reply.done;
    if (!reply.send || transcript.server) break;
    const toServer = tamper("peer", reply.send, transcript.packets.length);
    transcript.packets.push({ from: "peer", bytes: toServer });
    step = server.handle(toServer);
  }
  return transcript;
}
