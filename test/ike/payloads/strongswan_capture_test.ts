/**
 * Golden vectors captured from strongSwan 5.9.8 (see test/testdata/README.txt): the IKE_SA_INIT
 * request and response of a PSK tunnel with `aes128gcm16-prfsha256-ecp256`, decoded field by
 * field and re-encoded byte for byte.
 */
import assert from "node:assert/strict";
import {
  ExchangeType,
  HeaderFlag,
  IKE_MAJOR_VERSION,
  NotifyType,
  PayloadType,
  ProtocolId,
  TransformType,
} from "../../../lib/ike/constants.ts";
import {
  decodeMessage,
  encodeMessage,
  type IkeMessage,
  type KePayload,
  type NoncePayload,
  type NotifyPayload,
  type Payload,
  type SaPayload,
} from "../../../lib/ike/payloads/mod.ts";
import { fromHex, toHex } from "../../../lib/wire/mod.ts";

async function golden(name: string): Promise<Uint8Array> {
  return fromHex(await Deno.readTextFile(new URL(`../../testdata/${name}.hex`, import.meta.url)));
}

const REQUEST = await golden("strongswan_ike_sa_init_request");
const RESPONSE = await golden("strongswan_ike_sa_init_response");

const INITIATOR_SPI = "9313f28c345d8555";
const RESPONDER_SPI = "7fd528750624df57";

function only<T extends Payload>(payloads: Payload[], type: number): T {
  const found = payloads.filter((p) => p.type === type);
  assert.equal(found.length, 1, `exactly one payload of type ${type}`);
  return found[0] as T;
}

function notifies(message: IkeMessage): NotifyPayload[] {
  return message.payloads.filter((p): p is NotifyPayload => p.type === PayloadType.Notify);
}

/** The one proposal strongSwan offers and accepts for `aes128gcm16-prfsha256-ecp256`. */
function assertProposal(sa: SaPayload): void {
  assert.equal(sa.proposals.length, 1);
  const proposal = sa.proposals[0]!;
  assert.equal(proposal.number, 1);
  assert.equal(proposal.protocol, ProtocolId.Ike);
  assert.equal(proposal.spi.length, 0);
  assert.equal(proposal.transforms.length, 3);
  const [encr, prf, dh] = proposal.transforms;
  assert.equal(encr?.type, TransformType.Encryption);
  assert.equal(encr?.id, 20); // ENCR_AES_GCM_16
  assert.equal(encr?.keyLength, 128);
  assert.equal(prf?.type, TransformType.Prf);
  assert.equal(prf?.id, 5); // PRF_HMAC_SHA2_256
  assert.equal(prf?.keyLength, undefined);
  assert.equal(dh?.type, TransformType.DiffieHellman);
  assert.equal(dh?.id, 19); // ECP-256
  assert.equal(dh?.keyLength, undefined);
  for (const t of proposal.transforms) assert.equal(t.unknownAttribute, undefined);
}

function assertKeAndNonce(message: IkeMessage, kePrefix: string, nonceHex: string): void {
  const ke = only<KePayload>(message.payloads, PayloadType.KeyExchange);
  assert.equal(ke.dhGroup, 19);
  assert.equal(ke.keyData.length, 64); // x | y of P-256, RFC 5903 §7
  assert.ok(toHex(ke.keyData).startsWith(kePrefix));
  const nonce = only<NoncePayload>(message.payloads, PayloadType.Nonce);
  assert.equal(nonce.nonce.length, 32);
  assert.equal(toHex(nonce.nonce), nonceHex);
}

function assertNatDetection(n: NotifyPayload[], sourceHex: string, destinationHex: string): void {
  const [source, destination] = n;
  assert.equal(source?.notifyType, NotifyType.NatDetectionSourceIp);
  assert.equal(destination?.notifyType, NotifyType.NatDetectionDestinationIp);
  for (const natd of [source!, destination!]) {
    assert.equal(natd.protocol, 0);
    assert.equal(natd.spi.length, 0);
    assert.equal(natd.data.length, 20); // SHA-1 digest, RFC 7296 §2.23
  }
  assert.equal(toHex(source!.data), sourceHex);
  assert.equal(toHex(destination!.data), destinationHex);
}

function assertFragmentationAndHashes(n: NotifyPayload[]): void {
  const fragmentation = n.find((p) => p.notifyType === NotifyType.IkeFragmentationSupported);
  assert.ok(fragmentation !== undefined, "IKEV2_FRAGMENTATION_SUPPORTED present");
  assert.equal(fragmentation.data.length, 0);
  const hashes = n.find((p) => p.notifyType === NotifyType.SignatureHashAlgorithms);
  assert.ok(hashes !== undefined, "SIGNATURE_HASH_ALGORITHMS present");
  // SHA2-256, SHA2-384, SHA2-512, Identity (RFC 7427 §4, RFC 8420).
  assert.equal(toHex(hashes.data), "0002000300040005");
}

