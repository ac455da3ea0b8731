/**
 * Distinguished names (RFC 5280 §4.1.2.4) as IKE uses them: the DER Name is the data of an
 * ID_DER_ASN1_DN identity (RFC 7296 §3.5); the text form, in DER order like strongSwan and
 * `openssl x509 -subject` print it, is "C=CH, O=Example, CN=gw1.example.com".
 */
import { type JsonName, Name } from "./_deps.ts";
import { X509ParseError } from "./errors.ts";

function parseName(der: Uint8Array): Name {
  if (der[0] !== 0x30) throw new X509ParseError("Cannot parse distinguished name: not a DER Name");
  try {
    return new Name(new Uint8Array(der));
  } catch (cause) {
    throw new X509ParseError(`Cannot parse distinguished name: ${(cause as Error).message}`, {
      cause,
    });
  }
}

/**
 * Prints a DER Name as text in DER order, RDNs separated by ", ".
 *
 * @throws {X509ParseError} when `der` is not a DER Name.
 *
 * @example
 * ```ts
 * formatDistinguishedName(cert.subjectDer); // "C=CH, O=Example, CN=gw1"
 * ```
 */
export function formatDistinguishedName(der: Uint8Array): string {
  return parseName(der).toString();
}

/**
 * Encodes text such as "C=CH, O=Example, CN=gw1" as a DER Name, keeping the written order
 * (the inverse of {@link formatDistinguishedName}). Printable values become PrintableString,
 * others UTF8String; compare with {@link distinguishedNamesEqual}, which ignores that choice.
 *
 * @throws {X509ParseError} on text that is not a distinguished name.
 *
 * @example
 * ```ts
 * const id = { idType: IdType.DerAsn1Dn, data: distinguishedNameFromText("C=CH, CN=gw1") };
 * ```
 */
export function distinguishedNameFromText(text: string): Uint8Array {
  if (!/^\s*[A-Za-z0-9.]+\s*=/.test(text)) {
    throw new X509ParseError(
      `Cannot parse distinguished name "${text.slice(0, 80)}": expected "TYPE=value, ..."`,
    );
  }
  // Attribute type names are case-insensitive (RFC 4514 §3); the library knows upper case.
  const upper = text.replace(
    /(^|[,+])(\s*)([A-Za-z][A-Za-z0-9-]*)(\s*=)/g,
    (_, sep: string, space: string, type: string, eq: string) =>
      `${sep}${space}${type.toUpperCase()}${eq}`,
  );
  try {
    return new Uint8Array(new Name(upper).toArrayBuffer());
  } catch (cause) {
    throw new X509ParseError(
      `Cannot parse distinguished name "${text.slice(0, 80)}": ${(cause as Error).message}`,
      { cause },
    );
  }
}

/** Case-folded, trimmed, inner whitespace collapsed (RFC 5280 §7.1, RFC 4518 in spirit). */
function normalize(value: string): string {
  return value.normalize("NFKC").trim().replace(/\s+/g, " ").toLowerCase();
}

function canonicalRdns(name: JsonName): string[] {
  return name.map((rdn) =>
    Object.entries(rdn)
      .flatMap(([type, values]) => values.map((v) => `${type}=${normalize(v)}`))
      .sort()
      .join("+")
  );
}

/**
 * Whether two DER Names name the same entity: equal DER, or the same RDNs in the same order
 * with values equal after case folding and whitespace normalisation (so a PrintableString and a
 * UTF8String of the same text match). Malformed input is simply unequal.
 *
 * @example
 * ```ts
 * distinguishedNamesEqual(cert.subjectDer, distinguishedNameFromText("c=ch, cn=GW1")); // true
 * ```
 */
export function distinguishedNamesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length === b.length && a.every((byte, i) => byte === b[i])) return true;
  let left: string[];
  let right: string[];
  try {
    left = canonicalRdns(parseName(a).toJSON());
    right = canonicalRdns(parseName(b).toJSON());
  } catch {
    return false;
  }
  return left.length === right.length && left.every((rdn, i) => rdn === right[i]);
}
