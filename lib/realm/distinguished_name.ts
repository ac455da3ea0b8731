/**
 * X.501 distinguished names (the subject of a certificate, the data of an ID_DER_ASN1_DN
 * identity) as a small structure, read from DER or from text, printed for logs, and compared
 * the way realm rules need.
 *
 * ```
 * Name ::= SEQUENCE OF RelativeDistinguishedName          -- RFC 5280 §4.1.2.4
 * RelativeDistinguishedName ::= SET SIZE (1..MAX) OF AttributeTypeAndValue
 * AttributeTypeAndValue ::= SEQUENCE { type OBJECT IDENTIFIER, value ANY }
 * ```
 *
 * Values in PrintableString, UTF8String, IA5String, T61String (read as Latin-1, as deployed
 * software does) and BMPString become text; any other value is kept as `#` + the hex of its
 * whole DER element (RFC 4514 §2.4), and an attribute type without a short name is printed as
 * its dotted OID. Text forms: `C=US, O=Example, OU=Sales+CN=Alice` (RDNs separated by `,` or
 * `;`, attributes of a multi-valued RDN by `+`, `\` escapes a character or gives a byte as two
 * hex digits) or OpenSSL's `/C=US/O=Example/OU=Sales+CN=Alice`.
 *
 * Comparison ignores case, surrounding spaces and repeated inner spaces in values and the
 * spelling of attribute names (`E`, `emailAddress`, `1.2.840.113549.1.9.1` are one type).
 */
import { toHex } from "../wire/mod.ts";
import { decodeObjectIdentifier, DerCursor, DerTag } from "./_der.ts";

/** One AttributeTypeAndValue. */
export interface DnAttribute {
  /** Dotted OID of the attribute type, e.g. "2.5.4.11". */
  oid: string;
  /** Short name ("OU", "CN", "E", "DC") or the dotted OID when there is none. */
  name: string;
  /** The value as text, or `#` + lower-case hex of the DER element when {@link hex} is true. */
  value: string;
  /** The value is a string type this module does not decode (printed `#hex`). */
  hex: boolean;
}

/** A distinguished name: RDNs in encoding order, each a non-empty set of attributes. */
export interface DistinguishedName {
  rdns: DnAttribute[][];
}

interface AttributeType {
  oid: string;
  name: string;
  aliases: readonly string[];
}

/** Attribute types with a short name (RFC 4514 §3, RFC 4519, PKCS #9 emailAddress). */
const ATTRIBUTE_TYPES: readonly AttributeType[] = [
  { oid: "2.5.4.3", name: "CN", aliases: ["commonName"] },
  { oid: "2.5.4.4", name: "SN", aliases: ["surname"] },
  { oid: "2.5.4.5", name: "serialNumber", aliases: [] },
  { oid: "2.5.4.6", name: "C", aliases: ["countryName"] },
  { oid: "2.5.4.7", name: "L", aliases: ["localityName"] },
  { oid: "2.5.4.8", name: "ST", aliases: ["S", "stateOrProvinceName"] },
  { oid: "2.5.4.9", name: "street", aliases: ["streetAddress"] },
  { oid: "2.5.4.10", name: "O", aliases: ["organizationName"] },
  { oid: "2.5.4.11", name: "OU", aliases: ["organizationalUnitName"] },
  { oid: "2.5.4.12", name: "title", aliases: [] },
  { oid: "2.5.4.42", name: "GN", aliases: ["givenName"] },
  { oid: "2.5.4.43", name: "initials", aliases: [] },
  { oid: "2.5.4.46", name: "dnQualifier", aliases: [] },
  { oid: "2.5.4.65", name: "pseudonym", aliases: [] },
  { oid: "0.9.2342.19200300.100.1.1", name: "UID", aliases: ["userId"] },
  { oid: "0.9.2342.19200300.100.1.25", name: "DC", aliases: ["domainComponent"] },
  { oid: "1.2.840.113549.1.9.1", name: "E", aliases: ["emailAddress", "email"] },
];

const TYPE_BY_OID = new Map(ATTRIBUTE_TYPES.map((t) => [t.oid, t]));
const TYPE_BY_NAME = new Map(
  ATTRIBUTE_TYPES.flatMap((t) => [t.name, ...t.aliases].map((n) => [n.toLowerCase(), t])),
);
const DOTTED_OID = /^[0-2](?:\.(?:0|[1-9][0-9]{0,15}))+$/;

/**
 * The short name of an attribute type ("2.5.4.11" → "OU"), or the OID itself.
 *
 * @example
 * ```ts
 * attributeNameOf("1.2.840.113549.1.9.1"); // "E"
 * attributeNameOf("2.5.4.97"); // "2.5.4.97"
 * ```
 */
export function attributeNameOf(oid: string): string {
  return TYPE_BY_OID.get(oid)?.name ?? oid;
}

