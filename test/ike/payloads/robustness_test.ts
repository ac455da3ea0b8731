// Mutation robustness: decoding arbitrary corruptions of valid messages must only ever return a
// value or throw DecodeError (or a subclass) — never a TypeError, RangeError or anything else.
import { DecodeError } from "../../../lib/wire/mod.ts";
import { ExchangeType, PayloadType, ProtocolId } from "../../../lib/ike/constants.ts";
import {
  decodeMessage,
  decodePayloadChain,
  encodeMessage,
  encodePayloadChain,
} from "../../../lib/ike/payloads/mod.ts";
import { AUTH_INNER_PAYLOADS, SA_INIT_HEADER, SA_INIT_PAYLOADS } from "./_samples.ts";
import { assert } from "./_helpers.ts";

/** mulberry32: a small deterministic PRNG so failures reproduce. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Offsets of every generic payload header in a chain starting at `start`. */
function payloadOffsets(bytes: Uint8Array, start: number, firstType: number): number[] {
  const out: number[] = [];
  let type = firstType;
  for (let at = start; type !== 0 && at + 4 <= bytes.length;) {
    out.push(at);
    if (type === PayloadType.Encrypted) break;
    type = bytes[at]!;
    at += (bytes[at + 2]! << 8) | bytes[at + 3]!;
  }
  return out;
}

function mutate(
  original: Uint8Array,
  payloadHeaders: number[],
  hasHeader: boolean,
  random: () => number,
): Uint8Array {
  const pick = (n: number) => Math.floor(random() * n);
  // Length fields to tweak: each generic header's Payload Length (+2) and, a few words into
  // the body, where SA proposal/transform and TS selector lengths sit (+6, +10, +14).
  const lengthFields = payloadHeaders.flatMap((at) => [at + 2, at + 6, at + 10, at + 14]);
  let bytes = original.slice();
  const rounds = 1 + pick(3);
  for (let r = 0; r < rounds; r++) {
    switch (pick(8)) {
      case 0: // flip one bit anywhere
        if (bytes.length > 0) bytes[pick(bytes.length)]! ^= 1 << pick(8);
        break;
      case 1: // overwrite a byte
        if (bytes.length > 0) bytes[pick(bytes.length)] = pick(256);
        break;
      case 2: // truncate
        bytes = bytes.slice(0, pick(bytes.length + 1));
        break;
      case 3: // append junk
        bytes = new Uint8Array([...bytes, ...Array.from({ length: 1 + pick(8) }, () => pick(256))]);
        break;
      case 4: { // tweak a payload or substructure length field
        const at = lengthFields[pick(lengthFields.length)]!;
        if (at + 1 < bytes.length) {
          const v = ((bytes[at]! << 8) | bytes[at + 1]!) + [-5, -4, -1, 1, 4, 100][pick(6)]!;
          const value = pick(4) === 0 ? pick(0x10000) : v & 0xffff;
          bytes[at] = value >> 8;
          bytes[at + 1] = value & 0xff;
        }
        break;
      }
      case 5: { // change a next-payload field
        const at = payloadHeaders[pick(payloadHeaders.length)]!;
        if (at < bytes.length) bytes[at] = [0, 33, 34, 40, 41, 46, 53, 200][pick(8)]!;
        break;
      }
      case 7: { // set the critical bit
        const at = payloadHeaders[pick(payloadHeaders.length)]! + 1;
        if (at < bytes.length) bytes[at]! |= 0x80;
        break;
      }
      case 6: // zero a run
        if (bytes.length > 0) {
          const from = pick(bytes.length);
          bytes.fill(0, from, from + 1 + pick(6));
        }
        break;
    }
  }
  // Half of the time keep the IKE header length consistent, so the payload decoders are reached.
  if (hasHeader && bytes.length >= 28 && random() < 0.5) {
    new DataView(bytes.buffer).setUint32(24, bytes.length);
  }
  return bytes;
}

Deno.test("robustness: 20000 mutated messages only ever decode or throw DecodeError", () => {
  const saInit = encodeMessage(SA_INIT_HEADER, SA_INIT_PAYLOADS);
  const inner = encodePayloadChain(AUTH_INNER_PAYLOADS);
  const informational = encodeMessage({
    ...SA_INIT_HEADER,
    exchangeType: ExchangeType.Informational,
  }, [
    { type: PayloadType.Delete, protocol: ProtocolId.Esp, spiSize: 4, spis: [new Uint8Array(4)] },
    { type: PayloadType.Encrypted, innerFirst: PayloadType.Delete, body: new Uint8Array(24) },
  ]);
  const cases = [
    {
      bytes: saInit,
      headers: payloadOffsets(saInit, 28, PayloadType.SecurityAssociation),
      header: true,
    },
    { bytes: inner.bytes, headers: payloadOffsets(inner.bytes, 0, inner.firstType), header: false },
    {
      bytes: informational,
      headers: payloadOffsets(informational, 28, PayloadType.Delete),
      header: true,
    },
  ];
  const random = prng(0x5eed1234);
  const outcomes = { decoded: 0, decodeErrors: 0, critical: 0 };
  for (let i = 0; i < 20000; i++) {
    const c = cases[i % cases.length]!;
    const bytes = mutate(c.bytes, c.headers, c.header, random);
    try {
      if (c.header) decodeMessage(bytes);
      else decodePayloadChain(inner.firstType, bytes, 28);
      outcomes.decoded++;
    } catch (e) {
      if (!(e instanceof DecodeError)) {
        throw new Error(
          `mutation ${i} threw ${e instanceof Error ? e.name : typeof e}: ${String(e)}`,
          { cause: e },
        );
      }
      if (e.name === "UnsupportedCriticalPayloadError") outcomes.critical++;
      outcomes.decodeErrors++;
    }
  }
  // The mutations must exercise both outcomes, or the test proves little.
  assert.ok(outcomes.decoded > 1000, `only ${outcomes.decoded} mutations decoded`);
  assert.ok(outcomes.critical > 10, `only ${outcomes.critical} unsupported critical payloads`);
  if (Deno.env.get("RH_VERBOSE")) console.log(outcomes);
  assert.ok(outcomes.decodeErrors > 5000, `only ${outcomes.decodeErrors} mutations failed`);
});
