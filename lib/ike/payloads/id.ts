/**
 * The Identification payloads IDi and IDr (RFC 7296 §3.5), plus the text form of an
 * identity used in config files and logs. Body layout:
 *
 * ```
 *                      1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |   ID Type     |                 RESERVED                      |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ~                   Identification Data                         ~
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ```
 *
 * Text forms ({@link parseIdentity} / {@link formatIdentity}):
 *
 * | text                         | ID type      | data                    |
 * |------------------------------|--------------|-------------------------|
 * | `fqdn:gw.example.com`        | ID_FQDN      | ASCII                   |
 * | `email:user@example.com`     | ID_RFC822    | ASCII (`rfc822:` too)   |
 * | `ipv4:198.51.100.1`          | ID_IPV4_ADDR | 4 bytes                 |
 * | `ipv6:2001:db8::1`           | ID_IPV6_ADDR | 16 bytes                |
 * | `keyid:0a0b0c`               | ID_KEY_ID    | the hex bytes           |
 * | `asn1dn:3031…`               | ID_DER_ASN1_DN | the hex bytes (DER)   |
 * | `asn1gn:…`                   | ID_DER_ASN1_GN | the hex bytes (DER)   |
 * | `id200:0a0b`                 | type 200     | the hex bytes (any type)|
 *
 * Without a prefix, a bare IPv4/IPv6 address is an address ID, text with `@` an e-mail
 * address, anything else an FQDN (but digits and dots only, such as a mistyped address, are
 * an error). FQDN and e-mail text is printable ASCII without spaces;
 * {@link formatIdentity} prints other bytes in the `id<N>:` hex form so logs stay safe.
 */
import {
  type ByteReader,
  type ByteWriter,
  DecodeError,
  formatIpAddress,
  fromHex,
  toHex,
  tryParseIpAddress,
} from "../../wire/mod.ts";
import { IdType, PayloadType } from "../constants.ts";
import { checkField, MAX_PAYLOAD_BODY_LENGTH } from "./_common.ts";
import type { IdPayload } from "./types.ts";

/**
 * Reads an IDi or IDr payload body; `data` is a copy. IPv4/IPv6 IDs must be 4/16 bytes.
 *
 * @example
 * ```ts
 * const id = decodeId(bodyReader, PayloadType.IdInitiator);
 * formatIdentity(id.idType, id.data); // "fqdn:gw.example.com"
 * ```
 */
export function decodeId(reader: ByteReader, type: IdPayload["type"]): IdPayload {
  const what = type === PayloadType.IdInitiator ? "IDi payload" : "IDr payload";
  const idType = reader.u8(`${what} ID type`);
  reader.skip(3, `${what} reserved field`);
  const dataAt = reader.offset;
  const data = reader.rest();
  const expected = idType === IdType.Ipv4Addr ? 4 : idType === IdType.Ipv6Addr ? 16 : undefined;
  if (expected !== undefined && data.length !== expected) {
    throw new DecodeError(
      `Cannot decode ${what}: IP address ID of ${data.length} bytes, expected ${expected}`,
      dataAt,
    );
  }
  return { type, idType, data };
}

/**
 * Writes an IDi or IDr payload body.
 *
 * @example
 * ```ts
 * encodeId({ type: PayloadType.IdInitiator, ...parseIdentity("fqdn:gw.example.com") }, w);
 * ```
 */
export function encodeId(value: IdPayload, writer: ByteWriter): void {
  checkField(value.idType, 0xff, "ID payload ID type");
  checkField(idLength(value), MAX_PAYLOAD_BODY_LENGTH, "ID payload length");
  writer.u8(value.idType).zeros(3).bytes(value.data);
}

/**
 * Length of an ID payload body in bytes.
 *
 * @example
 * ```ts
 * idLength({ type: PayloadType.IdInitiator, idType: IdType.Ipv4Addr, data: addr }); // 8
 * ```
 */
export function idLength(value: IdPayload): number {
  return 4 + value.data.length;
}

const PRINTABLE = /^[\x21-\x7e]+$/;
const RAW_TYPE = /^id([0-9]{1,3})$/;
const HEX_PREFIXES: Record<string, number> = {
  keyid: IdType.KeyId,
  asn1dn: IdType.DerAsn1Dn,
  asn1gn: IdType.DerAsn1Gn,
};

function isFqdnText(text: string): boolean {
  return PRINTABLE.test(text) && !text.includes("@");
}

function isEmailText(text: string): boolean {
  const at = text.indexOf("@");
  return PRINTABLE.test(text) && at > 0 && at < text.length - 1;
}

/**
 * The text form of an identity could not be parsed. `reason` is the problem alone (lower
 * case, without the "Cannot parse identity" lead), for callers that report it in their own
 * words, such as the configuration loader.
 *
 * @example
 * ```ts
 * try {
 *   parseIdentity("ipv4:2001:db8::1");
 * } catch (e) {
 *   if (e instanceof IdentitySyntaxError) e.reason; // '"2001:db8::1" is not an IPv4 address'
 * }
 * ```
 */