/**
 * The dotted OID of an attribute name ("ou", "emailAddress", "OID.2.5.4.3", "2.5.4.3"), or
 * `undefined` for an unknown name.
 *
 * @example
 * ```ts
 * attributeOidOf("emailAddress"); // "1.2.840.113549.1.9.1"
 * ```
 */
export function attributeOidOf(name: string): string | undefined {
  const known = TYPE_BY_NAME.get(name.toLowerCase());
  if (known) return known.oid;
  const dotted = name.replace(/^oid\./i, "");
  return DOTTED_OID.test(dotted) ? dotted : undefined;
}

// --- DER ---------------------------------------------------------------------------------

/** ISO 8859-1: one code point per byte (TextDecoder's "latin1" is windows-1252). */
function latin1(bytes: Uint8Array): string {
  let text = "";
  for (const b of bytes) text += String.fromCharCode(b);
  return text;
}

function decodeStringValue(
  cursor: DerCursor,
  tag: number,
  start: number,
  end: number,
): string | undefined {
  const content = cursor.bytes.subarray(start, end);
  switch (tag) {
    case DerTag.PrintableString:
    case DerTag.Ia5String: {
      const bad = content.findIndex((b) => b >= 0x80);
      if (bad >= 0) cursor.fail("a PrintableString or IA5String has a non-ASCII byte", start + bad);
      return latin1(content);
    }
    case DerTag.Utf8String:
      try {
        return new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(content);
      } catch {
        return cursor.fail("a UTF8String is not valid UTF-8", start);
      }
    case DerTag.T61String:
      return latin1(content);
    case DerTag.BmpString: {
      if (content.length % 2 !== 0) cursor.fail("a BMPString has an odd length", start);
      let text = "";
      for (let i = 0; i < content.length; i += 2) {
        text += String.fromCharCode((content[i]! << 8) | content[i + 1]!);
      }
      return text;
    }
  }
  return undefined;
}

/**
 * Decodes a DER `Name` (the data of an ID_DER_ASN1_DN identity, or a certificate's subject).
 * The whole input must be exactly one Name.
 *
 * @throws {DerDecodeError} for anything that is not a well-formed DER Name, with the offset.
 *
 * @example
 * ```ts
 * const dn = decodeDistinguishedName(fromHex("3020310e300c060355040b0c0553616c6573310e300c060355040a0c054578616d70"));
 * formatDistinguishedName(dn); // "OU=Sales, O=Examp"
 * ```
 */
export function decodeDistinguishedName(der: Uint8Array): DistinguishedName {
  const top = new DerCursor(der, "X.501 Name");
  const name = top.next(DerTag.Sequence, "a SEQUENCE (Name)");
  top.finish();
  const rdnCursor = top.enter(name);
  const rdns: DnAttribute[][] = [];
  while (!rdnCursor.done) {
    const set = rdnCursor.next(DerTag.Set, "a SET (RelativeDistinguishedName)");
    const attributeCursor = rdnCursor.enter(set);
    if (attributeCursor.done) attributeCursor.fail("an empty RelativeDistinguishedName", set.start);
    const rdn: DnAttribute[] = [];
    while (!attributeCursor.done) {
      const pair = attributeCursor.next(DerTag.Sequence, "a SEQUENCE (AttributeTypeAndValue)");
      const inner = attributeCursor.enter(pair);
      const oid = decodeObjectIdentifier(
        inner,
        inner.next(DerTag.ObjectIdentifier, "an OBJECT IDENTIFIER (attribute type)"),
      );
      const value = inner.next(undefined, "an attribute value");
      inner.finish("extra bytes in AttributeTypeAndValue");
      const text = decodeStringValue(inner, value.tag, value.contentStart, value.end);
      rdn.push({
        oid,
        name: attributeNameOf(oid),
        value: text ?? `#${toHex(der.subarray(value.start, value.end))}`,
        hex: text === undefined,
      });
    }
    rdns.push(rdn);
  }
  return { rdns };
}

// --- text --------------------------------------------------------------------------------

/**
 * The text of a distinguished name could not be parsed. `reason` is the problem alone
 * ("has an empty value"), for callers that report it in their own words.
 *
 * @example
 * ```ts
 * try {
 *   parseDistinguishedName("OU=");
 * } catch (e) {
 *   if (e instanceof DnSyntaxError) e.reason; // "has an empty value"
 * }
 * ```
 */
export class DnSyntaxError extends SyntaxError {
  /** What is wrong, as a predicate of the text: `has an empty value in "OU="`. */
  readonly reason: string;
  constructor(text: string, reason: string) {
    super(`Cannot parse distinguished name: "${text.slice(0, 120)}" ${reason}`);
    this.name = "DnSyntaxError";
    this.reason = reason;
  }
}

