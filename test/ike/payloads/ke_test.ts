import { ByteReader, DecodeError } from "../../../lib/wire/mod.ts";
import { DhGroup, PayloadType } from "../../../lib/ike/constants.ts";
import {
  decodeKe,
  decodePayloadChain,
  encodeKe,
  encodePayloadChain,
  keLength,
  type KePayload,
} from "../../../lib/ike/payloads/mod.ts";
import { assert, assertRoundTrip, assertThrowsError, hex, written } from "./_helpers.ts";

const KEY = Uint8Array.from({ length: 32 }, (_, i) => i);
const KE: KePayload = { type: PayloadType.KeyExchange, dhGroup: DhGroup.Curve25519, keyData: KEY };
// Generic header (next = Nonce 0x28, length 40) + DH group 31 + RESERVED + 32 bytes (RFC 7296 §3.4).
const GOLDEN = hex(`
  28 00 00 28  00 1f 00 00
  000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f
`);

Deno.test("KE: decodes the hand-made Curve25519 vector", () => {
  const [ke, nonce] = decodePayloadChain(
    PayloadType.KeyExchange,
    new Uint8Array([...GOLDEN, 0, 0, 0, 20, ...new Uint8Array(16)]),
  );
  assert.deepEqual(ke, KE);
  assert.equal(nonce?.type, PayloadType.Nonce);
});

Deno.test("KE: encodes to the hand-made vector", () => {
  const nonce = { type: PayloadType.Nonce, nonce: new Uint8Array(16) } as const;
  const { bytes } = encodePayloadChain([KE, nonce]);
  assert.deepEqual(bytes.subarray(0, 40), GOLDEN);
  assert.deepEqual(written((w) => encodeKe(KE, w)), GOLDEN.subarray(4));
  assert.equal(keLength(KE), 36);
});

Deno.test("KE: round trips a MODP-2048 value", () => {
  assertRoundTrip({
    type: PayloadType.KeyExchange,
    dhGroup: DhGroup.Modp2048,
    keyData: new Uint8Array(256).fill(0xa5),
  });
});

Deno.test("KE: copies key data out of the datagram", () => {
  const body = GOLDEN.slice(4);
  const ke = decodeKe(new ByteReader(body));
  body[4] = 0xff;
  assert.equal(ke.keyData[0], 0);
});

Deno.test("KE: rejects a body shorter than its 4-byte fixed part", () => {
  assertThrowsError(
    () => decodeKe(new ByteReader(hex("00 1f 00"))),
    DecodeError,
    "Cannot decode KE payload reserved field",
  );
});
