import { ByteReader, DecodeError } from "../../../lib/wire/mod.ts";
import { decodeGenericHeader, encodeGenericHeader } from "../../../lib/ike/payloads/mod.ts";
import { assert, assertThrowsError, hex, written } from "./_helpers.ts";

Deno.test("generic header: decodes next payload, critical bit and length", () => {
  const r = new ByteReader(hex("28 80 00 08 01020304"));
  assert.deepEqual(decodeGenericHeader(r), { nextPayload: 40, critical: true, length: 8 });
  assert.equal(r.offset, 4);
});

Deno.test("generic header: ignores RESERVED bits", () => {
  const r = new ByteReader(hex("00 7f 00 04"));
  assert.deepEqual(decodeGenericHeader(r), { nextPayload: 0, critical: false, length: 4 });
});

Deno.test("generic header: rejects a payload length below 4", () => {
  const e = assertThrowsError(
    () => decodeGenericHeader(new ByteReader(hex("00 00 00 03"))),
    DecodeError,
    "Cannot decode generic payload header: payload length 3 is shorter than 4",
  );
  assert.equal(e.offset, 2);
});

Deno.test("generic header: rejects a payload length overrunning what is left", () => {
  assertThrowsError(
    () => decodeGenericHeader(new ByteReader(hex("00 00 00 09 01020304"))),
    DecodeError,
    "payload length 9 overruns the 8 bytes left",
  );
});

Deno.test("generic header: rejects a truncated header", () => {
  assertThrowsError(
    () => decodeGenericHeader(new ByteReader(hex("00 00 00"))),
    DecodeError,
    "Cannot decode generic payload header: need 2 bytes, 1 left",
  );
});

Deno.test("generic header: encodes the critical bit and length", () => {
  assert.deepEqual(
    written((w) => encodeGenericHeader({ nextPayload: 46, critical: true, length: 300 }, w)),
    hex("2e 80 01 2c"),
  );
  assertThrowsError(
    () => written((w) => encodeGenericHeader({ nextPayload: 0, critical: false, length: 2 }, w)),
    RangeError,
    "length 2 is shorter than 4",
  );
});
