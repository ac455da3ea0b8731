import { ByteReader, DecodeError } from "../../../lib/wire/mod.ts";
import {
  DhGroup,
  EncrId,
  EsnId,
  IntegId,
  PayloadType,
  PrfId,
  ProtocolId,
  TransformType,
} from "../../../lib/ike/constants.ts";
import {
  decodeMessage,
  decodeSa,
  encodeSa,
  saLength,
  type SaPayload,
} from "../../../lib/ike/payloads/mod.ts";
import { assert, assertRoundTrip, assertThrowsError, hex, written } from "./_helpers.ts";

// One IKE proposal: ENCR_AES_GCM_16 with Key Length 256 (TV attribute 0x800e), PRF_HMAC_SHA2_256,
// DH group 31 — laid out by hand from RFC 7296 §3.3.1, §3.3.2, §3.3.5.
const GOLDEN_BODY = hex(`
  00 00 00 24  01 01 00 03
  03 00 00 0c  01 00 00 14  80 0e 01 00
  03 00 00 08  02 00 00 05
  00 00 00 08  04 00 00 1f
`);

const GOLDEN: SaPayload = {
  type: PayloadType.SecurityAssociation,
  proposals: [{
    number: 1,
    protocol: ProtocolId.Ike,
    spi: new Uint8Array(0),
    transforms: [
      { type: TransformType.Encryption, id: EncrId.AesGcm16, keyLength: 256 },
      { type: TransformType.Prf, id: PrfId.HmacSha2_256 },
      { type: TransformType.DiffieHellman, id: DhGroup.Curve25519 },
    ],
  }],
};

/** Wraps an SA body into a minimal IKE_SA_INIT message. */
function message(body: Uint8Array): Uint8Array {
  const out = new Uint8Array(28 + 4 + body.length);
  out.set(hex("0102030405060708 0000000000000000 21 20 22 08 00000000"));
  new DataView(out.buffer).setUint32(24, out.length);
  out.set([0, 0, (body.length + 4) >> 8, (body.length + 4) & 0xff], 28);
  out.set(body, 32);
  return out;
}

Deno.test("SA: decodes the hand-made GCM proposal vector", () => {
  assert.deepEqual(decodeSa(new ByteReader(GOLDEN_BODY)), GOLDEN);
});

Deno.test("SA: encodes the GCM proposal to the hand-made vector", () => {
  assert.deepEqual(written((w) => encodeSa(GOLDEN, w)), GOLDEN_BODY);
  assert.equal(saLength(GOLDEN), GOLDEN_BODY.length);
});

Deno.test("SA: round trips several IKE and ESP proposals", () => {
  const sa: SaPayload = {
    type: PayloadType.SecurityAssociation,
    proposals: [
      GOLDEN.proposals[0]!,
      {
        number: 2,
        protocol: ProtocolId.Ike,
        spi: hex("1122334455667788"),
        transforms: [
          { type: TransformType.Encryption, id: EncrId.AesCbc, keyLength: 128 },
          { type: TransformType.Prf, id: PrfId.HmacSha2_384 },
          { type: TransformType.Integrity, id: IntegId.HmacSha2_384_192 },
          { type: TransformType.DiffieHellman, id: DhGroup.Ecp384 },
        ],
      },
      {
        number: 3,
        protocol: ProtocolId.Esp,
        spi: hex("c0ffee01"),
        transforms: [
          { type: TransformType.Encryption, id: EncrId.AesGcm16, keyLength: 128 },
          { type: TransformType.ExtendedSequenceNumbers, id: EsnId.Esn },
          { type: TransformType.ExtendedSequenceNumbers, id: EsnId.NoEsn },
        ],
      },
    ],
  };
  assertRoundTrip(sa);
});

