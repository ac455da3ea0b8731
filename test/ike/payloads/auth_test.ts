import { ByteReader, DecodeError } from "../../../lib/wire/mod.ts";
import { AuthMethod, PayloadType } from "../../../lib/ike/constants.ts";
import { decodeAuth } from "../../../lib/ike/payloads/mod.ts";
import { assert, assertRoundTrip, assertThrowsError, hex } from "./_helpers.ts";

Deno.test("AUTH: decodes method, skips RESERVED, copies data", () => {
  assert.deepEqual(decodeAuth(new ByteReader(hex("02 ffffff 0102030405"))), {
    type: PayloadType.Authentication,
    method: AuthMethod.SharedKeyMic,
    data: hex("0102030405"),
  });
});

Deno.test("AUTH: round trips a digital signature", () => {
  assertRoundTrip({
    type: PayloadType.Authentication,
    method: AuthMethod.DigitalSignature,
    data: new Uint8Array(300).fill(7),
  });
});

Deno.test("AUTH: rejects a body shorter than 4 bytes", () => {
  assertThrowsError(
    () => decodeAuth(new ByteReader(hex("02 00"))),
    DecodeError,
    "AUTH payload reserved field",
  );
});
