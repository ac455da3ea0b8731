import { assert, assertEquals, assertThrows } from "../../_assert.ts";
import {
  CertEncoding,
  certEncodingName,
  certificateFromCertBody,
  decodeCertBody,
  decodeCertReqBody,
  encodeCertBody,
  encodeCertReqBody,
  matchCertReqs,
  TrustStore,
  X509ParseError,
} from "../../../lib/auth/x509/mod.ts";
import { concatBytes, DecodeError } from "../../../lib/wire/mod.ts";
import { makeTestPki } from "./_pki.ts";

const pki = await makeTestPki();
const root = pki.cert("root");
const intermediate = pki.cert("intermediate");
const store = new TrustStore([root, intermediate]);

Deno.test("a CERT body is encoding 4 followed by the certificate's DER", () => {
  const cert = pki.cert("gw-p256");
  const body = encodeCertBody(cert);
  assertEquals(body[0], 4);
  assertEquals(body.subarray(1), cert.der);
  assertEquals(decodeCertBody(body), { encoding: CertEncoding.X509Signature, data: cert.der });
  assert(certificateFromCertBody(body).equals(cert));
});

Deno.test("refuses CERT bodies that are empty, of another encoding, or not DER", () => {
  assertThrows(() => decodeCertBody(new Uint8Array(0)), DecodeError, "empty body");
  const hashAndUrl = concatBytes(new Uint8Array([12]), new Uint8Array(20));
  assertThrows(
    () => certificateFromCertBody(hashAndUrl),
    DecodeError,
    "encoding HASH_AND_URL_X509 is not supported",
  );
  assertThrows(
    () => certificateFromCertBody(new Uint8Array([4, 0x30, 0x03, 1, 2, 3])),
    X509ParseError,
  );
  assertThrows(
    () => certificateFromCertBody(new Uint8Array([4, 0x2d, 0x2d])),
    X509ParseError,
    "not DER",
  );
});

Deno.test("names certificate encodings", () => {
  assertEquals(certEncodingName(4), "X509_SIGNATURE");
  assertEquals(certEncodingName(7), "CRL");
  assertEquals(certEncodingName(99), "UNKNOWN(99)");
});

Deno.test("a CERTREQ body is encoding 4 and the SHA-1 hashes of our CAs' public keys", () => {
  const body = encodeCertReqBody(store.authorityHashes());
  assertEquals(body.length, 1 + 2 * 20);
  assertEquals(body[0], 4);
  assertEquals(body.subarray(1, 21), store.authorityHashes()[0]);
  const decoded = decodeCertReqBody(body);
  assertEquals(decoded.encoding, 4);
  assertEquals(decoded.authorities, store.authorityHashes());
  assertEquals(encodeCertReqBody([]), new Uint8Array([4]));
  assertThrows(() => encodeCertReqBody([new Uint8Array(19)]), RangeError);
});

Deno.test("matches a peer's CERTREQ against the trust store", () => {
  const other = new TrustStore([pki.cert("other-root"), intermediate]);
  const request = encodeCertReqBody(other.authorityHashes());
  assertEquals(matchCertReqs(store, [request]).map((c) => c.subject), [
    "C=CH, O=Rockhopper Test, CN=Test Intermediate CA",
  ], "the unknown Other Root CA hash is skipped");
  const both = encodeCertReqBody([...store.authorityHashes()].reverse());
  assertEquals(matchCertReqs(store, [both, request]).map((c) => c.subject), [
    "C=CH, O=Rockhopper Test, CN=Test Intermediate CA",
    "C=CH, O=Rockhopper Test, CN=Test Root CA",
  ], "in request order, without duplicates");
  assertEquals(matchCertReqs(store, [new Uint8Array([4])]), [], "an empty list names no CA");
  assertEquals(
    matchCertReqs(store, [new Uint8Array([1, 2, 3])]),
    [],
    "other encodings are ignored",
  );
});

Deno.test("refuses malformed CERTREQ bodies", () => {
  assertThrows(() => decodeCertReqBody(new Uint8Array(0)), DecodeError, "empty body");
  assertThrows(
    () => decodeCertReqBody(new Uint8Array(1 + 25).fill(4)),
    DecodeError,
    "25 bytes of authorities is not a multiple of 20",
  );
  assertEquals(decodeCertReqBody(new Uint8Array([12, 1, 2])), { encoding: 12, authorities: [] });
});
