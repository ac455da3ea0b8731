/**
 * A tiny DER writer for tests, independent of lib/realm's reader: TLVs with short or long
 * lengths, OBJECT IDENTIFIERs from dotted text, and X.501 Names from attribute lists.
 */
import { concatBytes } from "../../lib/wire/mod.ts";

export const Tag = {
  Oid: 0x06,
  Utf8: 0x0c,
  Printable: 0x13,
  T61: 0x14,
  Ia5: 0x16,
  Bmp: 0x1e,
  OctetString: 0x04,
  Sequence: 0x30,
  Set: 0x31,
} as const;

/** One TLV with a minimal DER length. */
export function tlv(tag: number, ...content: Uint8Array[]): Uint8Array {
  const body = concatBytes(...content);
  const n = body.length;
  let length: number[];
  if (n < 0x80) length = [n];
  else if (n < 0x100) length = [0x81, n];
  else if (n < 0x10000) length = [0x82, n >> 8, n & 0xff];
  else length = [0x83, n >> 16, (n >> 8) & 0xff, n & 0xff];
  return concatBytes(new Uint8Array([tag, ...length]), body);
}

/** The DER content of an OBJECT IDENTIFIER (without tag and length). */
export function oidContent(dotted: string): Uint8Array {
  const arcs = dotted.split(".").map(Number);
  const values = [arcs[0]! * 40 + arcs[1]!, ...arcs.slice(2)];
  const out: number[] = [];
  for (const value of values) {
    const groups: number[] = [];
    let v = value;
    do {
      groups.unshift(v % 128);
      v = Math.floor(v / 128);
    } while (v > 0);
    groups.forEach((g, i) => out.push(i < groups.length - 1 ? g | 0x80 : g));
  }
  return new Uint8Array(out);
}

export function oid(dotted: string): Uint8Array {
  return tlv(Tag.Oid, oidContent(dotted));
}

/** A string value: UTF-8 for Utf8, UTF-16BE for Bmp, one byte per code unit otherwise. */
export function str(tag: number, text: string): Uint8Array {
  if (tag === Tag.Utf8) return tlv(tag, new TextEncoder().encode(text));
  if (tag === Tag.Bmp) {
    const out = new Uint8Array(text.length * 2);
    for (let i = 0; i < text.length; i++) {
      out[2 * i] = text.charCodeAt(i) >> 8;
      out[2 * i + 1] = text.charCodeAt(i) & 0xff;
    }
    return tlv(tag, out);
  }
  return tlv(tag, new Uint8Array([...text].map((c) => c.charCodeAt(0))));
}

/** An AttributeTypeAndValue with an already encoded value. */
export function ava(dotted: string, value: Uint8Array): Uint8Array {
  return tlv(Tag.Sequence, oid(dotted), value);
}

/** A Name from RDNs, each a list of AttributeTypeAndValue encodings. */
export function dnName(...rdns: Uint8Array[][]): Uint8Array {
  return tlv(Tag.Sequence, ...rdns.map((rdn) => tlv(Tag.Set, ...rdn)));
}

/** The elements inside a constructed element's content (test-side walker, no checks). */
export function children(der: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  let at = headerLength(der, 0);
  while (at < der.length) {
    const size = headerLength(der, at) + contentLength(der, at);
    out.push(der.subarray(at, at + size));
    at += size;
  }
  return out;
}

function headerLength(der: Uint8Array, at: number): number {
  const first = der[at + 1]!;
  return first < 0x80 ? 2 : 2 + (first & 0x7f);
}

function contentLength(der: Uint8Array, at: number): number {
  const first = der[at + 1]!;
  if (first < 0x80) return first;
  let n = 0;
  for (let i = 0; i < (first & 0x7f); i++) n = n * 256 + der[at + 2 + i]!;
  return n;
}
