/**
 * Bodies of the CERT (RFC 7296 §3.6) and CERTREQ (§3.7) payloads, which the payload codec
 * passes through as opaque bytes. Both start with a Cert Encoding octet:
 *
 * ```
 *                      1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * | Cert Encoding |                                               |
 * +-+-+-+-+-+-+-+-+                                               |
 * ~    Certificate Data (CERT) / Certification Authority (CERTREQ) ~
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ```
 *
 * With encoding 4 (X.509 Certificate - Signature) CERT data is one DER certificate and
 * CERTREQ data is a concatenation of 20-byte SHA-1 hashes of trusted CAs' subjectPublicKeyInfo.
 */
import { DecodeError } from "../../wire/mod.ts";
import { Certificate } from "./certificate.ts";
import { X509ParseError } from "./errors.ts";
import type { TrustStore } from "./trust_store.ts";

/** Certificate Encoding values (RFC 7296 §3.6). */
export const CertEncoding = {
  Pkcs7WrappedX509: 1, // RFC 7296 §3.6
  Pgp: 2, // RFC 7296 §3.6
  DnsSignedKey: 3, // RFC 7296 §3.6
  X509Signature: 4, // RFC 7296 §3.6
  Kerberos: 6, // RFC 7296 §3.6
  Crl: 7, // RFC 7296 §3.6
  Arl: 8, // RFC 7296 §3.6
  Spki: 9, // RFC 7296 §3.6
  X509Attribute: 10, // RFC 7296 §3.6
  RawRsaKey: 11, // RFC 7296 §3.6 (deprecated by RFC 7670)
  HashAndUrlX509: 12, // RFC 7296 §3.6
  HashAndUrlX509Bundle: 13, // RFC 7296 §3.6
  RawPublicKey: 15, // RFC 7670
} as const;

const CERT_ENCODING_NAMES: Record<number, string> = {
  1: "PKCS7_WRAPPED_X509",
  2: "PGP",
  3: "DNS_SIGNED_KEY",
  4: "X509_SIGNATURE",
  6: "KERBEROS",
  7: "CRL",
  8: "ARL",
  9: "SPKI",
  10: "X509_ATTRIBUTE",
  11: "RAW_RSA_KEY",
  12: "HASH_AND_URL_X509",
  13: "HASH_AND_URL_X509_BUNDLE",
  15: "RAW_PUBLIC_KEY",
};

/**
 * Name of a Cert Encoding value, `UNKNOWN(n)` for others.
 *
 * @example
 * ```ts
 * certEncodingName(4); // "X509_SIGNATURE"
 * ```
 */
export function certEncodingName(encoding: number): string {
  return CERT_ENCODING_NAMES[encoding] ?? `UNKNOWN(${encoding})`;
}

/** SHA-1 output length: one CERTREQ authority entry. */
export const CERTREQ_HASH_LENGTH = 20;

/** A CERT or CERTREQ body split into encoding and data. */
export interface CertBody {
  encoding: number;
  data: Uint8Array;
}

function split(body: Uint8Array, what: string): CertBody {
  if (body.length < 1) throw new DecodeError(`Cannot decode ${what}: empty body`, 0);
  return { encoding: body[0]!, data: body.slice(1) };
}

/**
 * The CERT payload body for a certificate: encoding 4 and its DER.
 *
 * @example
 * ```ts
 * const cert = { type: PayloadType.Certificate, critical: false, body: encodeCertBody(myCert) };
 * ```
 */
export function encodeCertBody(cert: Certificate): Uint8Array {
  const body = new Uint8Array(1 + cert.der.length);
  body[0] = CertEncoding.X509Signature;
  body.set(cert.der, 1);
  return body;
}

/**
 * Splits a CERT payload body into encoding and data.
 *
 * @throws {DecodeError} on an empty body.
 *
 * @example
 * ```ts
 * decodeCertBody(payload.body).encoding; // 4
 * ```
 */
export function decodeCertBody(body: Uint8Array): CertBody {
  return split(body, "CERT payload");
}

