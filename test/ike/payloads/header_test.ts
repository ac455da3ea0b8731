import { ByteReader, DecodeError } from "../../../lib/wire/mod.ts";
import { ExchangeType, HeaderFlag } from "../../../lib/ike/constants.ts";
import {
  decodeHeader,
  decodeMessage,
  encodeHeader,
  type IkeHeader,
  InvalidMajorVersionError,
} from "../../../lib/ike/payloads/mod.ts";
import { assert, assertThrowsError, hex, written } from "./_helpers.ts";

const GOLDEN = hex(
  "0102030405060708 | 0000000000000000 | 21 20 22 08 | 00000000 | 0000001c",
);

const HEADER: IkeHeader = {
  initiatorSpi: hex("0102030405060708"),
  responderSpi: new Uint8Array(8),
  nextPayload: 33,
  majorVersion: 2,
  minorVersion: 0,
  exchangeType: ExchangeType.IkeSaInit,
  flags: HeaderFlag.Initiator,
  messageId: 0,
  length: 28,
};

Deno.test("header: decodes the RFC 7296 §3.1 layout", () => {
  assert.deepEqual(decodeHeader(new ByteReader(GOLDEN)), HEADER);
});

Deno.test("header: encodes to the same 28 bytes", () => {
  assert.deepEqual(written((w) => encodeHeader(HEADER, w)), GOLDEN);
});

Deno.test("header: round trips a response with a large message ID", () => {
  const h: IkeHeader = {
    ...HEADER,
    responderSpi: hex("a1a2a3a4a5a6a7a8"),
    exchangeType: ExchangeType.Informational,
    flags: HeaderFlag.Response,
    messageId: 0xfffffffe,
    minorVersion: 3,
    length: 1234,
  };
  assert.deepEqual(decodeHeader(new ByteReader(written((w) => encodeHeader(h, w)))), h);
});

Deno.test("header: rejects a truncated header", () => {
  const e = assertThrowsError(
    () => decodeHeader(new ByteReader(GOLDEN.subarray(0, 27))),
    DecodeError,
    "Cannot decode IKE header: need 28 bytes",
  );
  assert.equal(e.offset, 0);
});

Deno.test("header: rejects major version 3 with InvalidMajorVersionError carrying the header", () => {
  const bytes = GOLDEN.slice();
  bytes[17] = 0x30;
  const e = assertThrowsError(
    () => decodeMessage(bytes),
    InvalidMajorVersionError,
    "major version 3 is not 2",
  );
  assert.ok(e instanceof DecodeError);
  assert.equal(e.majorVersion, 3);
  assert.deepEqual(e.header.initiatorSpi, HEADER.initiatorSpi);
  assert.equal(e.header.exchangeType, ExchangeType.IkeSaInit);
  assert.equal(e.offset, 17);
});

Deno.test("header: rejects IKEv1 (major version 1)", () => {
  const bytes = GOLDEN.slice();
  bytes[17] = 0x10;
  assertThrowsError(() => decodeMessage(bytes), InvalidMajorVersionError, "major version 1");
});

Deno.test("header: rejects a length field below 28", () => {
  const bytes = GOLDEN.slice();
  bytes[27] = 27;
  assertThrowsError(
    () => decodeHeader(new ByteReader(bytes)),
    DecodeError,
    "length 27 is shorter than the 28-byte header",
  );
});

Deno.test("header: decodeMessage rejects a length field that differs from the datagram length", () => {
  const longer = new Uint8Array(29);
  longer.set(GOLDEN);
  assertThrowsError(
    () => decodeMessage(longer),
    DecodeError,
    "header length 28 does not match the 29-byte datagram",
  );
  const claimsMore = GOLDEN.slice();
  claimsMore[27] = 40;
  assertThrowsError(() => decodeMessage(claimsMore), DecodeError, "header length 40");
});

Deno.test("header: ignores the minor version and unknown flag bits", () => {
  const bytes = GOLDEN.slice();
  bytes[16] = 0; // no payloads
  bytes[17] = 0x2f;
  bytes[19] = 0xff;
  const m = decodeMessage(bytes);
  assert.equal(m.header.minorVersion, 15);
  assert.equal(m.header.flags, 0xff);
  assert.deepEqual(m.payloads, []);
});

Deno.test("header: encode rejects SPIs that are not 8 bytes", () => {
  assertThrowsError(
    () => written((w) => encodeHeader({ ...HEADER, initiatorSpi: new Uint8Array(4) }, w)),
    RangeError,
    "SPIs must be 8 bytes",
  );
});
