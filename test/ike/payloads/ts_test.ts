import { ByteReader, DecodeError } from "../../../lib/wire/mod.ts";
import { PayloadType, TsType } from "../../../lib/ike/constants.ts";
import {
  decodePayloadChain,
  decodeTs,
  encodePayloadChain,
  encodeTs,
  type TsPayload,
} from "../../../lib/ike/payloads/mod.ts";
import { assert, assertRoundTrip, assertThrowsError, hex, written } from "./_helpers.ts";

// TSi (next = TSr 0x2d, length 64): two selectors — 10.1.0.0–10.1.0.255 any protocol and port,
// and TCP port 80 on 2001:db8::–2001:db8::ffff — laid out from RFC 7296 §3.13, §3.13.1.
const GOLDEN = hex(`
  2d 00 00 40  02 00 00 00
  07 00 00 10  00 00 ff ff  0a 01 00 00  0a 01 00 ff
  08 06 00 28  00 50 00 50
    20010db8000000000000000000000000
    20010db800000000000000000000ffff
`);

const TSI: TsPayload = {
  type: PayloadType.TsInitiator,
  selectors: [
    {
      tsType: TsType.Ipv4AddrRange,
      ipProtocol: 0,
      startPort: 0,
      endPort: 65535,
      startAddress: hex("0a010000"),
      endAddress: hex("0a0100ff"),
    },
    {
      tsType: TsType.Ipv6AddrRange,
      ipProtocol: 6,
      startPort: 80,
      endPort: 80,
      startAddress: hex("20010db8000000000000000000000000"),
      endAddress: hex("20010db800000000000000000000ffff"),
    },
  ],
};

const TSR: TsPayload = { type: PayloadType.TsResponder, selectors: [TSI.selectors[0]!] };

Deno.test("TS: decodes the hand-made IPv4 + IPv6 vector", () => {
  const tsr = encodePayloadChain([TSR]).bytes;
  const [tsi, decodedTsr] = decodePayloadChain(
    PayloadType.TsInitiator,
    new Uint8Array([...GOLDEN, ...tsr]),
  );
  assert.deepEqual(tsi, TSI);
  assert.deepEqual(decodedTsr, TSR);
});

Deno.test("TS: encodes to the hand-made vector", () => {
  assert.deepEqual(encodePayloadChain([TSI, TSR]).bytes.subarray(0, GOLDEN.length), GOLDEN);
});

Deno.test("TS: round trips TSi and TSr", () => {
  assertRoundTrip(TSI);
  assertRoundTrip(TSR);
});

Deno.test("TS: rejects a wrong selector length", () => {
  const bad = GOLDEN.slice(4);
  bad[7] = 20; // the IPv4 selector claims 20 bytes
  const e = assertThrowsError(
    () => decodeTs(new ByteReader(bad), PayloadType.TsInitiator),
    DecodeError,
    "Cannot decode TSi payload: selector 1 of type 7 has length 20, expected 16",
  );
  assert.equal(e.offset, 6);
  const bad6 = GOLDEN.slice(4);
  bad6[23] = 16; // the IPv6 selector claims the IPv4 length
  assertThrowsError(
    () => decodeTs(new ByteReader(bad6), PayloadType.TsResponder),
    DecodeError,
    "Cannot decode TSr payload: selector 2 of type 8 has length 16, expected 40",
  );
});

Deno.test("TS: rejects an unsupported selector type", () => {
  const bad = GOLDEN.slice(4);
  bad[4] = 9;
  assertThrowsError(
    () => decodeTs(new ByteReader(bad), PayloadType.TsInitiator),
    DecodeError,
    "selector 1 has unsupported type 9",
  );
});

Deno.test("TS: rejects a count that does not match the selectors", () => {
  const more = GOLDEN.slice(4);
  more[0] = 3;
  assertThrowsError(
    () => decodeTs(new ByteReader(more), PayloadType.TsInitiator),
    DecodeError,
    "announces 3 selectors but carries 2",
  );
  const fewer = GOLDEN.slice(4);
  fewer[0] = 1;
  assertThrowsError(
    () => decodeTs(new ByteReader(fewer), PayloadType.TsInitiator),
    DecodeError,
    "40 bytes after the last selector",
  );
  const none = hex("00 000000");
  assertThrowsError(
    () => decodeTs(new ByteReader(none), PayloadType.TsInitiator),
    DecodeError,
    "it has no traffic selectors",
  );
});

Deno.test("TS: rejects a truncated selector", () => {
  assertThrowsError(
    () => decodeTs(new ByteReader(GOLDEN.slice(4, 30)), PayloadType.TsInitiator),
    DecodeError,
    "TSi payload selector 2",
  );
});

Deno.test("TS: encode refuses addresses that do not match the type", () => {
  assertThrowsError(
    () =>
      written((w) =>
        encodeTs({
          type: PayloadType.TsInitiator,
          selectors: [{ ...TSI.selectors[0]!, tsType: TsType.Ipv6AddrRange }],
        }, w)
      ),
    RangeError,
    "type 8 needs 16-byte addresses",
  );
});
