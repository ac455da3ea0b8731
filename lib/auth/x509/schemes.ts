/**
 * Signature schemes for IKEv2 AUTH payloads (RFC 7296 §3.8, RFC 4754, RFC 7427) and the
 * IKEv2 Hash Algorithms registry of the SIGNATURE_HASH_ALGORITHMS notify (RFC 7427 §4).
 *
 * Classic methods bind the algorithm to the method number: 1 = RSA PKCS#1 v1.5 with SHA-1
 * (RFC 7296 §3.8; strongSwan signs and verifies method 1 as SIGN_RSA_EMSA_PKCS1_SHA1), 9/10/11 =
 * ECDSA with SHA-256/384/512 on P-256/384/521, signature r|s of fixed length (RFC 4754 §7).
 * Method 14 carries the algorithm in the data: a length octet, a DER AlgorithmIdentifier and
 * the signature, an ECDSA one as DER ECDSA-Sig-Value (RFC 7427 §3).
 */
import { DecodeError } from "../../wire/mod.ts";
// Leaf module of constants; importing it (not ike/mod.ts) avoids an ike ↔ auth import cycle.
import { AuthMethod } from "../../ike/constants.ts";
import {
  AlgorithmIdentifier,
  AsnConvert,
  id_mgf1,
  id_RSASSA_PSS,
  id_sha256,
  id_sha384,
  id_sha512,
  RsaSaPssParams,
} from "./_deps.ts";
import type { EcCurve, PublicKeyType } from "./certificate.ts";

/** The IKEv2 Hash Algorithms registry (RFC 7427 §4; Identity from RFC 8420). */
export const SignatureHashAlgorithm = {
  Sha1: 1, // RFC 7427
  Sha2_256: 2, // RFC 7427
  Sha2_384: 3, // RFC 7427
  Sha2_512: 4, // RFC 7427
  Identity: 5, // RFC 8420
} as const;

const HASH_ALGORITHM_NAMES: Record<number, string> = {
  1: "SHA1",
  2: "SHA2_256",
  3: "SHA2_384",
  4: "SHA2_512",
  5: "IDENTITY",
};

/**
 * Name of an IKEv2 hash algorithm id, `UNKNOWN(n)` for others.
 *
 * @example
 * ```ts
 * signatureHashAlgorithmName(3); // "SHA2_384"
 * ```
 */
export function signatureHashAlgorithmName(id: number): string {
  return HASH_ALGORITHM_NAMES[id] ?? `UNKNOWN(${id})`;
}

/** The hash algorithms we announce and accept in RFC 7427 signatures: SHA2-256/384/512. */
export const SIGNATURE_HASH_ALGORITHMS: readonly number[] = Object.freeze([
  SignatureHashAlgorithm.Sha2_256,
  SignatureHashAlgorithm.Sha2_384,
  SignatureHashAlgorithm.Sha2_512,
]);

/**
 * The SIGNATURE_HASH_ALGORITHMS notification data: one 2-octet id per algorithm.
 *
 * @example
 * ```ts
 * encodeSignatureHashAlgorithms(); // Uint8Array [0, 2, 0, 3, 0, 4]
 * ```
 */
export function encodeSignatureHashAlgorithms(
  algorithms: readonly number[] = SIGNATURE_HASH_ALGORITHMS,
): Uint8Array {
  const out = new Uint8Array(algorithms.length * 2);
  algorithms.forEach((id, i) => {
    if (!Number.isInteger(id) || id < 0 || id > 0xffff) {
      throw new RangeError(`Cannot encode SIGNATURE_HASH_ALGORITHMS: ${id} is not a 16-bit id`);
    }
    out[i * 2] = id >> 8;
    out[i * 2 + 1] = id & 0xff;
  });
  return out;
}

/**
 * Reads SIGNATURE_HASH_ALGORITHMS notification data (unknown ids are kept; callers intersect).
 *
 * @throws {DecodeError} on an odd length.
 *
 * @example
 * ```ts
 * decodeSignatureHashAlgorithms(notify.data); // [2, 3, 4, 5] from strongSwan 5.9
 * ```
 */
export function decodeSignatureHashAlgorithms(data: Uint8Array): number[] {
  if (data.length % 2 !== 0) {
    throw new DecodeError(
      `Cannot decode SIGNATURE_HASH_ALGORITHMS: ${data.length} bytes is not a list of 2-byte ids`,
      data.length - 1,
    );
  }
  const ids: number[] = [];
  for (let i = 0; i < data.length; i += 2) ids.push((data[i]! << 8) | data[i + 1]!);
  return ids;
}

/** Hash functions of the schemes, in `node:crypto` names. */
export type SignatureHash = "sha1" | "sha256" | "sha384" | "sha512";

