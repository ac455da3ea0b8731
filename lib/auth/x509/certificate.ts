/**
 * X.509 certificates and CRLs (RFC 5280) as this module sees them: parsed once by
 * `@peculiar/x509`, with the fields IKE needs (subject DER for ID_DER_ASN1_DN, subjectAltName
 * entries for the other ID types, basicConstraints and keyUsage for path validation, the
 * subjectPublicKeyInfo for CERTREQ hashes and AUTH verification) exposed as plain values.
 *
 * Input is DER or PEM. Signature checks use WebCrypto through the library and are async.
 */
import { bytesEqual, tryParseIpAddress } from "../../wire/mod.ts";
import {
  BasicConstraintsExtension,
  id_ce_authorityKeyIdentifier,
  id_ce_basicConstraints,
  id_ce_certificatePolicies,
  id_ce_extKeyUsage,
  id_ce_issuerAltName,
  id_ce_keyUsage,
  id_ce_subjectAltName,
  id_ce_subjectKeyIdentifier,
  KeyUsageFlags,
  KeyUsagesExtension,
  PemConverter,
  SubjectAlternativeNameExtension,
  X509Certificate,
  X509Crl,
} from "./_deps.ts";
import { formatDistinguishedName } from "./dn.ts";
import { X509ParseError } from "./errors.ts";

/** keyUsage bits (RFC 5280 §4.2.1.3) as reported by {@link Certificate.keyUsage}. */
export type KeyUsage =
  | "digitalSignature"
  | "nonRepudiation"
  | "keyEncipherment"
  | "dataEncipherment"
  | "keyAgreement"
  | "keyCertSign"
  | "cRLSign"
  | "encipherOnly"
  | "decipherOnly";

const KEY_USAGE_BITS: readonly [KeyUsage, number][] = [
  ["digitalSignature", KeyUsageFlags.digitalSignature],
  ["nonRepudiation", KeyUsageFlags.nonRepudiation],
  ["keyEncipherment", KeyUsageFlags.keyEncipherment],
  ["dataEncipherment", KeyUsageFlags.dataEncipherment],
  ["keyAgreement", KeyUsageFlags.keyAgreement],
  ["keyCertSign", KeyUsageFlags.keyCertSign],
  ["cRLSign", KeyUsageFlags.cRLSign],
  ["encipherOnly", KeyUsageFlags.encipherOnly],
  ["decipherOnly", KeyUsageFlags.decipherOnly],
];

/** Extensions whose criticality path validation may ignore: it processes or can skip them. */
const UNDERSTOOD_EXTENSIONS: ReadonlySet<string> = new Set([
  id_ce_basicConstraints,
  id_ce_keyUsage,
  id_ce_extKeyUsage,
  id_ce_subjectAltName,
  id_ce_issuerAltName,
  id_ce_subjectKeyIdentifier,
  id_ce_authorityKeyIdentifier,
  id_ce_certificatePolicies,
]);

/** subjectAltName entries IKE identities are matched against (RFC 7296 §3.5, RFC 4945 §3.1). */
export interface SubjectAltNames {
  /** dNSName entries, as written in the certificate. */
  readonly dns: readonly string[];
  /** rfc822Name entries. */
  readonly email: readonly string[];
  /** iPAddress entries: 4 or 16 bytes each. */
  readonly ip: readonly Uint8Array[];
}

/** Public key algorithm of a certificate or signing key. */
export type PublicKeyType = "rsa" | "ecdsa";

/** Named curves this module signs and verifies with. */
export type EcCurve = "P-256" | "P-384" | "P-521";

/** The library's key object of each certificate, for CRL signature checks in this file. */
const PUBLIC_KEYS = new WeakMap<Certificate, X509Certificate["publicKey"]>();

function copyOf(buffer: ArrayBuffer): Uint8Array {
  return new Uint8Array(buffer.slice(0));
}

function dateOnly(date: Date): string {
  return date.toISOString().slice(0, 10);
}

/** Decodes DER or PEM input into DER blobs of the given PEM label (PEM may hold several). */
export function decodeDerOrPem(
  input: Uint8Array | string,
  label: "CERTIFICATE" | "X509 CRL",
  what: string,
): Uint8Array[] {
  let text: string | undefined = typeof input === "string" ? input : undefined;
  if (text === undefined && input instanceof Uint8Array && input[0] !== 0x30) {
    text = new TextDecoder().decode(input);
  }
  if (text === undefined) return [(input as Uint8Array).slice()];
  if (!text.includes("-----BEGIN")) {
    throw new X509ParseError(`Cannot parse ${what}: neither DER nor PEM`);
  }
  let blocks;
  try {
    blocks = PemConverter.decodeWithHeaders(text);
  } catch (cause) {
    throw new X509ParseError(`Cannot parse ${what}: malformed PEM`, { cause });
  }
  const wanted = blocks.filter((b) => b.type === label).map((b) => copyOf(b.rawData));
  if (wanted.length === 0) {
    throw new X509ParseError(`Cannot parse ${what}: no "${label}" PEM block`);
  }
  return wanted;
}

