import { DecodeError } from "../../../lib/wire/mod.ts";
import { PayloadType } from "../../../lib/ike/constants.ts";
import {
  decodeFragmentNumbers,
  decodeMessage,
  encodeFragmentNumbers,
  type OpaquePayload,
} from "../../../lib/ike/payloads/mod.ts";
import { assert, assertThrowsError, hex } from "./_helpers.ts";

Deno.test("SKF: reads Fragment Number and Total Fragments in front of the IV", () => {
  assert.deepEqual(decodeFragmentNumbers(hex("0002 0003 aabbccdd")), { number: 2, total: 3 });
  assert.deepEqual(decodeFragmentNumbers(hex("ffff ffff")), { number: 0xffff, total: 0xffff });
});

Deno.test("SKF: writes the numbers big-endian at an offset", () => {
  const out = new Uint8Array(6);
  encodeFragmentNumbers({ number: 1, total: 0x0102 }, out, 2);
  assert.deepEqual(out, hex("0000 0001 0102"));
  const encode = (number: number, total: number) => () =>
    encodeFragmentNumbers({ number, total }, out, 0);
  assertThrowsError(encode(0, 2), RangeError, "0 is outside 1..2");
  assertThrowsError(encode(3, 2), RangeError, "3 is outside 1..2");
  assertThrowsError(encode(1, 0x10000), RangeError, "65536 is outside 0..65535");
});

Deno.test("SKF: rejects a short body and numbers out of range", () => {
  for (
    const [body, message] of [
      ["0001 00", /shorter than its fragment numbers/],
      ["0000 0003", /fragment 0 of 3 is out of range/],
      ["0004 0003", /fragment 4 of 3 is out of range/],
      ["0001 0000", /fragment 1 of 0 is out of range/],
    ] as const
  ) {
    assertThrowsError(() => decodeFragmentNumbers(hex(body)), DecodeError, message);
  }
});

Deno.test("SKF: a whole fragment message decodes with innerFirst from its generic header", () => {
  // IKE header (next payload 53) | SKF generic header (next 35 = IDi, length 16) | 1 of 2 | body
  const bytes = hex(
    "0102030405060708 1112131415161718 35 20 23 08 00000001 0000002c" +
      "23 00 0010 0001 0002 0011223344556677",
  );
  const { header, payloads } = decodeMessage(bytes);
  assert.equal(header.nextPayload, PayloadType.EncryptedFragment);
  const skf = payloads[0] as OpaquePayload;
  assert.equal(skf.type, PayloadType.EncryptedFragment);
  assert.equal(skf.innerFirst, PayloadType.IdInitiator);
  assert.deepEqual(decodeFragmentNumbers(skf.body), { number: 1, total: 2 });
});