/** Names as strongSwan logs them (PSS with the hash appended). */
export type SignatureSchemeName =
  | "RSA_EMSA_PKCS1_SHA1"
  | "ECDSA_256"
  | "ECDSA_384"
  | "ECDSA_521"
  | "RSA_EMSA_PKCS1_SHA2_256"
  | "RSA_EMSA_PKCS1_SHA2_384"
  | "RSA_EMSA_PKCS1_SHA2_512"
  | "RSA_EMSA_PSS_SHA2_256"
  | "RSA_EMSA_PSS_SHA2_384"
  | "RSA_EMSA_PSS_SHA2_512"
  | "ECDSA_WITH_SHA256_DER"
  | "ECDSA_WITH_SHA384_DER"
  | "ECDSA_WITH_SHA512_DER";

/** One way of signing the AUTH octets. */
export interface SignatureScheme {
  readonly name: SignatureSchemeName;
  /** The AUTH payload's Auth Method (1, 9, 10, 11 or 14). */
  readonly authMethod: number;
  readonly keyType: PublicKeyType;
  readonly hash: SignatureHash;
  /** RSA padding. */
  readonly padding: "pkcs1" | "pss" | undefined;
  /** PSS salt length in bytes (the hash length, as strongSwan uses). */
  readonly saltLength: number | undefined;
  /** The curve a classic ECDSA method is bound to. */
  readonly curve: EcCurve | undefined;
  /** ECDSA signature form: `raw` r|s (RFC 4754) or `der` ECDSA-Sig-Value (RFC 7427). */
  readonly ecdsaEncoding: "raw" | "der" | undefined;
  /** Method 14 only: the DER AlgorithmIdentifier placed before the signature. */
  readonly algorithmIdentifier: Uint8Array | undefined;
}

function hex(text: string): Uint8Array {
  return new Uint8Array(text.split(" ").map((b) => parseInt(b, 16)));
}

/**
 * DER AlgorithmIdentifiers of RFC 7427 Appendix A, the fixed prefixes of method 14 data we send.
 * RSASSA-PSS ones are built by {@link pssAlgorithmIdentifier} (their parameters vary).
 */
export const RFC7427_ALGORITHM_IDENTIFIERS = Object.freeze({
  /** A.1.1 sha1WithRSAEncryption (never sent; listed for completeness and tests). */
  sha1WithRSAEncryption: hex("30 0d 06 09 2a 86 48 86 f7 0d 01 01 05 05 00"),
  /** A.1.2 */
  sha256WithRSAEncryption: hex("30 0d 06 09 2a 86 48 86 f7 0d 01 01 0b 05 00"),
  /** A.1.3 */
  sha384WithRSAEncryption: hex("30 0d 06 09 2a 86 48 86 f7 0d 01 01 0c 05 00"),
  /** A.1.4 */
  sha512WithRSAEncryption: hex("30 0d 06 09 2a 86 48 86 f7 0d 01 01 0d 05 00"),
  /** A.3.1 ecdsa-with-SHA1 (never sent). */
  ecdsaWithSha1: hex("30 09 06 07 2a 86 48 ce 3d 04 01"),
  /** A.3.2 */
  ecdsaWithSha256: hex("30 0a 06 08 2a 86 48 ce 3d 04 03 02"),
  /** A.3.3 */
  ecdsaWithSha384: hex("30 0a 06 08 2a 86 48 ce 3d 04 03 03"),
  /** A.3.4 */
  ecdsaWithSha512: hex("30 0a 06 08 2a 86 48 ce 3d 04 03 04"),
});

const HASH_OIDS: Record<"sha256" | "sha384" | "sha512", string> = {
  sha256: id_sha256,
  sha384: id_sha384,
  sha512: id_sha512,
};

const HASH_LENGTH: Record<SignatureHash, number> = { sha1: 20, sha256: 32, sha384: 48, sha512: 64 };

/**
 * The DER AlgorithmIdentifier of RSASSA-PSS with `hash`, MGF1 with the same hash and a salt of
 * the hash length (RFC 4055 §3.1; hash identifiers carry NULL parameters as in RFC 4055's
 * sha256Identifier, which is also what strongSwan sends).
 *
 * @example
 * ```ts
 * pssAlgorithmIdentifier("sha256").length; // 67
 * ```
 */
export function pssAlgorithmIdentifier(hash: "sha256" | "sha384" | "sha512"): Uint8Array {
  const hashAlgorithm = new AlgorithmIdentifier({ algorithm: HASH_OIDS[hash], parameters: null });
  const params = new RsaSaPssParams({
    hashAlgorithm,
    maskGenAlgorithm: new AlgorithmIdentifier({
      algorithm: id_mgf1,
      parameters: AsnConvert.serialize(hashAlgorithm),
    }),
    saltLength: HASH_LENGTH[hash],
  });
  return new Uint8Array(
    AsnConvert.serialize(
      new AlgorithmIdentifier({
        algorithm: id_RSASSA_PSS,
        parameters: AsnConvert.serialize(params),
      }),
    ),
  );
}

