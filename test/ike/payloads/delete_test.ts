import { ByteReader, DecodeError } from "../../../lib/wire/mod.ts";
import { PayloadType, ProtocolId } from "../../../lib/ike/constants.ts";
import { decodeDelete, encodeDelete } from "../../../lib/ike/payloads/mod.ts";
import { assert, assertRoundTrip, assertThrowsError, hex, written } from "./_helpers.ts";

Deno.test("Delete: decodes two ESP SPIs", () => {
  assert.deepEqual(decodeDelete(new ByteReader(hex("03 04 00 02 c0ffee01 c0ffee02"))), {
    type: PayloadType.Delete,
    protocol: ProtocolId.Esp,
    spiSize: 4,
    spis: [hex("c0ffee01"), hex("c0ffee02")],
  });
});

Deno.test("Delete: round trips an IKE SA delete and an ESP delete", () => {
  assertRoundTrip({ type: PayloadType.Delete, protocol: ProtocolId.Ike, spiSize: 0, spis: [] });
  assertRoundTrip({
    type: PayloadType.Delete,
    protocol: ProtocolId.Esp,
    spiSize: 4,
    spis: [hex("00000101"), hex("00000102"), hex("00000103")],
  });
});

Deno.test("Delete: rejects an ESP SPI size other than 4", () => {
  assertThrowsError(
    () => decodeDelete(new ByteReader(hex("03 08 00 01 0102030405060708"))),
    DecodeError,
    /Cannot decode Delete payload: SPI size 8 for protocol ESP, expected 4/i,
  );
});

Deno.test("Delete: rejects an IKE SPI size other than 0 or a count above 0", () => {
  assertThrowsError(
    () => decodeDelete(new ByteReader(hex("01 08 00 01 0102030405060708"))),
    DecodeError,
    /SPI size 8 for protocol IKE, expected 0/i,
  );
  assertThrowsError(
    () => decodeDelete(new ByteReader(hex("01 00 00 02"))),
    DecodeError,
    "an IKE SA delete carries 2 SPIs, expected none",
  );
});

Deno.test("Delete: rejects a count that does not fill the body", () => {
  assertThrowsError(
    () => decodeDelete(new ByteReader(hex("03 04 00 03 c0ffee01 c0ffee02"))),
    DecodeError,
    "3 SPIs of 4 bytes do not fill the 8 bytes left",
  );
  assertThrowsError(
    () => decodeDelete(new ByteReader(hex("03 04 00 01 c0ffee01 00"))),
    DecodeError,
    "1 SPIs of 4 bytes do not fill the 5 bytes left",
  );
});

Deno.test("Delete: encode refuses SPIs of the wrong size", () => {
  assertThrowsError(
    () =>
      written((w) =>
        encodeDelete({
          type: PayloadType.Delete,
          protocol: ProtocolId.Esp,
          spiSize: 4,
          spis: [hex("0102")],
        }, w)
      ),
    RangeError,
    "a 2-byte SPI does not match SPI size 4",
  );
});