/**
 * A parsed X.509 certificate. Immutable; create with {@link Certificate.from} or
 * {@link parseCertificates}.
 *
 * @example
 * ```ts
 * const cert = Certificate.from(await Deno.readFile("gw1.crt"));
 * cert.subject; // "C=CH, O=Example, CN=gw1.example.com"
 * cert.subjectAltNames.dns; // ["gw1.example.com"]
 * ```
 */
export class Certificate {
  readonly #x509: X509Certificate;
  /** The certificate's DER encoding (what a CERT payload carries). */
  readonly der: Uint8Array;
  /** The subject's DER Name (an ID_DER_ASN1_DN identity's data). */
  readonly subjectDer: Uint8Array;
  /** The issuer's DER Name. */
  readonly issuerDer: Uint8Array;
  /** The subject as text in DER order, e.g. "C=CH, O=Example, CN=gw1". */
  readonly subject: string;
  /** The issuer as text in DER order. */
  readonly issuer: string;
  /** Serial number in lower-case hex without leading zeros, e.g. "1003". */
  readonly serialNumber: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** DER subjectPublicKeyInfo (hashed with SHA-1 for CERTREQ, RFC 7296 §3.7). */
  readonly publicKeyInfo: Uint8Array;
  readonly publicKeyType: PublicKeyType | "other";
  /** Curve of an ECDSA key. */
  readonly curve: EcCurve | undefined;
  /** basicConstraints cA (false when the extension is absent). */
  readonly isCa: boolean;
  /** basicConstraints pathLenConstraint, when present. */
  readonly pathLength: number | undefined;
  /** keyUsage bits, or undefined when the extension is absent (then every use is allowed). */
  readonly keyUsage: ReadonlySet<KeyUsage> | undefined;
  readonly subjectAltNames: SubjectAltNames;
  /** OIDs of critical extensions this module does not process (path validation refuses them). */
  readonly unhandledCriticalExtensions: readonly string[];

  private constructor(der: Uint8Array) {
    let x509: X509Certificate;
    try {
      x509 = new X509Certificate(new Uint8Array(der));
    } catch (cause) {
      throw new X509ParseError(`Cannot parse certificate: ${(cause as Error).message}`, {
        cause,
      });
    }
    this.#x509 = x509;
    PUBLIC_KEYS.set(this, x509.publicKey);
    this.der = der;
    try {
      this.subjectDer = copyOf(x509.subjectName.toArrayBuffer());
      this.issuerDer = copyOf(x509.issuerName.toArrayBuffer());
      this.subject = formatDistinguishedName(this.subjectDer);
      this.issuer = formatDistinguishedName(this.issuerDer);
      this.serialNumber = x509.serialNumber.toLowerCase().replace(/^0+(?=.)/, "");
      this.notBefore = x509.notBefore;
      this.notAfter = x509.notAfter;
      this.publicKeyInfo = copyOf(x509.publicKey.rawData);
      const algorithm = x509.publicKey.algorithm as { name: string; namedCurve?: string };
      this.publicKeyType = algorithm.name === "ECDSA"
        ? "ecdsa"
        : algorithm.name.startsWith("RSA")
        ? "rsa"
        : "other";
      const curve = algorithm.namedCurve;
      this.curve = curve === "P-256" || curve === "P-384" || curve === "P-521" ? curve : undefined;
      const basic = x509.getExtension(BasicConstraintsExtension);
      this.isCa = basic?.ca ?? false;
      this.pathLength = basic?.pathLength;
      const usage = x509.getExtension(KeyUsagesExtension);
      this.keyUsage = usage
        ? new Set(KEY_USAGE_BITS.filter(([, bit]) => (usage.usages & bit) !== 0).map(([n]) => n))
        : undefined;
      this.subjectAltNames = readSubjectAltNames(x509);
      this.unhandledCriticalExtensions = Array.from(x509.extensions)
        .filter((e) => e.critical && !UNDERSTOOD_EXTENSIONS.has(e.type))
        .map((e) => e.type);
    } catch (cause) {
      if (cause instanceof X509ParseError) throw cause;
      throw new X509ParseError(`Cannot parse certificate: ${(cause as Error).message}`, {
        cause,
      });
    }
  }

  /**
   * Parses one certificate from DER or PEM (the first CERTIFICATE block).
   *
   * @throws {X509ParseError} when the input is not a certificate.
   *
   * @example
   * ```ts
   * const peer = Certificate.from(certPayload.data); // DER from a CERT payload
   * ```
   */
  static from(input: Uint8Array | string): Certificate {
    const [der] = decodeDerOrPem(input, "CERTIFICATE", "certificate");
    return new Certificate(der!);
  }

  /** Whether `other` is byte-for-byte the same certificate. */
  equals(other: Certificate): boolean {
    return bytesEqual(this.der, other.der);
  }

  /** True when `date` lies within notBefore..notAfter (inclusive). */
  isValidAt(date: Date): boolean {
    return date >= this.notBefore && date <= this.notAfter;
  }