function scheme(
  name: SignatureSchemeName,
  authMethod: number,
  keyType: PublicKeyType,
  hash: SignatureHash,
  extra: Partial<Omit<SignatureScheme, "name" | "authMethod" | "keyType" | "hash">> = {},
): SignatureScheme {
  return Object.freeze({
    name,
    authMethod,
    keyType,
    hash,
    padding: extra.padding,
    saltLength: extra.saltLength,
    curve: extra.curve,
    ecdsaEncoding: extra.ecdsaEncoding,
    algorithmIdentifier: extra.algorithmIdentifier,
  });
}

const A = RFC7427_ALGORITHM_IDENTIFIERS;
const DS = AuthMethod.DigitalSignature;

/** Every scheme this module signs and verifies, by name. */
export const SIGNATURE_SCHEMES: Readonly<Record<SignatureSchemeName, SignatureScheme>> = Object
  .freeze({
    RSA_EMSA_PKCS1_SHA1: scheme(
      "RSA_EMSA_PKCS1_SHA1",
      AuthMethod.RsaDigitalSignature,
      "rsa",
      "sha1",
      {
        padding: "pkcs1",
      },
    ),
    ECDSA_256: scheme("ECDSA_256", AuthMethod.EcdsaSha256P256, "ecdsa", "sha256", {
      curve: "P-256",
      ecdsaEncoding: "raw",
    }),
    ECDSA_384: scheme("ECDSA_384", AuthMethod.EcdsaSha384P384, "ecdsa", "sha384", {
      curve: "P-384",
      ecdsaEncoding: "raw",
    }),
    ECDSA_521: scheme("ECDSA_521", AuthMethod.EcdsaSha512P521, "ecdsa", "sha512", {
      curve: "P-521",
      ecdsaEncoding: "raw",
    }),
    RSA_EMSA_PKCS1_SHA2_256: scheme("RSA_EMSA_PKCS1_SHA2_256", DS, "rsa", "sha256", {
      padding: "pkcs1",
      algorithmIdentifier: A.sha256WithRSAEncryption,
    }),
    RSA_EMSA_PKCS1_SHA2_384: scheme("RSA_EMSA_PKCS1_SHA2_384", DS, "rsa", "sha384", {
      padding: "pkcs1",
      algorithmIdentifier: A.sha384WithRSAEncryption,
    }),
    RSA_EMSA_PKCS1_SHA2_512: scheme("RSA_EMSA_PKCS1_SHA2_512", DS, "rsa", "sha512", {
      padding: "pkcs1",
      algorithmIdentifier: A.sha512WithRSAEncryption,
    }),
    RSA_EMSA_PSS_SHA2_256: scheme("RSA_EMSA_PSS_SHA2_256", DS, "rsa", "sha256", {
      padding: "pss",
      saltLength: 32,
      algorithmIdentifier: pssAlgorithmIdentifier("sha256"),
    }),
    RSA_EMSA_PSS_SHA2_384: scheme("RSA_EMSA_PSS_SHA2_384", DS, "rsa", "sha384", {
      padding: "pss",
      saltLength: 48,
      algorithmIdentifier: pssAlgorithmIdentifier("sha384"),
    }),
    RSA_EMSA_PSS_SHA2_512: scheme("RSA_EMSA_PSS_SHA2_512", DS, "rsa", "sha512", {
      padding: "pss",
      saltLength: 64,
      algorithmIdentifier: pssAlgorithmIdentifier("sha512"),
    }),
    ECDSA_WITH_SHA256_DER: scheme("ECDSA_WITH_SHA256_DER", DS, "ecdsa", "sha256", {
      ecdsaEncoding: "der",
      algorithmIdentifier: A.ecdsaWithSha256,
    }),
    ECDSA_WITH_SHA384_DER: scheme("ECDSA_WITH_SHA384_DER", DS, "ecdsa", "sha384", {
      ecdsaEncoding: "der",
      algorithmIdentifier: A.ecdsaWithSha384,
    }),
    ECDSA_WITH_SHA512_DER: scheme("ECDSA_WITH_SHA512_DER", DS, "ecdsa", "sha512", {
      ecdsaEncoding: "der",
      algorithmIdentifier: A.ecdsaWithSha512,
    }),
  });

/** RFC 7427 hash id of a scheme's hash. */
export function hashAlgorithmId(hash: SignatureHash): number {
  return { sha1: 1, sha256: 2, sha384: 3, sha512: 4 }[hash];
}

/** Byte length of one ECDSA coordinate on a curve (r and s each, RFC 4754 §7). */
export function curveFieldLength(curve: EcCurve): number {
  return curve === "P-256" ? 32 : curve === "P-384" ? 48 : 66;
}

/** The hash length of a scheme, for PSS salt checks. */
export function hashLength(hash: SignatureHash): number {
  return HASH_LENGTH[hash];
}