interface ValueUnit {
  /** A literal character, or one byte from a `\XX` escape. */
  char?: string;
  byte?: number;
  escaped: boolean;
}

const HEX_DIGITS = /^[0-9a-fA-F]{2}$/;
const KNOWN_NAMES = ATTRIBUTE_TYPES.map((t) => t.name).join(", ");

/**
 * Parses the text form of a distinguished name (see the module comment). RDNs keep the order
 * written; a `#hex` value is read as DER and becomes text when it is a string type decoded
 * here.
 *
 * @throws {DnSyntaxError} naming the problem.
 *
 * @example
 * ```ts
 * parseDistinguishedName("OU=Sales, O=Example").rdns.length; // 2
 * parseDistinguishedName("/C=US/O=Example/CN=gw+UID=7").rdns[2]!.length; // 2
 * ```
 */
export function parseDistinguishedName(text: string): DistinguishedName {
  const fail: (reason: string) => never = (reason) => {
    throw new DnSyntaxError(text, reason);
  };
  const trimmed = text.trim();
  if (trimmed === "") fail("is empty");
  const slashForm = trimmed.startsWith("/");
  const rdnSeparators = slashForm ? "/" : ",;";
  const body = slashForm ? trimmed.slice(1) : trimmed;

  const rdns: DnAttribute[][] = [];
  let rdn: DnAttribute[] = [];
  let nameText = "";
  let units: ValueUnit[] | undefined; // undefined while reading the name
  let attributeStart = 0;
  // Which attribute a problem is in, unless it is the whole text.
  const where = (end: number) => {
    const attributeText = body.slice(attributeStart, end).trim();
    return attributeText === trimmed ? "" : ` in "${attributeText}"`;
  };

  const endAttribute = (end: number) => {
    const name = nameText.trim();
    if (units === undefined) {
      if (name === "") fail("has an empty RDN (two separators in a row, or one at an end)");
      fail(`has "${name}" without "="`);
    }
    if (name === "") fail(`has an attribute without a name${where(end)}`);
    const oid = attributeOidOf(name);
    if (oid === undefined) {
      fail(`has an unknown attribute "${name}" (use ${KNOWN_NAMES} or a dotted OID)`);
    }
    rdn.push(attributeFromUnits(oid, units, (why) => fail(`${why}${where(end)}`)));
    nameText = "";
    units = undefined;
  };

  for (let i = 0; i <= body.length; i++) {
    const c = body[i];
    if (c === undefined || rdnSeparators.includes(c) || c === "+") {
      endAttribute(i);
      attributeStart = i + 1;
      if (c !== "+") {
        rdns.push(rdn);
        rdn = [];
      }
      continue;
    }
    if (units === undefined) {
      if (c === "=") units = [];
      else if (c === "\\") fail(`has an escape in an attribute name`);
      else nameText += c;
      continue;
    }
    if (c !== "\\") {
      units.push({ char: c, escaped: false });
      continue;
    }
    const pair = body.slice(i + 1, i + 3);
    if (HEX_DIGITS.test(pair)) {
      units.push({ byte: parseInt(pair, 16), escaped: true });
      i += 2;
    } else if (i + 1 < body.length) {
      units.push({ char: body[i + 1]!, escaped: true });
      i += 1;
    } else {
      fail("ends with an unfinished escape");
    }
  }
  return { rdns };
}

function attributeFromUnits(
  oid: string,
  units: ValueUnit[],
  fail: (why: string) => never,
): DnAttribute {
  let first = 0;
  let last = units.length;
  while (first < last && units[first]!.char === " " && !units[first]!.escaped) first++;
  while (last > first && units[last - 1]!.char === " " && !units[last - 1]!.escaped) last--;
  const kept = units.slice(first, last);
  if (kept.length === 0) fail("has an empty value");
  const name = attributeNameOf(oid);
  const head = kept[0]!;
  if (head.char === "#" && !head.escaped) {
    const hexText = kept.slice(1).map((u) => u.char ?? "").join("");
    if (!/^(?:[0-9a-fA-F]{2})+$/.test(hexText) || kept.some((u) => u.escaped)) {
      fail(`has a value "#${hexText.slice(0, 40)}" that is not hex (write "\\#" for a literal #)`);
    }
    return hexAttribute(oid, name, hexText.toLowerCase(), fail);
  }
  const bytes: number[] = [];
  const encoder = new TextEncoder();
  for (const unit of kept) {
    if (unit.byte !== undefined) bytes.push(unit.byte);
    else bytes.push(...encoder.encode(unit.char));
  }
  let value: string;
  try {
    value = new TextDecoder("utf-8", { fatal: true }).decode(new Uint8Array(bytes));
  } catch {
    return fail("has hex escapes that are not UTF-8");
  }
  return { oid, name, value, hex: false };
}