/**
 * The certificate in a CERT payload body with encoding 4.
 *
 * @throws {DecodeError} on an empty body or another encoding (named in the message).
 * @throws {X509ParseError} when the data is not a DER certificate.
 *
 * @example
 * ```ts
 * const [endEntity, ...intermediates] = certPayloads.map((p) => certificateFromCertBody(p.body));
 * ```
 */
export function certificateFromCertBody(body: Uint8Array): Certificate {
  const { encoding, data } = decodeCertBody(body);
  if (encoding !== CertEncoding.X509Signature) {
    throw new DecodeError(
      `Cannot decode CERT payload: encoding ${certEncodingName(encoding)} is not supported ` +
        `(only X509_SIGNATURE)`,
      0,
    );
  }
  if (data[0] !== 0x30) throw new X509ParseError("Cannot parse certificate: CERT data is not DER");
  return Certificate.from(data);
}

/**
 * The CERTREQ body naming CAs by their SHA-1 subjectPublicKeyInfo hash (encoding 4); pass
 * `store.authorityHashes()` to ask for a certificate under any CA we trust.
 *
 * @example
 * ```ts
 * const body = encodeCertReqBody(store.authorityHashes()); // 1 + 20·n bytes
 * ```
 */
export function encodeCertReqBody(authorityHashes: readonly Uint8Array[]): Uint8Array {
  const body = new Uint8Array(1 + CERTREQ_HASH_LENGTH * authorityHashes.length);
  body[0] = CertEncoding.X509Signature;
  authorityHashes.forEach((hash, i) => {
    if (hash.length !== CERTREQ_HASH_LENGTH) {
      throw new RangeError(`Cannot encode CERTREQ: authority hash ${i} is ${hash.length} bytes`);
    }
    body.set(hash, 1 + CERTREQ_HASH_LENGTH * i);
  });
  return body;
}

/** A decoded CERTREQ body. */
export interface CertReq {
  encoding: number;
  /** For encoding 4: the 20-byte hashes; empty for other encodings or an empty list. */
  authorities: Uint8Array[];
}

/**
 * Reads a CERTREQ body. For encoding 4 the data must be a whole number of SHA-1 hashes (an
 * empty list is legal and asks for any certificate); other encodings are returned with no
 * authorities so the caller can ignore them.
 *
 * @throws {DecodeError} on an empty body or a length that is not a multiple of 20.
 *
 * @example
 * ```ts
 * decodeCertReqBody(payload.body).authorities.length; // number of CAs the peer trusts
 * ```
 */
export function decodeCertReqBody(body: Uint8Array): CertReq {
  const { encoding, data } = split(body, "CERTREQ payload");
  if (encoding !== CertEncoding.X509Signature) return { encoding, authorities: [] };
  if (data.length % CERTREQ_HASH_LENGTH !== 0) {
    throw new DecodeError(
      `Cannot decode CERTREQ payload: ${data.length} bytes of authorities is not a multiple of ` +
        `${CERTREQ_HASH_LENGTH}`,
      1 + data.length - (data.length % CERTREQ_HASH_LENGTH),
    );
  }
  const authorities: Uint8Array[] = [];
  for (let i = 0; i < data.length; i += CERTREQ_HASH_LENGTH) {
    authorities.push(data.slice(i, i + CERTREQ_HASH_LENGTH));
  }
  return { encoding, authorities };
}

/**
 * The CAs of `store` that a peer's CERTREQ bodies ask for (hashes we do not know are skipped),
 * without duplicates, in the order requested.
 *
 * @throws {DecodeError} when a body is malformed.
 *
 * @example
 * ```ts
 * const wanted = matchCertReqs(store, certReqPayloads.map((p) => p.body));
 * if (wanted.length > 0) sendChainTowards(wanted[0]);
 * ```
 */
export function matchCertReqs(store: TrustStore, bodies: readonly Uint8Array[]): Certificate[] {
  const found: Certificate[] = [];
  for (const body of bodies) {
    for (const hash of decodeCertReqBody(body).authorities) {
      const ca = store.findByAuthorityHash(hash);
      if (ca && !found.some((c) => c.equals(ca))) found.push(ca);
    }
  }
  return found;
}
