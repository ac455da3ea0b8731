/**
 * AUTH payload signatures (RFC 7296 §2.15, §3.8; RFC 4754; RFC 7427). The caller supplies the
 * InitiatorSignedOctets / ResponderSignedOctets; this module picks a scheme, signs, and checks
 * a peer's AUTH data against the public key of its (already validated) certificate.
 *
 * Method 14 data (RFC 7427 §3):
 *
 * ```
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * | ASN.1 Length  | AlgorithmIdentifier ASN.1 object              |
 * +-+-+-+-+-+-+-+-+                                               +
 * ~        AlgorithmIdentifier ASN.1 object continuing            ~
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ~                         Signature Value                       ~
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ```
 */
import { Buffer } from "node:buffer";
import { constants, createPublicKey, type KeyObject, verify } from "node:crypto";
import { AuthMethod } from "../../ike/constants.ts";
import { concatBytes } from "../../wire/mod.ts";
import {
  AlgorithmIdentifier,
  AsnConvert,
  id_mgf1,
  id_RSASSA_PSS,
  RsaSaPssParams,
} from "./_deps.ts";
import { Certificate, type EcCurve, type PublicKeyType } from "./certificate.ts";
import { AuthSignatureError } from "./errors.ts";
import {
  curveFieldLength,
  hashAlgorithmId,
  hashLength,
  SIGNATURE_HASH_ALGORITHMS,
  SIGNATURE_SCHEMES,
  type SignatureHash,
  type SignatureScheme,
} from "./schemes.ts";
import type { SigningKey } from "./signing_key.ts";

/** What a scheme choice depends on: the key (a {@link SigningKey} fits). */
export interface SignatureKeyInfo {
  keyType: PublicKeyType;
  bits: number;
  curve?: EcCurve | undefined;
}

/** Options of {@link chooseSignatureScheme}. */
export interface ChooseSignatureSchemeOptions {
  /**
   * Ids from the peer's SIGNATURE_HASH_ALGORITHMS notify, or undefined when it sent none (then
   * only the classic methods 1, 9, 10, 11 are possible).
   */
  peerHashAlgorithms?: readonly number[] | undefined;
  /** RSASSA-PSS instead of PKCS#1 v1.5 for RSA in RFC 7427 mode (default false, as strongSwan). */
  rsaPss?: boolean;
}

/** Hash preference by key size, as strongSwan orders them (signature_schemes_for_key). */
function preferredHashes(key: SignatureKeyInfo): ("sha256" | "sha384" | "sha512")[] {
  const size = key.keyType === "rsa"
    ? (key.bits <= 3072 ? 256 : key.bits <= 7680 ? 384 : 512)
    : (key.curve === "P-256" ? 256 : key.curve === "P-384" ? 384 : 512);
  if (size === 256) return ["sha256", "sha384", "sha512"];
  if (size === 384) return ["sha384", "sha512", "sha256"];
  // P-521 with SHA-256 is beyond the ECDSA implementation of Deno's node:crypto.
  return key.curve === "P-521" ? ["sha512", "sha384"] : ["sha512", "sha384", "sha256"];
}

function classicScheme(key: SignatureKeyInfo): SignatureScheme {
  if (key.keyType === "rsa") return SIGNATURE_SCHEMES.RSA_EMSA_PKCS1_SHA1;
  switch (key.curve) {
    case "P-256":
      return SIGNATURE_SCHEMES.ECDSA_256;
    case "P-384":
      return SIGNATURE_SCHEMES.ECDSA_384;
    case "P-521":
      return SIGNATURE_SCHEMES.ECDSA_521;
  }
  throw new AuthSignatureError(`Cannot choose a signature scheme: ECDSA key without a known curve`);
}

/**
 * Picks the scheme for our AUTH payload. With a peer SIGNATURE_HASH_ALGORITHMS list it is
 * method 14 with the first hash, in key-size order, that both sides support (ECDSA:
 * ECDSA_WITH_SHAx_DER; RSA: PKCS#1 v1.5, or PSS with `rsaPss`). Without the notify, or without
 * a common hash, it is the classic method for the key: 1 (RSA, SHA-1 as RFC 7296 and
 * strongSwan define it) or 9/10/11 (ECDSA on P-256/384/521).
 *
 * @example
 * ```ts
 * chooseSignatureScheme(key, { peerHashAlgorithms: [2, 3, 4, 5] }).name; // "ECDSA_WITH_SHA256_DER" for P-256
 * chooseSignatureScheme(rsaKey, {}).authMethod; // 1
 * ```
 */