export class IdentitySyntaxError extends SyntaxError {
  /** What is wrong with the text, e.g. `"xyz" is not hex (write an even number of hex digits)`. */
  readonly reason: string;
  constructor(text: string, reason: string) {
    super(`Cannot parse identity "${text.slice(0, 80)}": ${reason}`);
    this.name = "IdentitySyntaxError";
    this.reason = reason;
  }
}

/**
 * Parses the text form of an identity (see the module comment) into an ID type and data.
 *
 * @throws {IdentitySyntaxError} naming the problem, e.g. an unknown prefix or a bad address.
 *
 * @example
 * ```ts
 * parseIdentity("email:user@example.com"); // { idType: 3, data: <ASCII bytes> }
 * parseIdentity("198.51.100.1"); // { idType: 1, data: Uint8Array [198, 51, 100, 1] }
 * ```
 */
export function parseIdentity(text: string): { idType: number; data: Uint8Array } {
  const fail: (why: string) => never = (why) => {
    throw new IdentitySyntaxError(text, why);
  };
  if (text.length === 0) fail("it is empty");
  const bare = tryParseIpAddress(text);
  if (bare !== undefined) {
    return { idType: bare.length === 4 ? IdType.Ipv4Addr : IdType.Ipv6Addr, data: bare };
  }
  const colon = text.indexOf(":");
  if (colon < 0 && /^[0-9.]+$/.test(text)) fail("it looks like an IPv4 address but is not one");
  const prefix = colon < 0
    ? (text.includes("@") ? "email" : "fqdn")
    : text.slice(0, colon).toLowerCase();
  const value = colon < 0 ? text : text.slice(colon + 1);
  switch (prefix) {
    case "fqdn":
      if (!isFqdnText(value)) fail("an FQDN must be printable ASCII without spaces or '@'");
      return { idType: IdType.Fqdn, data: new TextEncoder().encode(value) };
    case "email":
    case "rfc822":
      if (!isEmailText(value)) {
        fail("an e-mail address must be printable ASCII with text on both sides of '@'");
      }
      return { idType: IdType.Rfc822Addr, data: new TextEncoder().encode(value) };
    case "ipv4":
    case "ipv6": {
      const address = tryParseIpAddress(value);
      const size = prefix === "ipv4" ? 4 : 16;
      if (address === undefined || address.length !== size) {
        fail(`"${value}" is not an ${prefix === "ipv4" ? "IPv4" : "IPv6"} address`);
      }
      return { idType: size === 4 ? IdType.Ipv4Addr : IdType.Ipv6Addr, data: address };
    }
  }
  const raw = RAW_TYPE.exec(prefix);
  const idType = HEX_PREFIXES[prefix] ?? (raw ? Number(raw[1]) : undefined);
  if (idType === undefined) {
    fail(`unknown prefix "${prefix}" (use fqdn, email, ipv4, ipv6, keyid, asn1dn or asn1gn)`);
  }
  if (idType > 255) fail(`ID type ${idType} is outside 0..255`);
  let data: Uint8Array;
  try {
    data = fromHex(value);
  } catch {
    fail(`"${value.slice(0, 32)}" is not hex (write an even number of hex digits)`);
  }
  if (data.length === 0 && raw === null) fail("the hex data is empty");
  return { idType, data };
}

function asciiText(data: Uint8Array): string {
  let text = "";
  for (const b of data) text += String.fromCharCode(b);
  return text;
}

/**
 * Prints an ID type and data in the text form {@link parseIdentity} reads back. Never throws:
 * data without a text form (non-ASCII, wrong address length, unknown type) is printed as
 * `id<N>:<hex>`.
 *
 * @example
 * ```ts
 * formatIdentity(IdType.Fqdn, new TextEncoder().encode("gw.example.com")); // "fqdn:gw.example.com"
 * ```
 */
export function formatIdentity(idType: number, data: Uint8Array): string {
  switch (idType) {
    case IdType.Fqdn: {
      const text = asciiText(data);
      if (isFqdnText(text)) return `fqdn:${text}`;
      break;
    }
    case IdType.Rfc822Addr: {
      const text = asciiText(data);
      if (isEmailText(text)) return `email:${text}`;
      break;
    }
    case IdType.Ipv4Addr:
      if (data.length === 4) return `ipv4:${formatIpAddress(data)}`;
      break;
    case IdType.Ipv6Addr:
      if (data.length === 16) return `ipv6:${formatIpAddress(data)}`;
      break;
    case IdType.KeyId:
      if (data.length > 0) return `keyid:${toHex(data)}`;
      break;
    case IdType.DerAsn1Dn:
      if (data.length > 0) return `asn1dn:${toHex(data)}`;
      break;
    case IdType.DerAsn1Gn:
      if (data.length > 0) return `asn1gn:${toHex(data)}`;
      break;
  }
  return `id${idType}:${toHex(data)}`;
}