Deno.test("strongSwan IKE_SA_INIT request: header", () => {
  const { header } = decodeMessage(REQUEST);
  assert.equal(toHex(header.initiatorSpi), INITIATOR_SPI);
  assert.equal(toHex(header.responderSpi), "0000000000000000");
  assert.equal(header.nextPayload, PayloadType.SecurityAssociation);
  assert.equal(header.majorVersion, IKE_MAJOR_VERSION);
  assert.equal(header.minorVersion, 0);
  assert.equal(header.exchangeType, ExchangeType.IkeSaInit);
  assert.equal(header.flags, HeaderFlag.Initiator);
  assert.equal(header.messageId, 0);
  assert.equal(header.length, 264);
  assert.equal(header.length, REQUEST.length);
});

Deno.test("strongSwan IKE_SA_INIT request: payloads in wire order", () => {
  const message = decodeMessage(REQUEST);
  assert.deepEqual(message.payloads.map((p) => p.type), [
    PayloadType.SecurityAssociation,
    PayloadType.KeyExchange,
    PayloadType.Nonce,
    PayloadType.Notify,
    PayloadType.Notify,
    PayloadType.Notify,
    PayloadType.Notify,
    PayloadType.Notify,
  ]);
  assertProposal(only<SaPayload>(message.payloads, PayloadType.SecurityAssociation));
  assertKeAndNonce(
    message,
    "2f67cb15fce9d801",
    "e5367aba521c97b77862c2ac6f859a67745edccd007d8bd9bded71dfdddf45e5",
  );
});

Deno.test("strongSwan IKE_SA_INIT request: notifies", () => {
  const n = notifies(decodeMessage(REQUEST));
  assert.deepEqual(n.map((p) => p.notifyType), [
    NotifyType.NatDetectionSourceIp,
    NotifyType.NatDetectionDestinationIp,
    NotifyType.IkeFragmentationSupported,
    NotifyType.SignatureHashAlgorithms,
    NotifyType.RedirectSupported,
  ]);
  assertNatDetection(
    n,
    "786f7cc07e1a9d40a3ad29cb964fcdb7cef30749",
    "bf8793ecdf12660a4c3584ce2535954aa0514a1e",
  );
  assertFragmentationAndHashes(n);
  const redirect = n.find((p) => p.notifyType === NotifyType.RedirectSupported);
  assert.equal(redirect?.data.length, 0);
  for (const p of n) assert.equal(p.spi.length, 0);
});

Deno.test("strongSwan IKE_SA_INIT response: header", () => {
  const { header } = decodeMessage(RESPONSE);
  assert.equal(toHex(header.initiatorSpi), INITIATOR_SPI);
  assert.equal(toHex(header.responderSpi), RESPONDER_SPI);
  assert.equal(header.nextPayload, PayloadType.SecurityAssociation);
  assert.equal(header.majorVersion, IKE_MAJOR_VERSION);
  assert.equal(header.minorVersion, 0);
  assert.equal(header.exchangeType, ExchangeType.IkeSaInit);
  assert.equal(header.flags, HeaderFlag.Response);
  assert.equal(header.messageId, 0);
  assert.equal(header.length, 272);
  assert.equal(header.length, RESPONSE.length);
});

Deno.test("strongSwan IKE_SA_INIT response: payloads and notifies", () => {
  const message = decodeMessage(RESPONSE);
  assert.deepEqual(message.payloads.map((p) => p.type), [
    PayloadType.SecurityAssociation,
    PayloadType.KeyExchange,
    PayloadType.Nonce,
    ...Array(6).fill(PayloadType.Notify),
  ]);
  assertProposal(only<SaPayload>(message.payloads, PayloadType.SecurityAssociation));
  assertKeAndNonce(
    message,
    "a55bfaa8f449a7fb",
    "b9432a553edc77f8ebfb9454d96c1c7667c9c8dbc05cb5ca152936412b17677b",
  );
  const n = notifies(message);
  assert.deepEqual(n.map((p) => p.notifyType), [
    NotifyType.NatDetectionSourceIp,
    NotifyType.NatDetectionDestinationIp,
    NotifyType.IkeFragmentationSupported,
    NotifyType.SignatureHashAlgorithms,
    16418, // CHILDLESS_IKEV2_SUPPORTED (RFC 6023 §4)
    NotifyType.MultipleAuthSupported,
  ]);
  assertNatDetection(
    n,
    "bce2c0e8b37557472d4a25df4d4ada4c082c937b",
    "5594c4444eae0da6c7274a0550a1f33d4047dacc",
  );
  assertFragmentationAndHashes(n);
  for (const p of n.slice(4)) assert.equal(p.data.length, 0);
});

Deno.test("NotifyType.ChildlessIkev2Supported is the value strongSwan sends (RFC 6023: 16418)", () => {
  assert.equal(NotifyType.ChildlessIkev2Supported, 16418);
});

Deno.test("strongSwan IKE_SA_INIT request and response re-encode byte for byte", () => {
  for (const bytes of [REQUEST, RESPONSE]) {
    const { header, payloads } = decodeMessage(bytes);
    const { length: _length, nextPayload: _next, ...rest } = header;
    assert.equal(toHex(encodeMessage(rest, payloads)), toHex(bytes));
  }
});