  /** Whether the key of `issuer` verifies this certificate's signature. */
  async isSignedBy(issuer: Certificate): Promise<boolean> {
    try {
      return await this.#x509.verify({ publicKey: issuer.#x509.publicKey, signatureOnly: true });
    } catch {
      return false; // unsupported algorithm or mismatched key type: not signed by it
    }
  }

  /** Short description for logs: subject, serial and validity, never key material. */
  toString(): string {
    return `${this.subject} (serial 0x${this.serialNumber}, ${dateOnly(this.notBefore)} to ${
      dateOnly(this.notAfter)
    })`;
  }

  [Symbol.for("Deno.customInspect")](): string {
    return `Certificate { ${this.toString()} }`;
  }
}

function readSubjectAltNames(x509: X509Certificate): SubjectAltNames {
  const dns: string[] = [];
  const email: string[] = [];
  const ip: Uint8Array[] = [];
  const extension = x509.getExtension(SubjectAlternativeNameExtension);
  for (const name of extension?.names.items ?? []) {
    if (name.type === "dns") dns.push(name.value);
    else if (name.type === "email") email.push(name.value);
    else if (name.type === "ip") {
      const bytes = tryParseIpAddress(name.value);
      if (bytes) ip.push(bytes);
    }
  }
  return { dns, email, ip };
}

/**
 * Parses every certificate in DER or PEM input (a PEM bundle may hold several).
 *
 * @throws {X509ParseError} when there is none or one is malformed.
 *
 * @example
 * ```ts
 * const cas = parseCertificates(await Deno.readTextFile("/etc/rockhopper/ca-bundle.pem"));
 * ```
 */
export function parseCertificates(input: Uint8Array | string): Certificate[] {
  return decodeDerOrPem(input, "CERTIFICATE", "certificate").map((der) => Certificate.from(der));
}

/** One entry of a CRL. */
export interface RevokedEntry {
  /** Serial number in lower-case hex without leading zeros. */
  readonly serialNumber: string;
  readonly revocationDate: Date;
}

/**
 * A parsed certificate revocation list (RFC 5280 §5).
 *
 * @example
 * ```ts
 * const crl = RevocationList.from(await Deno.readFile("ca.crl"));
 * crl.find("1003")?.revocationDate;
 * ```
 */
export class RevocationList {
  readonly #crl: X509Crl;
  readonly der: Uint8Array;
  readonly issuerDer: Uint8Array;
  /** The issuer as text in DER order. */
  readonly issuer: string;
  readonly thisUpdate: Date;
  readonly nextUpdate: Date | undefined;

  private constructor(der: Uint8Array) {
    try {
      this.#crl = new X509Crl(new Uint8Array(der));
      this.der = der;
      this.issuerDer = copyOf(this.#crl.issuerName.toArrayBuffer());
      this.issuer = formatDistinguishedName(this.issuerDer);
      this.thisUpdate = this.#crl.thisUpdate;
      this.nextUpdate = this.#crl.nextUpdate;
    } catch (cause) {
      if (cause instanceof X509ParseError) throw cause;
      throw new X509ParseError(`Cannot parse CRL: ${(cause as Error).message}`, { cause });
    }
  }

  /**
   * Parses one CRL from DER or PEM ("X509 CRL" block).
   *
   * @throws {X509ParseError} when the input is not a CRL.
   *
   * @example
   * ```ts
   * const crl = RevocationList.from(await Deno.readTextFile("ca.crl.pem"));
   * ```
   */
  static from(input: Uint8Array | string): RevocationList {
    const [der] = decodeDerOrPem(input, "X509 CRL", "CRL");
    return new RevocationList(der!);
  }

  /** The entry for a serial number (lower-case hex, as {@link Certificate.serialNumber}). */
  find(serialNumber: string): RevokedEntry | undefined {
    const wanted = serialNumber.toLowerCase().replace(/^0+(?=.)/, "");
    for (const entry of this.#crl.entries) {
      const serial = entry.serialNumber.toLowerCase().replace(/^0+(?=.)/, "");
      if (serial === wanted) return { serialNumber: serial, revocationDate: entry.revocationDate };
    }
    return undefined;
  }

  /** Whether the key of `issuer` verifies this CRL's signature. */
  async isSignedBy(issuer: Certificate): Promise<boolean> {
    try {
      const publicKey = PUBLIC_KEYS.get(issuer);
      return publicKey !== undefined && await this.#crl.verify({ publicKey });
    } catch {
      return false;
    }
  }

  toString(): string {
    return `CRL of ${this.issuer} (${dateOnly(this.thisUpdate)})`;
  }

  [Symbol.for("Deno.customInspect")](): string {
    return `RevocationList { ${this.toString()} }`;
  }
}

/** Hex of a serial number as printed in messages: "0x1003". */
export function formatSerial(serialNumber: string): string {
  return `0x${serialNumber}`;
}

/** A date as printed in messages: "2026-01-01" (UTC). */
export function formatDate(date: Date): string {
  return dateOnly(date);
}
