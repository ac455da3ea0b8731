import { ByteReader } from "../../../lib/wire/mod.ts";
import { PayloadType } from "../../../lib/ike/constants.ts";
import {
  decodeOpaque,
  decodePayloadChain,
  type OpaquePayload,
} from "../../../lib/ike/payloads/mod.ts";
import { assert, assertRoundTrip, hex } from "./_helpers.ts";

Deno.test("opaque: keeps CERT, CERTREQ and EAP bodies as bytes", () => {
  for (
    const type of [
      PayloadType.Certificate,
      PayloadType.CertificateRequest,
      PayloadType.Eap,
    ] as const
  ) {
    const payload: OpaquePayload = { type, critical: false, body: hex("0102030405") };
    assert.deepEqual(
      decodeOpaque(new ByteReader(hex("0102030405")), { type, critical: false, nextPayload: 0 }),
      payload,
    );
    assertRoundTrip(payload);
  }
});

Deno.test("opaque: records and re-sends the critical bit of pass-through payloads", () => {
  const bytes = hex("00 80 00 06 0102");
  const [eap] = decodePayloadChain(PayloadType.Eap, bytes);
  assert.deepEqual(eap, { type: PayloadType.Eap, critical: true, body: hex("0102") });
  assertRoundTrip(eap!);
});

Deno.test("opaque: SKF keeps its next payload as innerFirst and round trips", () => {
  // Fragment 1 of 3: Fragment Number, Total Fragments, then IV | ciphertext | ICV (RFC 7383).
  const bytes = hex("23 00 00 0c 0001 0003 aabbccdd");
  const [skf] = decodePayloadChain(PayloadType.EncryptedFragment, bytes);
  assert.deepEqual(skf, {
    type: PayloadType.EncryptedFragment,
    critical: false,
    body: hex("0001 0003 aabbccdd"),
    innerFirst: PayloadType.IdInitiator,
  });
  assertRoundTrip(skf!);
});