export function chooseSignatureScheme(
  key: SignatureKeyInfo,
  options: ChooseSignatureSchemeOptions = {},
): SignatureScheme {
  const peer = options.peerHashAlgorithms;
  if (peer !== undefined) {
    for (const hash of preferredHashes(key)) {
      const id = hashAlgorithmId(hash);
      if (!peer.includes(id) || !SIGNATURE_HASH_ALGORITHMS.includes(id)) continue;
      const bits = hash.slice(3) as "256" | "384" | "512";
      if (key.keyType === "ecdsa") return SIGNATURE_SCHEMES[`ECDSA_WITH_SHA${bits}_DER`];
      return SIGNATURE_SCHEMES[
        options.rsaPss
          ? `RSA_EMSA_PSS_SHA2_${bits}` as const
          : `RSA_EMSA_PKCS1_SHA2_${bits}` as const
      ];
    }
  }
  return classicScheme(key);
}

/** An AUTH payload's content. */
export interface AuthSignature {
  authMethod: number;
  /** The Authentication Data field (for method 14 with its RFC 7427 prefix). */
  authData: Uint8Array;
  scheme: SignatureScheme;
}

/**
 * Signs the AUTH octets with `scheme` and formats the Authentication Data.
 *
 * @throws {AuthSignatureError} when the key does not fit the scheme.
 *
 * @example
 * ```ts
 * const { authMethod, authData } = createAuthSignature(key, initiatorSignedOctets, scheme);
 * ```
 */
export function createAuthSignature(
  key: SigningKey,
  signedOctets: Uint8Array,
  scheme: SignatureScheme,
): AuthSignature {
  const signature = key.sign(scheme, signedOctets);
  const prefix = scheme.algorithmIdentifier;
  const authData = prefix
    ? concatBytes(new Uint8Array([prefix.length]), prefix, signature)
    : signature;
  return { authMethod: scheme.authMethod, authData, scheme };
}

/**
 * Chooses a scheme ({@link chooseSignatureScheme}) and signs: the one call the secure process
 * makes to answer "sign these octets with the realm's key".
 *
 * @example
 * ```ts
 * const auth = signAuth(key, octets, { peerHashAlgorithms: decodeSignatureHashAlgorithms(n.data) });
 * ```
 */
export function signAuth(
  key: SigningKey,
  signedOctets: Uint8Array,
  options: ChooseSignatureSchemeOptions = {},
): AuthSignature {
  return createAuthSignature(key, signedOctets, chooseSignatureScheme(key, options));
}

/** A peer's AUTH data split into its scheme and bare signature. */
export interface DecodedAuthSignature {
  scheme: SignatureScheme;
  /** Method 14 with RSASSA-PSS: the salt length the peer's parameters name. */
  saltLength: number | undefined;
  signature: Uint8Array;
}

const PKCS1_OIDS: Record<string, SignatureHash> = {
  "1.2.840.113549.1.1.5": "sha1",
  "1.2.840.113549.1.1.11": "sha256",
  "1.2.840.113549.1.1.12": "sha384",
  "1.2.840.113549.1.1.13": "sha512",
};
const ECDSA_OIDS: Record<string, SignatureHash> = {
  "1.2.840.10045.4.1": "sha1",
  "1.2.840.10045.4.3.2": "sha256",
  "1.2.840.10045.4.3.3": "sha384",
  "1.2.840.10045.4.3.4": "sha512",
};
const HASH_OIDS: Record<string, SignatureHash> = {
  "1.3.14.3.2.26": "sha1",
  "2.16.840.1.101.3.4.2.1": "sha256",
  "2.16.840.1.101.3.4.2.2": "sha384",
  "2.16.840.1.101.3.4.2.3": "sha512",
};
const NULL_PARAMETERS = [0x05, 0x00];

function isAbsentOrNull(parameters: ArrayBuffer | null | undefined): boolean {
  if (parameters === undefined || parameters === null) return true;
  const bytes = new Uint8Array(parameters);
  return bytes.length === 2 && bytes[0] === NULL_PARAMETERS[0] && bytes[1] === NULL_PARAMETERS[1];
}

function acceptedHash(hash: SignatureHash, what: string): SignatureHash {
  if (!SIGNATURE_HASH_ALGORITHMS.includes(hashAlgorithmId(hash))) {
    throw new AuthSignatureError(
      `Cannot verify AUTH: ${what} uses ${hash.toUpperCase()}, which we do not accept ` +
        `(we announce SHA2_256, SHA2_384 and SHA2_512)`,
    );
  }
  return hash;
}

function schemeFor(
  padding: "pkcs1" | "pss" | undefined,
  hash: SignatureHash,
): SignatureScheme {
  const bits = hash.slice(3) as "256" | "384" | "512";
  if (padding === "pkcs1") return SIGNATURE_SCHEMES[`RSA_EMSA_PKCS1_SHA2_${bits}`];
  if (padding === "pss") return SIGNATURE_SCHEMES[`RSA_EMSA_PSS_SHA2_${bits}`];
  return SIGNATURE_SCHEMES[`ECDSA_WITH_SHA${bits}_DER`];
}

