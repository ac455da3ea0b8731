import { DecodeError } from "../../../lib/wire/mod.ts";
import { ExchangeType, HeaderFlag, PayloadType } from "../../../lib/ike/constants.ts";
import {
  decodeMessage,
  decodePayloadChain,
  encodeMessage,
  encodePayloadChain,
  type Payload,
  UnsupportedCriticalPayloadError,
} from "../../../lib/ike/payloads/mod.ts";
import { AUTH_INNER_PAYLOADS, SA_INIT_HEADER, SA_INIT_PAYLOADS } from "./_samples.ts";
import { assert, assertThrowsError, hex } from "./_helpers.ts";

/** Builds header + raw payload bytes with the header's next payload and length filled in. */
function rawMessage(firstType: number, chain: Uint8Array): Uint8Array {
  const out = new Uint8Array(28 + chain.length);
  out.set(hex("0102030405060708 0000000000000000 00 20 22 08 00000000"));
  out[16] = firstType;
  new DataView(out.buffer).setUint32(24, out.length);
  out.set(chain, 28);
  return out;
}

const NONCE = "0000 0014 000102030405060708090a0b0c0d0e0f"; // last payload, 16-byte nonce

Deno.test("message: IKE_SA_INIT round trips with header fields filled in", () => {
  const bytes = encodeMessage(SA_INIT_HEADER, SA_INIT_PAYLOADS);
  const { header, payloads } = decodeMessage(bytes);
  assert.deepEqual(header, {
    ...SA_INIT_HEADER,
    nextPayload: PayloadType.SecurityAssociation,
    length: bytes.length,
  });
  assert.deepEqual(payloads, SA_INIT_PAYLOADS);
  assert.deepEqual(encodeMessage(SA_INIT_HEADER, payloads), bytes);
});

Deno.test("message: chains next payload types and leaves the critical bit clear", () => {
  const { firstType, bytes } = encodePayloadChain(SA_INIT_PAYLOADS);
  assert.equal(firstType, PayloadType.SecurityAssociation);
  const types: number[] = [];
  for (let at = 0; at < bytes.length;) {
    types.push(bytes[at]!);
    assert.equal(bytes[at + 1], 0);
    at += (bytes[at + 2]! << 8) | bytes[at + 3]!;
  }
  assert.deepEqual(types, [
    PayloadType.KeyExchange,
    PayloadType.Nonce,
    PayloadType.Notify,
    PayloadType.Notify,
    PayloadType.Notify,
    PayloadType.Notify,
    PayloadType.VendorId,
    PayloadType.None,
  ]);
});

Deno.test("message: an IKE_AUTH plaintext chain with every payload kind round trips", () => {
  const { firstType, bytes } = encodePayloadChain(AUTH_INNER_PAYLOADS);
  assert.equal(firstType, PayloadType.IdInitiator);
  assert.deepEqual(decodePayloadChain(firstType, bytes), AUTH_INNER_PAYLOADS);
});

Deno.test("message: an empty message and an empty chain", () => {
  const bytes = encodeMessage({ ...SA_INIT_HEADER, exchangeType: ExchangeType.Informational }, []);
  assert.equal(bytes.length, 28);
  assert.deepEqual(decodeMessage(bytes).payloads, []);
  assert.deepEqual(encodePayloadChain([]), { firstType: 0, bytes: new Uint8Array(0) });
  assert.deepEqual(decodePayloadChain(0, new Uint8Array(0)), []);
});

Deno.test("message: rejects a truncated header", () => {
  const bytes = encodeMessage(SA_INIT_HEADER, SA_INIT_PAYLOADS);
  for (const n of [0, 1, 20, 27]) {
    assertThrowsError(
      () => decodeMessage(bytes.subarray(0, n)),
      DecodeError,
      "Cannot decode IKE header: need 28 bytes",
    );
  }
});

Deno.test("message: rejects a payload length overrunning the message", () => {
  const bytes = rawMessage(PayloadType.Nonce, hex("0000 0015 000102030405060708090a0b0c0d0e0f"));
  const e = assertThrowsError(
    () => decodeMessage(bytes),
    DecodeError,
    "payload length 21 overruns the 20 bytes left",
  );
  assert.equal(e.offset, 30);
});

Deno.test("message: rejects a payload length below 4", () => {
  assertThrowsError(
    () => decodeMessage(rawMessage(PayloadType.Nonce, hex("0000 0003 00"))),
    DecodeError,
    "payload length 3 is shorter than 4",
  );
});

