import { ByteReader, DecodeError } from "../../../lib/wire/mod.ts";
import { PayloadType } from "../../../lib/ike/constants.ts";
import { decodeNonce, encodeNonce } from "../../../lib/ike/payloads/mod.ts";
import { assert, assertRoundTrip, assertThrowsError, written } from "./_helpers.ts";

Deno.test("Nonce: rejects a nonce shorter than 16 bytes", () => {
  const e = assertThrowsError(
    () => decodeNonce(new ByteReader(new Uint8Array(15))),
    DecodeError,
    "Cannot decode Nonce payload: 15 bytes is outside 16..256",
  );
  assert.equal(e.offset, 0);
});

Deno.test("Nonce: rejects a nonce longer than 256 bytes", () => {
  assertThrowsError(
    () => decodeNonce(new ByteReader(new Uint8Array(257))),
    DecodeError,
    "257 bytes is outside 16..256",
  );
});

Deno.test("Nonce: accepts 16 and 256 bytes and round trips", () => {
  for (const n of [16, 32, 256]) {
    const nonce = Uint8Array.from({ length: n }, (_, i) => i);
    assert.deepEqual(decodeNonce(new ByteReader(nonce)), { type: PayloadType.Nonce, nonce });
    assertRoundTrip({ type: PayloadType.Nonce, nonce });
  }
});

Deno.test("Nonce: encode refuses a nonce outside 16..256 bytes", () => {
  assertThrowsError(
    () => written((w) => encodeNonce({ type: PayloadType.Nonce, nonce: new Uint8Array(8) }, w)),
    RangeError,
    "Cannot encode Nonce payload: 8 bytes",
  );
});