function decodeDigitalSignature(authData: Uint8Array): DecodedAuthSignature {
  const length = authData[0];
  if (length === undefined || length === 0 || authData.length < 1 + length) {
    throw new AuthSignatureError(
      `Cannot verify AUTH: method 14 data of ${authData.length} bytes has no complete ` +
        `AlgorithmIdentifier (length octet ${length ?? "missing"})`,
    );
  }
  const algorithmDer = authData.subarray(1, 1 + length);
  const signature = authData.slice(1 + length);
  let algorithm: AlgorithmIdentifier;
  try {
    algorithm = AsnConvert.parse(algorithmDer, AlgorithmIdentifier);
  } catch (cause) {
    throw new AuthSignatureError("Cannot verify AUTH: method 14 AlgorithmIdentifier is not DER", {
      cause,
    });
  }
  const oid = algorithm.algorithm;
  const pkcs1 = PKCS1_OIDS[oid];
  const ecdsa = ECDSA_OIDS[oid];
  if ((pkcs1 ?? ecdsa) !== undefined) {
    if (!isAbsentOrNull(algorithm.parameters)) {
      throw new AuthSignatureError(
        `Cannot verify AUTH: algorithm ${oid} has unexpected parameters`,
      );
    }
    const hash = acceptedHash((pkcs1 ?? ecdsa)!, `algorithm ${oid}`);
    return {
      scheme: schemeFor(pkcs1 ? "pkcs1" : undefined, hash),
      saltLength: undefined,
      signature,
    };
  }
  if (oid === id_RSASSA_PSS) {
    if (!algorithm.parameters) {
      throw new AuthSignatureError("Cannot verify AUTH: RSASSA-PSS without parameters");
    }
    let params: RsaSaPssParams;
    try {
      params = AsnConvert.parse(algorithm.parameters, RsaSaPssParams);
    } catch (cause) {
      throw new AuthSignatureError("Cannot verify AUTH: malformed RSASSA-PSS parameters", {
        cause,
      });
    }
    const hash = HASH_OIDS[params.hashAlgorithm.algorithm];
    if (hash === undefined) {
      throw new AuthSignatureError(
        `Cannot verify AUTH: RSASSA-PSS hash ${params.hashAlgorithm.algorithm} is not supported`,
      );
    }
    acceptedHash(hash, "RSASSA-PSS");
    const mgf = params.maskGenAlgorithm;
    const mgfHash = mgf.algorithm === id_mgf1 && mgf.parameters
      ? HASH_OIDS[AsnConvert.parse(mgf.parameters, AlgorithmIdentifier).algorithm]
      : undefined;
    if (mgfHash !== hash) {
      throw new AuthSignatureError(
        "Cannot verify AUTH: RSASSA-PSS mask generation must be MGF1 with the signature's hash",
      );
    }
    if (params.trailerField !== 1) {
      throw new AuthSignatureError(
        `Cannot verify AUTH: RSASSA-PSS trailerField ${params.trailerField}`,
      );
    }
    return { scheme: schemeFor("pss", hash), saltLength: params.saltLength, signature };
  }
  throw new AuthSignatureError(`Cannot verify AUTH: signature algorithm ${oid} is not supported`);
}

/**
 * Splits AUTH data into scheme and signature without checking it (e.g. for a log line).
 *
 * @throws {AuthSignatureError} for an unsupported method or algorithm, or malformed data.
 *
 * @example
 * ```ts
 * decodeAuthSignature(14, authData).scheme.name; // "ECDSA_WITH_SHA384_DER"
 * ```
 */
export function decodeAuthSignature(
  authMethod: number,
  authData: Uint8Array,
): DecodedAuthSignature {
  switch (authMethod) {
    case AuthMethod.RsaDigitalSignature:
      return {
        scheme: SIGNATURE_SCHEMES.RSA_EMSA_PKCS1_SHA1,
        saltLength: undefined,
        signature: authData.slice(),
      };
    case AuthMethod.EcdsaSha256P256:
      return {
        scheme: SIGNATURE_SCHEMES.ECDSA_256,
        saltLength: undefined,
        signature: authData.slice(),
      };
    case AuthMethod.EcdsaSha384P384:
      return {
        scheme: SIGNATURE_SCHEMES.ECDSA_384,
        saltLength: undefined,
        signature: authData.slice(),
      };
    case AuthMethod.EcdsaSha512P521:
      return {
        scheme: SIGNATURE_SCHEMES.ECDSA_521,
        saltLength: undefined,
        signature: authData.slice(),
      };
    case AuthMethod.DigitalSignature:
      return decodeDigitalSignature(authData);
  }
  throw new AuthSignatureError(
    `Cannot verify AUTH: method ${authMethod} is not a signature method`,
  );
}

