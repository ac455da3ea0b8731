import { ByteReader } from "../../../lib/wire/mod.ts";
import { ExchangeType, HeaderFlag, PayloadType } from "../../../lib/ike/constants.ts";
import {
  decodeEncrypted,
  decodeMessage,
  encodeMessage,
  encodePayloadChain,
  type EncryptedPayload,
} from "../../../lib/ike/payloads/mod.ts";
import { AUTH_INNER_PAYLOADS } from "./_samples.ts";
import { assert, assertRoundTrip, hex } from "./_helpers.ts";

const HEADER = {
  initiatorSpi: hex("0102030405060708"),
  responderSpi: hex("1112131415161718"),
  majorVersion: 2,
  minorVersion: 0,
  exchangeType: ExchangeType.IkeAuth,
  flags: HeaderFlag.Initiator,
  messageId: 1,
};

Deno.test("SK: keeps the body as raw bytes and innerFirst from the generic header", () => {
  const body = hex("000102030405060708090a0b0c0d0e0f");
  assert.deepEqual(decodeEncrypted(new ByteReader(body), PayloadType.IdInitiator), {
    type: PayloadType.Encrypted,
    innerFirst: PayloadType.IdInitiator,
    body,
  });
});

Deno.test("SK: round trips as a chain whose next payload is innerFirst", () => {
  const sk: EncryptedPayload = {
    type: PayloadType.Encrypted,
    innerFirst: PayloadType.IdInitiator,
    body: hex("aabbccdd"),
  };
  const bytes = assertRoundTrip(sk);
  assert.deepEqual(bytes, hex("23 00 00 08 aabbccdd"));
});

Deno.test("SK: encodeMessage leaves a placeholder body whose prefix is the associated data", () => {
  const inner = encodePayloadChain(AUTH_INNER_PAYLOADS);
  const bodyLength = 8 + inner.bytes.length + 1 + 16; // IV | plaintext | pad length | ICV
  const out = encodeMessage(HEADER, [{
    type: PayloadType.Encrypted,
    innerFirst: inner.firstType,
    body: new Uint8Array(bodyLength),
  }]);
  const aad = out.subarray(0, out.length - bodyLength);
  assert.equal(aad.length, 28 + 4);
  assert.deepEqual(aad.subarray(16, 20), hex("2e 20 23 08")); // next = SK, v2.0, IKE_AUTH, I
  assert.deepEqual(
    aad.subarray(24, 32),
    new Uint8Array([
      0,
      0,
      out.length >> 8,
      out.length & 0xff,
      PayloadType.IdInitiator,
      0,
      (bodyLength + 4) >> 8,
      (bodyLength + 4) & 0xff,
    ]),
  );
  // the engine writes IV | ciphertext | ICV into the tail in place
  out.subarray(out.length - bodyLength).fill(0x5a);
  const decoded = decodeMessage(out);
  const sk = decoded.payloads[0] as EncryptedPayload;
  assert.equal(decoded.payloads.length, 1);
  assert.equal(sk.innerFirst, PayloadType.IdInitiator);
  assert.deepEqual(sk.body, new Uint8Array(bodyLength).fill(0x5a));
  assert.equal(out.length - sk.body.length, aad.length);
});
