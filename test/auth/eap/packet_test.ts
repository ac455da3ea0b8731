import {
  decodeEapPacket,
  decodeNak,
  EapCode,
  eapName,
  eapPacketBytes,
  eapPacketLength,
  EapType,
  encodeEapPacket,
  encodeExpandedNak,
  encodeNak,
  parseEapPacket,
} from "../../../lib/auth/eap/mod.ts";
import { ByteReader, ByteWriter, DecodeError, toHex } from "../../../lib/wire/mod.ts";
import { assertEquals, assertThrows } from "../../_assert.ts";
import { hex, seededRandom, utf8 } from "./_helpers.ts";

Deno.test("decodes an Identity Response (RFC 3748 §5.1)", () => {
  assertEquals(parseEapPacket(hex("02 07 0009 01 75736572")), {
    code: EapCode.Response,
    identifier: 7,
    type: EapType.Identity,
    data: utf8("user"),
  });
});

Deno.test("decodes Success and Failure as four-octet packets (RFC 3748 §4.2)", () => {
  assertEquals(parseEapPacket(hex("03 12 0004")), { code: EapCode.Success, identifier: 0x12 });
  assertEquals(parseEapPacket(hex("04 ff 0004")), { code: EapCode.Failure, identifier: 0xff });
});

Deno.test("round-trips Requests and Responses through encode, length and decode", () => {
  const packets = [
    { code: EapCode.Request, identifier: 0, type: EapType.Identity, data: new Uint8Array() },
    { code: EapCode.Response, identifier: 200, type: EapType.Nak, data: new Uint8Array([26]) },
    { code: EapCode.Request, identifier: 9, type: EapType.MsChapV2, data: new Uint8Array(300) },
    { code: EapCode.Success, identifier: 1 },
  ] as const;
  for (const packet of packets) {
    const writer = new ByteWriter();
    encodeEapPacket(packet, writer);
    const bytes = writer.finish();
    assertEquals(bytes.length, eapPacketLength(packet));
    assertEquals(parseEapPacket(bytes), packet);
  }
});

Deno.test("encodes golden bytes with Length covering the whole packet", () => {
  assertEquals(
    toHex(eapPacketBytes({ code: 1, identifier: 0x10, type: 1, data: new Uint8Array() })),
    "0110000501",
  );
  assertEquals(toHex(eapPacketBytes({ code: 4, identifier: 7 })), "04070004");
});

Deno.test("ignores octets past Length as link-layer padding (RFC 3748 §4)", () => {
  const reader = new ByteReader(hex("03 05 0004 dead"));
  assertEquals(decodeEapPacket(reader), { code: EapCode.Success, identifier: 5 });
  assertEquals(reader.offset, 4);
});

Deno.test("rejects malformed packets with a DecodeError", () => {
  const cases: [string, string, string][] = [
    ["empty input", "", "EAP Code"],
    ["a truncated header", "0201", "EAP Length"],
    ["Length below 4", "02010003", "shorter than 4"],
    ["Length past the input", "0201000a0175", "EAP packet body"],
    ["a Request without Type", "01010004", "EAP Type"],
    ["a Success with Length 5", "0301000500", "is not 4"],
    ["an unknown Code", "05010004", "unknown Code 5"],
    ["Type 0", "0201000500", "reserved"],
    ["a short Expanded Type", "0201000afe0000000001", "Expanded Type header"],
  ];
  for (const [name, bytes, message] of cases) {
    assertThrows(() => parseEapPacket(hex(bytes)), DecodeError, message);
    void name;
  }
});

Deno.test("refuses to encode out-of-range fields", () => {
  assertThrows(() => eapPacketBytes({ code: 3, identifier: 256 }), RangeError);
  assertThrows(
    () => eapPacketBytes({ code: 1, identifier: 1, type: 0, data: new Uint8Array() }),
    RangeError,
  );
  assertThrows(
    () => eapPacketBytes({ code: 1, identifier: 1, type: 4, data: new Uint8Array(65531) }),
    RangeError,
  );
});

Deno.test("decodes and encodes legacy Nak Type-Data (RFC 3748 §5.3.1)", () => {
  assertEquals(decodeNak(new Uint8Array([26, 4])), [26, 4]);
  assertEquals(decodeNak(new Uint8Array([0])), []);
  assertThrows(() => decodeNak(new Uint8Array()), DecodeError);
  assertEquals(toHex(encodeNak([26])), "1a");
  assertEquals(toHex(encodeNak([])), "00");
});

Deno.test("encodes an Expanded Nak proposing legacy types (RFC 3748 §5.3.2)", () => {
  assertEquals(
    toHex(encodeExpandedNak([26])),
    "000000" + "00000003" + "fe" + "000000" + "0000001a",
  );
});

Deno.test("names codes and types, unknown ones as UNKNOWN(n)", () => {
  assertEquals(eapName(EapType, 4), "MD5_CHALLENGE");
  assertEquals(eapName(EapType, 26), "MS_CHAP_V2");
  assertEquals(eapName(EapCode, 2), "RESPONSE");
  assertEquals(eapName(EapCode, 9), "UNKNOWN(9)");
});

Deno.test("random input either decodes or throws DecodeError, nothing else", () => {
  const random = seededRandom(3748);
  for (let i = 0; i < 5000; i++) {
    const bytes = new Uint8Array(i % 24);
    random(bytes);
    // Bias toward plausible headers so the deeper checks run too.
    if (bytes.length >= 4 && i % 2 === 0) {
      bytes[0] = 1 + (bytes[0]! % 4);
      bytes[2] = 0;
      bytes[3] = bytes[3]! % 26;
    }
    try {
      parseEapPacket(bytes);
    } catch (e) {
      if (!(e instanceof DecodeError)) throw e;
    }
  }
});
