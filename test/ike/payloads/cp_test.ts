import { ByteReader, DecodeError } from "../../../lib/wire/mod.ts";
import { ConfigAttributeType, ConfigType, PayloadType } from "../../../lib/ike/constants.ts";
import {
  type CpPayload,
  decodeCp,
  decodePayloadChain,
  encodeCp,
} from "../../../lib/ike/payloads/mod.ts";
import { assert, assertRoundTrip, assertThrowsError, hex, written } from "./_helpers.ts";

const A = ConfigAttributeType;
const EMPTY = new Uint8Array(0);

/** What charon 5.9 sends for `vips = 0.0.0.0` without attribute plugins: one empty address. */
const STRONGSWAN_REQUEST = hex("01 000000 | 0001 0000");

/** A CFG_REPLY with every attribute our responder sends, laid out by hand from RFC 7296 §3.15. */
const REPLY_VECTOR = hex(`
  02 000000
  0001 0004 0a030007
  0002 0004 ffffff00
  0003 0004 0a010035
  000d 0008 0a010000 ffffff00
  0008 0011 fd000003000000000000000000000007 70
  000a 0010 fd000001000000000000000000000035
  000f 0011 fd000001000000000000000000000000 40
  0019 0010 636f72702e6578616d706c652e636f6d
`);

const REPLY: CpPayload = {
  type: PayloadType.Configuration,
  cfgType: ConfigType.CfgReply,
  attributes: [
    { type: A.InternalIp4Address, value: hex("0a030007") },
    { type: A.InternalIp4Netmask, value: hex("ffffff00") },
    { type: A.InternalIp4Dns, value: hex("0a010035") },
    { type: A.InternalIp4Subnet, value: hex("0a010000 ffffff00") },
    { type: A.InternalIp6Address, value: hex("fd000003000000000000000000000007 70") },
    { type: A.InternalIp6Dns, value: hex("fd000001000000000000000000000035") },
    { type: A.InternalIp6Subnet, value: hex("fd000001000000000000000000000000 40") },
    { type: A.InternalDnsDomain, value: new TextEncoder().encode("corp.example.com") },
  ],
};

Deno.test("CP: decodes strongSwan's CFG_REQUEST for a virtual IP", () => {
  assert.deepEqual(decodeCp(new ByteReader(STRONGSWAN_REQUEST)), {
    type: PayloadType.Configuration,
    cfgType: ConfigType.CfgRequest,
    attributes: [{ type: A.InternalIp4Address, value: EMPTY }],
  });
});

Deno.test("CP: decodes and re-encodes the hand-made CFG_REPLY byte for byte", () => {
  assert.deepEqual(decodeCp(new ByteReader(REPLY_VECTOR)), REPLY);
  assert.deepEqual(written((w) => encodeCp(REPLY, w)), REPLY_VECTOR);
  assertRoundTrip(REPLY);
});

Deno.test("CP: round trips CFG_SET and an empty CFG_ACK", () => {
  assertRoundTrip({
    type: PayloadType.Configuration,
    cfgType: ConfigType.CfgSet,
    attributes: [{ type: A.ApplicationVersion, value: new TextEncoder().encode("rh 1") }],
  });
  assertRoundTrip({ type: PayloadType.Configuration, cfgType: ConfigType.CfgAck, attributes: [] });
});

Deno.test("CP: ignores the R bit on receipt and sends it as 0", () => {
  const cp = decodeCp(new ByteReader(hex("01 000000 | 8001 0000")));
  assert.deepEqual(cp.attributes, [{ type: A.InternalIp4Address, value: EMPTY }]);
  assert.deepEqual(written((w) => encodeCp(cp, w)), STRONGSWAN_REQUEST);
});

Deno.test("CP: keeps unknown attribute types with any length", () => {
  const cp = decodeCp(new ByteReader(hex("02 000000 | 4001 0003 aabbcc | 0007 0000")));
  assert.deepEqual(cp.attributes, [
    { type: 0x4001, value: hex("aabbcc") },
    { type: A.ApplicationVersion, value: EMPTY },
  ]);
  assertRoundTrip(cp);
});

Deno.test("CP: a CP payload in a chain decodes as CP, its critical bit ignored", () => {
  const [cp] = decodePayloadChain(PayloadType.Configuration, hex("00 80 000c 01000000 00010000"));
  assert.deepEqual(cp, {
    type: PayloadType.Configuration,
    cfgType: ConfigType.CfgRequest,
    attributes: [{ type: A.InternalIp4Address, value: EMPTY }],
  });
});

Deno.test("CP: rejects a body without the CFG type header", () => {
  assertThrowsError(() => decodeCp(new ByteReader(hex("01 0000"))), DecodeError, "CP payload");
});

Deno.test("CP: rejects a truncated attribute header", () => {
  assertThrowsError(
    () => decodeCp(new ByteReader(hex("01 000000 | 0001"))),
    DecodeError,
    "attribute 1 needs 4 header bytes, 2 left",
  );
});

Deno.test("CP: rejects an attribute length that overruns the payload", () => {
  const e = assertThrowsError(
    () => decodeCp(new ByteReader(hex("02 000000 | 0001 0004 0a03"))),
    DecodeError,
    "attribute 1 (INTERNAL_IP4_ADDRESS) has length 4 but 2 bytes are left",
  );
  assert.equal(e.offset, 6);
});

Deno.test("CP: rejects known attributes with lengths RFC 7296 does not allow", () => {
  for (
    const [vector, message] of [
      ["0001 0003 0a0300", "INTERNAL_IP4_ADDRESS) has length 3, expected 0 or 4"],
      ["0008 0010 fd000003000000000000000000000007", "INTERNAL_IP6_ADDRESS) has length 16"],
      ["000d 0004 0a010000", "INTERNAL_IP4_SUBNET) has length 4, expected 0 or 8"],
      ["000e 0003 000100", "SUPPORTED_ATTRIBUTES) has length 3, expected a multiple of 2"],
    ] as const
  ) {
    assertThrowsError(
      () => decodeCp(new ByteReader(hex(`02 000000 | ${vector}`))),
      DecodeError,
      message,
    );
  }
});

Deno.test("CP: encode refuses a bad attribute length and an out-of-range CFG type", () => {
  assertThrowsError(
    () =>
      written((w) =>
        encodeCp({
          type: PayloadType.Configuration,
          cfgType: ConfigType.CfgReply,
          attributes: [{ type: A.InternalIp4Dns, value: hex("0a01") }],
        }, w)
      ),
    RangeError,
    "INTERNAL_IP4_DNS value of 2 bytes, expected 0 or 4",
  );
  assertThrowsError(
    () =>
      written((w) =>
        encodeCp({ type: PayloadType.Configuration, cfgType: 256, attributes: [] }, w)
      ),
    RangeError,
    "CP payload CFG type",
  );
});