/**
 * Deno's `node:crypto` ECDSA cannot sign or verify P-521 with SHA-256 (signing fails, checking
 * answers false even for a good signature), so both are refused up front.
 */
function checkCurveHash(
  curve: EcCurve | undefined,
  hash: SignatureHash,
  action: "sign" | "verify",
): void {
  if (curve === "P-521" && hash === "sha256") {
    throw new AuthSignatureError(
      `Cannot ${action} AUTH: ECDSA on P-521 with SHA-256 is not supported (use SHA-384 or SHA-512)`,
    );
  }
}

/** What {@link verifyAuthSignature} checks. */
export interface AuthVerifyRequest {
  authMethod: number;
  authData: Uint8Array;
  /** InitiatorSignedOctets or ResponderSignedOctets, computed by the caller. */
  signedOctets: Uint8Array;
}

/** The outcome of a check: `valid` is the signature check; `scheme` names what was used. */
export interface AuthVerifyResult {
  valid: boolean;
  scheme: SignatureScheme;
}

function publicKeyOf(signer: Certificate | Uint8Array): {
  key: KeyObject;
  keyType: PublicKeyType | "other";
  curve: EcCurve | undefined;
} {
  const spki = signer instanceof Certificate ? signer.publicKeyInfo : signer;
  let key: KeyObject;
  try {
    key = createPublicKey({ key: Buffer.from(spki), format: "der", type: "spki" });
  } catch (cause) {
    throw new AuthSignatureError("Cannot verify AUTH: the signer's public key is malformed", {
      cause,
    });
  }
  const type = key.asymmetricKeyType;
  const curveName = key.asymmetricKeyDetails?.namedCurve;
  const curve = curveName === "prime256v1"
    ? "P-256"
    : curveName === "secp384r1"
    ? "P-384"
    : curveName === "secp521r1"
    ? "P-521"
    : undefined;
  return { key, keyType: type === "rsa" ? "rsa" : type === "ec" ? "ecdsa" : "other", curve };
}

/**
 * Checks a peer's AUTH payload against the public key of its certificate (or a DER
 * subjectPublicKeyInfo). Validate the certificate chain and the ID ↔ certificate binding first.
 *
 * @returns `valid: false` when the signature does not verify (tampered octets, wrong key).
 * @throws {AuthSignatureError} when it cannot be checked at all: unsupported method or
 *   algorithm, malformed data, SHA-1 in method 14, or a key that does not fit the method.
 *
 * @example
 * ```ts
 * const { valid, scheme } = verifyAuthSignature(peerCert, { authMethod, authData, signedOctets });
 * if (!valid) return authenticationFailed(`signature ${scheme.name} does not verify`);
 * ```
 */
export function verifyAuthSignature(
  signer: Certificate | Uint8Array,
  request: AuthVerifyRequest,
): AuthVerifyResult {
  const decoded = decodeAuthSignature(request.authMethod, request.authData);
  const { scheme, signature } = decoded;
  const { key, keyType, curve } = publicKeyOf(signer);
  if (keyType !== scheme.keyType || (scheme.curve !== undefined && scheme.curve !== curve)) {
    throw new AuthSignatureError(
      `Cannot verify AUTH: ${scheme.name} (method ${request.authMethod}) needs ${
        scheme.curve ?? scheme.keyType.toUpperCase()
      } key, the certificate has ${
        keyType === "ecdsa" ? `ECDSA ${curve ?? "?"}` : keyType.toUpperCase()
      }`,
    );
  }
  checkCurveHash(curve, scheme.hash, "verify");
  if (scheme.ecdsaEncoding === "raw" && signature.length !== 2 * curveFieldLength(scheme.curve!)) {
    return { valid: false, scheme };
  }
  const data = Buffer.from(
    request.signedOctets.buffer,
    request.signedOctets.byteOffset,
    request.signedOctets.byteLength,
  );
  let valid: boolean;
  try {
    valid = scheme.keyType === "rsa"
      ? verify(scheme.hash, data, {
        key,
        padding: scheme.padding === "pss"
          ? constants.RSA_PKCS1_PSS_PADDING
          : constants.RSA_PKCS1_PADDING,
        ...(scheme.padding === "pss"
          ? { saltLength: decoded.saltLength ?? hashLength(scheme.hash) }
          : {}),
      }, signature)
      : verify(scheme.hash, data, {
        key,
        dsaEncoding: scheme.ecdsaEncoding === "raw" ? "ieee-p1363" : "der",
      }, signature);
  } catch {
    valid = false; // a malformed signature value is a failed check, not an error
  }
  return { valid, scheme };
}
