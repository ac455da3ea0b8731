import { DecodeError } from "./errors.ts";

/**
 * A bounds-checked cursor over a `Uint8Array`. Every read checks the remaining length once
 * and throws {@link DecodeError} naming `what` and the offset; nothing is ever read past `end`.
 *
 * @example
 * ```ts
 * const r = new ByteReader(new Uint8Array([0, 1, 2, 3]));
 * r.u16("length"); // 1
 * ```
 */
export class ByteReader {
  readonly bytes: Uint8Array;
  readonly end: number;
  #offset: number;
  #view: DataView;

  constructor(bytes: Uint8Array, start = 0, end = bytes.length) {
    if (start < 0 || end > bytes.length || start > end) {
      throw new RangeError(`Cannot create reader: window ${start}..${end} outside ${bytes.length}`);
    }
    this.bytes = bytes;
    this.end = end;
    this.#offset = start;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /** Current absolute offset into `bytes`. */
  get offset(): number {
    return this.#offset;
  }

  /** Bytes left before `end`. */
  get remaining(): number {
    return this.end - this.#offset;
  }

  /** Throws unless `n` more bytes are available. */
  need(n: number, what: string): void {
    if (n < 0 || this.#offset + n > this.end) {
      throw new DecodeError(
        `Cannot decode ${what}: need ${n} bytes, ${this.remaining} left`,
        this.#offset,
      );
    }
  }

  u8(what = "u8"): number {
    this.need(1, what);
    return this.bytes[this.#offset++]!;
  }

  u16(what = "u16"): number {
    this.need(2, what);
    const v = this.#view.getUint16(this.#offset);
    this.#offset += 2;
    return v;
  }

  u32(what = "u32"): number {
    this.need(4, what);
    const v = this.#view.getUint32(this.#offset);
    this.#offset += 4;
    return v;
  }

  /** A view (no copy) of the next `n` bytes. */
  view(n: number, what = "bytes"): Uint8Array {
    this.need(n, what);
    const v = this.bytes.subarray(this.#offset, this.#offset + n);
    this.#offset += n;
    return v;
  }

  /** A copy of the next `n` bytes; use for data that outlives the datagram. */
  copy(n: number, what = "bytes"): Uint8Array {
    return this.view(n, what).slice();
  }

  /** A copy of everything left. */
  rest(): Uint8Array {
    return this.copy(this.remaining);
  }

  skip(n: number, what = "bytes"): void {
    this.need(n, what);
    this.#offset += n;
  }

  /** A child reader over the next `n` bytes; this reader moves past them. */
  sub(n: number, what = "bytes"): ByteReader {
    this.need(n, what);
    const child = new ByteReader(this.bytes, this.#offset, this.#offset + n);
    this.#offset += n;
    return child;
  }
}
