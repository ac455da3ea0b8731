/**
 * The one place that imports the X.509 libraries. `@peculiar/x509` resolves its algorithm
 * registry through tsyringe, which needs the `reflect-metadata` polyfill loaded first; keeping
 * every import here guarantees that order.
 */
import "reflect-metadata";

export {
  BasicConstraintsExtension,
  KeyUsageFlags,
  KeyUsagesExtension,
  Name,
  PemConverter,
  PublicKey,
  SubjectAlternativeNameExtension,
  X509Certificate,
  X509Crl,
} from "@peculiar/x509";
export type { JsonName } from "@peculiar/x509";
export { AsnConvert } from "@peculiar/asn1-schema";
export {
  AlgorithmIdentifier,
  id_ce_authorityKeyIdentifier,
  id_ce_basicConstraints,
  id_ce_certificatePolicies,
  id_ce_extKeyUsage,
  id_ce_issuerAltName,
  id_ce_keyUsage,
  id_ce_subjectAltName,
  id_ce_subjectKeyIdentifier,
} from "@peculiar/asn1-x509";
export {
  id_mgf1,
  id_RSASSA_PSS,
  id_sha256,
  id_sha384,
  id_sha512,
  RsaSaPssParams,
} from "@peculiar/asn1-rsa";
