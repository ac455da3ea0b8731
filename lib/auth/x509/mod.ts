/**
 * X.509 certificate authentication for IKEv2, meant to run in the secure process: trust store
 * and CRLs, certification path validation, identity ↔ certificate binding, AUTH payload
 * signatures (methods 1, 9, 10, 11 and RFC 7427 method 14), and CERT/CERTREQ bodies.
 *
 * Parsing and certificate/CRL signature checks use `@peculiar/x509` (WebCrypto); AUTH
 * signatures use `node:crypto`. Private keys never leave a {@link SigningKey}.
 *
 * @example
 * ```ts
 * import * as x509 from "./lib/auth/x509/mod.ts";
 * const store = await x509.TrustStore.load({ caDirectories: ["/etc/rockhopper/ca"] });
 * const [peer, ...chain] = certPayloads.map((p) => x509.certificateFromCertBody(p.body));
 * await x509.validateChain(peer, chain, store);
 * if (!x509.certificateMatchesIdentity(peer, peerId)) throw new Error("ID not in certificate");
 * const { valid } = x509.verifyAuthSignature(peer, { authMethod, authData, signedOctets });
 * ```
 */
export { Certificate, parseCertificates, RevocationList } from "./certificate.ts";
export type {
  EcCurve,
  KeyUsage,
  PublicKeyType,
  RevokedEntry,
  SubjectAltNames,
} from "./certificate.ts";
export {
  distinguishedNameFromText,
  distinguishedNamesEqual,
  formatDistinguishedName,
} from "./dn.ts";
export {
  AuthSignatureError,
  CertificateValidationError,
  TrustStoreError,
  X509ParseError,
} from "./errors.ts";
export type { CertificateProblem } from "./errors.ts";
export { publicKeyInfoHash, TrustStore } from "./trust_store.ts";
export type { TrustStoreSources } from "./trust_store.ts";
export { validateChain } from "./validate.ts";
export type { ValidateChainOptions, ValidatedChain } from "./validate.ts";
export { certificateMatchesIdentity, identityFromCertificate } from "./identity.ts";
export type { Identity } from "./identity.ts";
export {
  decodeSignatureHashAlgorithms,
  encodeSignatureHashAlgorithms,
  pssAlgorithmIdentifier,
  RFC7427_ALGORITHM_IDENTIFIERS,
  SIGNATURE_HASH_ALGORITHMS,
  SIGNATURE_SCHEMES,
  SignatureHashAlgorithm,
  signatureHashAlgorithmName,
} from "./schemes.ts";
export type { SignatureHash, SignatureScheme, SignatureSchemeName } from "./schemes.ts";
export { SigningKey } from "./signing_key.ts";
export {
  chooseSignatureScheme,
  createAuthSignature,
  decodeAuthSignature,
  signAuth,
  verifyAuthSignature,
} from "./auth_signature.ts";
export type {
  AuthSignature,
  AuthVerifyRequest,
  AuthVerifyResult,
  ChooseSignatureSchemeOptions,
  DecodedAuthSignature,
  SignatureKeyInfo,
} from "./auth_signature.ts";
export {
  CertEncoding,
  certEncodingName,
  certificateFromCertBody,
  CERTREQ_HASH_LENGTH,
  decodeCertBody,
  decodeCertReqBody,
  encodeCertBody,
  encodeCertReqBody,
  matchCertReqs,
} from "./cert_payload.ts";
export type { CertBody, CertReq } from "./cert_payload.ts";