/** A `#hex` value: decoded when it is one DER string element of a type we read. */
function hexAttribute(
  oid: string,
  name: string,
  hexText: string,
  fail: (why: string) => never,
): DnAttribute {
  const bytes = new Uint8Array(hexText.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(hexText.slice(2 * i, 2 * i + 2), 16);
  try {
    const cursor = new DerCursor(bytes, "attribute value");
    const element = cursor.next();
    cursor.finish();
    const text = decodeStringValue(cursor, element.tag, element.contentStart, element.end);
    if (text !== undefined) return { oid, name, value: text, hex: false };
  } catch {
    fail(`has a value "#${hexText.slice(0, 40)}" that is not one well-formed DER element`);
  }
  return { oid, name, value: `#${hexText}`, hex: true };
}

const SPECIAL = new Set([",", "+", '"', "\\", "<", ">", ";", "="]);

function escapeValue(attribute: DnAttribute): string {
  if (attribute.hex) return attribute.value;
  const chars = [...attribute.value];
  return chars.map((c, i) => {
    const code = c.codePointAt(0)!;
    if (code < 0x20 || code === 0x7f) return `\\${code.toString(16).padStart(2, "0")}`;
    if (SPECIAL.has(c)) return `\\${c}`;
    if (i === 0 && (c === "#" || c === " ")) return `\\${c}`;
    if (i === chars.length - 1 && c === " ") return `\\${c}`;
    return c;
  }).join("");
}

/**
 * Prints a distinguished name in encoding order, `C=US, O=Example, OU=Sales+CN=Alice`, with
 * RFC 4514 escapes and control characters as `\XX`, so the text is safe for a log line and
 * {@link parseDistinguishedName} reads it back.
 *
 * @example
 * ```ts
 * formatDistinguishedName(parseDistinguishedName("/O=Example, Inc./CN=gw")); // "O=Example\\, Inc., CN=gw"
 * ```
 */
export function formatDistinguishedName(dn: DistinguishedName): string {
  return dn.rdns.map((rdn) => rdn.map((a) => `${a.name}=${escapeValue(a)}`).join("+")).join(
    ", ",
  );
}

// --- comparison --------------------------------------------------------------------------

/** The comparison key of an attribute: OID plus the value folded for case and spaces. */
function attributeKey(attribute: DnAttribute): string {
  const value = attribute.hex
    ? `\u0000${attribute.value.toLowerCase()}`
    : attribute.value.normalize("NFKC").toLowerCase().trim().replace(/\s+/g, " ");
  return `${attribute.oid}=${value}`;
}

/**
 * True when every attribute of `pattern` appears in `dn` (each matched by a different
 * attribute of `dn`), whatever the order and RDN grouping: `OU=Sales, O=Example` is contained
 * in `C=US, O=Example, OU=Sales, CN=gw`.
 *
 * @example
 * ```ts
 * dnContains(parseDistinguishedName("C=US, O=example, OU=Sales, CN=gw"), parseDistinguishedName("ou=sales, o=EXAMPLE")); // true
 * ```
 */
export function dnContains(dn: DistinguishedName, pattern: DistinguishedName): boolean {
  const available = new Map<string, number>();
  for (const attribute of dn.rdns.flat()) {
    const key = attributeKey(attribute);
    available.set(key, (available.get(key) ?? 0) + 1);
  }
  for (const attribute of pattern.rdns.flat()) {
    const key = attributeKey(attribute);
    const left = available.get(key) ?? 0;
    if (left === 0) return false;
    available.set(key, left - 1);
  }
  return true;
}

/**
 * True when both names have the same RDNs in the same order, each RDN with the same
 * attributes in any order, values compared as in {@link dnContains}.
 *
 * @example
 * ```ts
 * dnEquals(parseDistinguishedName("O=Example, CN=gw"), parseDistinguishedName("/o=EXAMPLE/cn=gw")); // true
 * ```
 */
export function dnEquals(a: DistinguishedName, b: DistinguishedName): boolean {
  if (a.rdns.length !== b.rdns.length) return false;
  return a.rdns.every((rdn, i) => {
    const other = b.rdns[i]!;
    if (rdn.length !== other.length) return false;
    const keys = rdn.map(attributeKey).sort();
    const otherKeys = other.map(attributeKey).sort();
    return keys.every((k, j) => k === otherKeys[j]);
  });
}

/**
 * The number of attributes in a name (the specificity of a `dn` realm rule).
 *
 * @example
 * ```ts
 * attributeCount(parseDistinguishedName("O=Example, OU=Sales+CN=gw")); // 3
 * ```
 */
export function attributeCount(dn: DistinguishedName): number {
  return dn.rdns.reduce((n, rdn) => n + rdn.length, 0);
}