Deno.test("SA: rejects a proposal with a bad last-substructure byte", () => {
  const bad = GOLDEN_BODY.slice();
  bad[0] = 3;
  const e = assertThrowsError(
    () => decodeSa(new ByteReader(bad)),
    DecodeError,
    "Cannot decode SA payload: proposal 1 has last-substructure byte 3, expected 0 or 2",
  );
  assert.equal(e.offset, 0);
  // the same through a whole message
  assertThrowsError(() => decodeMessage(message(bad)), DecodeError, "last-substructure byte 3");
});

Deno.test("SA: rejects a transform with a bad last-substructure byte", () => {
  const bad = GOLDEN_BODY.slice();
  bad[8] = 2; // a proposal marker where a transform marker belongs
  assertThrowsError(
    () => decodeSa(new ByteReader(bad)),
    DecodeError,
    "proposal 1 transform 1 has last-substructure byte 2, expected 0 or 3",
  );
});

Deno.test("SA: rejects a last flag that disagrees with the data", () => {
  const notLast = GOLDEN_BODY.slice();
  notLast[28] = 3; // DH transform says "more" but the proposal ends
  assertThrowsError(
    () => decodeSa(new ByteReader(notLast)),
    DecodeError,
    "transform 3 is marked as not last but the proposal ends",
  );
  const earlyLast = GOLDEN_BODY.slice();
  earlyLast[20] = 0; // PRF transform says "last" but the DH one follows
  assertThrowsError(
    () => decodeSa(new ByteReader(earlyLast)),
    DecodeError,
    "proposal 1 has 8 bytes after its last transform",
  );
  const proposalMore = GOLDEN_BODY.slice();
  proposalMore[0] = 2;
  assertThrowsError(
    () => decodeSa(new ByteReader(proposalMore)),
    DecodeError,
    "proposal 1 is marked as not last but the payload ends",
  );
});

Deno.test("SA: rejects a transform length below 8", () => {
  const bad = GOLDEN_BODY.slice();
  bad[23] = 7; // PRF transform length
  assertThrowsError(
    () => decodeSa(new ByteReader(bad)),
    DecodeError,
    "proposal 1 transform 2 length 7 is shorter than 8",
  );
});

Deno.test("SA: rejects a transform length overrunning its proposal", () => {
  const bad = GOLDEN_BODY.slice();
  bad[31] = 12; // DH transform claims 12 bytes, 8 are left
  assertThrowsError(
    () => decodeSa(new ByteReader(bad)),
    DecodeError,
    "proposal 1 transform 3 length 12 overruns its container",
  );
});

Deno.test("SA: rejects a proposal length overrunning the payload", () => {
  const bad = GOLDEN_BODY.slice();
  bad[3] = 0x28;
  assertThrowsError(
    () => decodeSa(new ByteReader(bad)),
    DecodeError,
    "proposal 1 length 40 overruns its container",
  );
});

Deno.test("SA: rejects a proposal without transforms", () => {
  const body = hex("00 00 00 08 01 01 00 00");
  assertThrowsError(
    () => decodeSa(new ByteReader(body)),
    DecodeError,
    "Cannot decode SA payload: proposal 1 has no transforms",
  );
  const second = hex(`
    02 00 00 10  01 01 00 01  00 00 00 08  04 00 00 1f
    00 00 00 08  02 01 00 00
  `);
  assertThrowsError(
    () => decodeSa(new ByteReader(second)),
    DecodeError,
    "Cannot decode SA payload: proposal 2 has no transforms",
  );
});

Deno.test("SA: rejects a transform count that does not match", () => {
  const bad = GOLDEN_BODY.slice();
  bad[7] = 4;
  assertThrowsError(
    () => decodeSa(new ByteReader(bad)),
    DecodeError,
    "proposal 1 announces 4 transforms but carries 3",
  );
});

Deno.test("SA: rejects an empty SA payload", () => {
  assertThrowsError(
    () => decodeSa(new ByteReader(new Uint8Array(0))),
    DecodeError,
    "Cannot decode SA payload: it has no proposals",
  );
});

