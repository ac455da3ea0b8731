/**
 * A minimal, strict DER reader: just enough of X.690 to walk an X.501 Name. Only definite,
 * minimally encoded lengths and single-byte tags are accepted; every element must fit inside
 * its parent, and a parent must be consumed exactly. Nothing here trusts a length field.
 */
import { DecodeError } from "../wire/mod.ts";

/** Universal tags used by Name (X.680 §8.4). */
export const DerTag = {
  ObjectIdentifier: 0x06,
  Utf8String: 0x0c,
  PrintableString: 0x13,
  T61String: 0x14,
  Ia5String: 0x16,
  BmpString: 0x1e,
  Sequence: 0x30,
  Set: 0x31,
} as const;

/**
 * A DER encoding could not be decoded: truncated, a length that overruns its container, a
 * non-minimal length, an unexpected tag, trailing bytes. Carries the byte offset.
 *
 * @example
 * ```ts
 * try {
 *   decodeDistinguishedName(new Uint8Array([0x30, 0x05]));
 * } catch (e) {
 *   if (e instanceof DerDecodeError) e.offset; // 1
 * }
 * ```
 */
export class DerDecodeError extends DecodeError {
  constructor(message: string, offset: number) {
    super(message, offset);
    this.name = "DerDecodeError";
  }
}

/** One TLV: its tag, where its content lies in the buffer, and where the whole TLV lies. */
export interface DerElement {
  tag: number;
  /** Offset of the tag byte. */
  start: number;
  /** Offset of the first content byte. */
  contentStart: number;
  /** Offset just past the content. */
  end: number;
}

/**
 * A cursor over the content of one constructed element (or the whole input). `what` names
 * the structure in errors ("Cannot decode X.501 Name: ...").
 */
export class DerCursor {
  readonly bytes: Uint8Array;
  readonly end: number;
  readonly what: string;
  #offset: number;

  constructor(bytes: Uint8Array, what: string, start = 0, end = bytes.length) {
    this.bytes = bytes;
    this.what = what;
    this.#offset = start;
    this.end = end;
  }

  get offset(): number {
    return this.#offset;
  }

  get done(): boolean {
    return this.#offset >= this.end;
  }

  fail(problem: string, offset = this.#offset): never {
    throw new DerDecodeError(`Cannot decode ${this.what}: ${problem}`, offset);
  }

  /** Reads the next TLV header and skips its content; `expected` checks the tag. */
  next(expected?: number, name?: string): DerElement {
    const start = this.#offset;
    if (start >= this.end) this.fail(`${name ?? "an element"} is missing`);
    const tag = this.bytes[start]!;
    if ((tag & 0x1f) === 0x1f) this.fail(`multi-byte tag 0x${hex2(tag)} is not supported`, start);
    if (expected !== undefined && tag !== expected) {
      this.fail(
        `expected ${name ?? "tag"} (tag 0x${hex2(expected)}), found tag 0x${hex2(tag)}`,
        start,
      );
    }
    let at = start + 1;
    if (at >= this.end) this.fail("the length is missing", at);
    const first = this.bytes[at++]!;
    let length: number;
    if (first < 0x80) {
      length = first;
    } else if (first === 0x80) {
      this.fail("indefinite length is not allowed in DER", at - 1);
    } else {
      const count = first & 0x7f;
      if (count > 4) this.fail(`a length of ${count} octets is too large`, at - 1);
      if (at + count > this.end) this.fail("the length is truncated", at);
      if (this.bytes[at] === 0) this.fail("the length has a leading zero octet", at);
      length = 0;
      for (let i = 0; i < count; i++) length = length * 256 + this.bytes[at++]!;
      if (length < 0x80) this.fail(`length ${length} should use the short form`, at - count - 1);
    }
    if (length > this.end - at) {
      this.fail(`length ${length} overruns the ${this.end - at} bytes left`, at);
    }
    this.#offset = at + length;
    return { tag, start, contentStart: at, end: at + length };
  }

  /** A cursor over the content of `element` (which this cursor returned). */
  enter(element: DerElement, what = this.what): DerCursor {
    return new DerCursor(this.bytes, what, element.contentStart, element.end);
  }

  /** Throws unless every byte was consumed. */
  finish(trailing = "trailing bytes"): void {
    if (this.#offset !== this.end) {
      this.fail(`${this.end - this.#offset} ${trailing} after the last element`);
    }
  }
}

function hex2(n: number): string {
  return n.toString(16).padStart(2, "0");
}

/**
 * Decodes the content of an OBJECT IDENTIFIER to dotted text ("2.5.4.3"). Arcs above
 * 2^53 - 1 and non-minimal arc encodings are refused.
 */
export function decodeObjectIdentifier(cursor: DerCursor, element: DerElement): string {
  const { bytes } = cursor;
  if (element.end === element.contentStart) {
    cursor.fail("an empty OBJECT IDENTIFIER", element.start);
  }
  const arcs: number[] = [];
  let value = 0;
  let fresh = true;
  for (let i = element.contentStart; i < element.end; i++) {
    const b = bytes[i]!;
    if (fresh && b === 0x80) cursor.fail("an OBJECT IDENTIFIER arc has a leading 0x80", i);
    value = value * 128 + (b & 0x7f);
    if (value > Number.MAX_SAFE_INTEGER) cursor.fail("an OBJECT IDENTIFIER arc is too large", i);
    fresh = (b & 0x80) === 0;
    if (fresh) {
      if (arcs.length === 0) {
        const top = value < 40 ? 0 : value < 80 ? 1 : 2;
        arcs.push(top, value - top * 40);
      } else {
        arcs.push(value);
      }
      value = 0;
    }
  }
  if (!fresh) cursor.fail("the OBJECT IDENTIFIER ends inside an arc", element.end - 1);
  return arcs.join(".");
}