Deno.test("message: rejects a chain that announces a payload after the end", () => {
  const chain = hex(NONCE);
  chain[0] = PayloadType.VendorId;
  assertThrowsError(
    () => decodeMessage(rawMessage(PayloadType.Nonce, chain)),
    DecodeError,
    /a \S+ payload \(type 43\) is announced but the message ends/,
  );
});

Deno.test("message: rejects bytes after the last payload", () => {
  assertThrowsError(
    () => decodeMessage(rawMessage(PayloadType.Nonce, hex(`${NONCE} 00 00`))),
    DecodeError,
    "2 bytes after the last payload",
  );
});

Deno.test("message: an unknown critical payload throws UnsupportedCriticalPayloadError", () => {
  const chain = hex(`28 80 0008 01020304 ${NONCE}`); // type 200, C bit, next = Nonce
  const e = assertThrowsError(
    () => decodeMessage(rawMessage(200, chain)),
    UnsupportedCriticalPayloadError,
    "unsupported critical payload type 200",
  );
  assert.ok(e instanceof DecodeError);
  assert.equal(e.payloadType, 200);
  assert.equal(e.offset, 28);
});

Deno.test("message: an unknown non-critical payload is kept and re-encoded", () => {
  const chain = hex(`28 00 0008 01020304 ${NONCE}`);
  const bytes = rawMessage(200, chain);
  const { header, payloads } = decodeMessage(bytes);
  assert.deepEqual(payloads[0], {
    type: 200,
    unknown: true,
    critical: false,
    body: hex("01020304"),
  });
  assert.equal(payloads[1]?.type, PayloadType.Nonce);
  const { length: _l, nextPayload: _n, ...rest } = header;
  assert.deepEqual(encodeMessage(rest, payloads), bytes);
});

Deno.test("message: the critical bit of a known payload is ignored", () => {
  const chain = hex(NONCE);
  chain[1] = 0x80;
  assert.equal(decodeMessage(rawMessage(PayloadType.Nonce, chain)).payloads.length, 1);
});

Deno.test("message: rejects an SK payload that is not last", () => {
  const chain = hex(`23 00 0008 aabbccdd   00 00 0008 01020304`); // SK, then a Vendor ID
  const e = assertThrowsError(
    () => decodeMessage(rawMessage(PayloadType.Encrypted, chain)),
    DecodeError,
    "the SK payload is not the last payload (8 bytes follow)",
  );
  assert.equal(e.offset, 36);
  assertThrowsError(
    () => decodeMessage(rawMessage(PayloadType.EncryptedFragment, chain)),
    DecodeError,
    "the SKF payload is not the last payload",
  );
});

Deno.test("message: encoding refuses an SK payload that is not last", () => {
  const payloads: Payload[] = [
    { type: PayloadType.Encrypted, innerFirst: PayloadType.IdInitiator, body: hex("00") },
    { type: PayloadType.VendorId, data: hex("00") },
  ];
  assertThrowsError(
    () => encodePayloadChain(payloads),
    RangeError,
    "the SK payload must be the last payload",
  );
});

Deno.test("message: an unencrypted payload may precede SK", () => {
  const payloads: Payload[] = [
    { type: PayloadType.VendorId, data: hex("0102") },
    { type: PayloadType.Encrypted, innerFirst: PayloadType.Notify, body: hex("0a0b0c") },
  ];
  const header = {
    ...SA_INIT_HEADER,
    exchangeType: ExchangeType.Informational,
    flags: HeaderFlag.Response,
  };
  assert.deepEqual(decodeMessage(encodeMessage(header, payloads)).payloads, payloads);
});

Deno.test("message: decodePayloadChain applies the same rules and shifts error offsets", () => {
  const critical = hex(`28 80 0008 01020304 ${NONCE}`);
  const e = assertThrowsError(
    () => decodePayloadChain(200, critical, 36),
    UnsupportedCriticalPayloadError,
    "type 200 (at offset 36)",
  );
  assert.equal(e.offset, 36);
  assert.equal(e.payloadType, 200);
  const short = hex("0000 000f 000102030405060708090a0b");
  const d = assertThrowsError(
    () => decodePayloadChain(PayloadType.Nonce, short, 100),
    DecodeError,
    "Cannot decode Nonce payload: 11 bytes is outside 16..256 (at offset 104)",
  );
  assert.equal(d.offset, 104);
  assert.equal(d.message.match(/at offset/g)?.length, 1);
});

Deno.test("message: errors from a payload body name the payload", () => {
  const badNonce = hex("0000 0013 000102030405060708090a0b0c0d0e"); // 15 bytes
  assertThrowsError(
    () => decodeMessage(rawMessage(PayloadType.Nonce, badNonce)),
    DecodeError,
    "Cannot decode Nonce payload: 15 bytes is outside 16..256 (at offset 32)",
  );
});
