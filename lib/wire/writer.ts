/**
 * A growable big-endian byte writer. Lengths that are known only after a body is written go
 * into a reserved gap (`reserve16` / `patch16`), as dns-packet does.
 *
 * @example
 * ```ts
 * const w = new ByteWriter();
 * const at = w.reserve16();
 * w.bytes(new Uint8Array([1, 2, 3]));
 * w.patch16(at, w.length);
 * w.finish(); // Uint8Array [0, 5, 1, 2, 3]
 * ```
 */
export class ByteWriter {
  #buf: Uint8Array;
  #view: DataView;
  #length = 0;

  constructor(initialCapacity = 256) {
    this.#buf = new Uint8Array(initialCapacity);
    this.#view = new DataView(this.#buf.buffer);
  }

  get length(): number {
    return this.#length;
  }

  #ensure(n: number): void {
    const need = this.#length + n;
    if (need <= this.#buf.length) return;
    let cap = this.#buf.length * 2;
    while (cap < need) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.#buf.subarray(0, this.#length));
    this.#buf = next;
    this.#view = new DataView(next.buffer);
  }

  u8(v: number): this {
    this.#ensure(1);
    this.#buf[this.#length++] = v & 0xff;
    return this;
  }

  u16(v: number): this {
    this.#ensure(2);
    this.#view.setUint16(this.#length, v);
    this.#length += 2;
    return this;
  }

  u32(v: number): this {
    this.#ensure(4);
    this.#view.setUint32(this.#length, v >>> 0);
    this.#length += 4;
    return this;
  }

  bytes(b: Uint8Array): this {
    this.#ensure(b.length);
    this.#buf.set(b, this.#length);
    this.#length += b.length;
    return this;
  }

  zeros(n: number): this {
    this.#ensure(n);
    this.#buf.fill(0, this.#length, this.#length + n);
    this.#length += n;
    return this;
  }

  /** Reserves two bytes and returns their position for {@link patch16}. */
  reserve16(): number {
    const at = this.#length;
    this.u16(0);
    return at;
  }

  patch8(at: number, v: number): void {
    this.#buf[at] = v & 0xff;
  }

  patch16(at: number, v: number): void {
    this.#view.setUint16(at, v);
  }

  patch32(at: number, v: number): void {
    this.#view.setUint32(at, v >>> 0);
  }

  /** A copy of the written bytes. */
  finish(): Uint8Array {
    return this.#buf.slice(0, this.#length);
  }
}