Deno.test("SA: rejects proposal numbers that do not count up by one", () => {
  const two = (first: number, second: number) =>
    hex(`
    02 00 00 10  ${first.toString(16).padStart(2, "0")} 01 00 01  00 00 00 08  04 00 00 1f
    00 00 00 10  ${second.toString(16).padStart(2, "0")} 01 00 01  00 00 00 08  04 00 00 13
  `);
  assert.equal(decodeSa(new ByteReader(two(1, 2))).proposals.length, 2);
  assertThrowsError(
    () => decodeSa(new ByteReader(two(1, 3))),
    DecodeError,
    "proposal number 3 does not follow 1",
  );
  assertThrowsError(() => decodeSa(new ByteReader(two(0, 1))), DecodeError, "has number 0");
  // a responder's single proposal echoes the chosen number
  const chosen = GOLDEN_BODY.slice();
  chosen[4] = 2;
  assert.equal(decodeSa(new ByteReader(chosen)).proposals[0]!.number, 2);
});

Deno.test("SA: rejects SPI sizes that do not fit the protocol", () => {
  const esp = hex("00 00 00 10  01 03 08 01  0102030405060708  00 00 00 08 01 00 00 14");
  // ESP with an 8-byte SPI: proposal length 8 + 8 + 8 = 24
  esp[3] = 24;
  const e = assertThrowsError(
    () => decodeSa(new ByteReader(esp)),
    DecodeError,
    /proposal 1 has SPI size 8 for protocol ESP/i,
  );
  assert.equal(e.offset, 6);
  const ike = hex("00 00 00 0d  01 01 01 01  aa  00 00 00 08 04 00 00 1f");
  ike[3] = 17;
  assertThrowsError(
    () => decodeSa(new ByteReader(ike)),
    DecodeError,
    /SPI size 1 for protocol IKE/i,
  );
});

Deno.test("SA: rejects a Key Length attribute in TLV format or given twice", () => {
  const tlv = GOLDEN_BODY.slice();
  tlv[16] = 0x00; // AF bit cleared: type 14 with length 0x0100
  assertThrowsError(
    () => decodeSa(new ByteReader(tlv)),
    DecodeError,
    "transform 1 has a Key Length attribute in TLV format",
  );
  const twice = hex(`
    00 00 00 18  01 01 00 01
    00 00 00 10  01 00 00 14  80 0e 00 80  80 0e 01 00
  `);
  assertThrowsError(
    () => decodeSa(new ByteReader(twice)),
    DecodeError,
    "transform 1 has more than one Key Length attribute",
  );
});

Deno.test("SA: flags a transform with an unknown attribute instead of failing", () => {
  const body = hex(`
    00 00 00 20  01 01 00 02
    03 00 00 0c  01 00 00 14  80 0e 00 80
    00 00 00 0c  04 00 00 1f  00 22 00 00
  `);
  const sa = decodeSa(new ByteReader(body));
  assert.deepEqual(sa.proposals[0]!.transforms, [
    { type: 1, id: 20, keyLength: 128 },
    { type: 4, id: 31, unknownAttribute: 0x22 },
  ]);
});

Deno.test("SA: rejects an attribute that overruns its transform", () => {
  const body = hex(`
    00 00 00 14  01 01 00 01
    00 00 00 0c  04 00 00 1f  00 22 00 04
  `);
  assertThrowsError(() => decodeSa(new ByteReader(body)), DecodeError, "need 4 bytes, 0 left");
});

Deno.test("SA: rejects bytes after the last proposal", () => {
  const body = new Uint8Array(GOLDEN_BODY.length + 3);
  body.set(GOLDEN_BODY);
  assertThrowsError(
    () => decodeSa(new ByteReader(body)),
    DecodeError,
    "3 bytes after the last proposal",
  );
});

Deno.test("SA: encode refuses an empty proposal list", () => {
  assertThrowsError(
    () => written((w) => encodeSa({ type: PayloadType.SecurityAssociation, proposals: [] }, w)),
    RangeError,
    "no proposals",
  );
});
