/**
 * Packet memory with a fast Internet checksum: a WebAssembly memory whose views the data-plane
 * workers use as packet buffers, and the SIMD sum of `checksum.wat` over it. `sumWords`
 * (`_checksum.ts`) takes the fast path for any view into the memory registered with
 * {@link useChecksumMemory}; other bytes keep the JavaScript loop.
 *
 * Buffers are carved once ({@link ChecksumMemory.alloc}) and the memory never grows: growing
 * would detach every view handed out (and the pointers FFI batches hold).
 */

/**
 * `checksum.wat` assembled (wabt 1.0.39, SIMD and bulk memory); test/esp/checksum_wasm_test.ts
 * checks it.
 */
export const CHECKSUM_WASM_BASE64 =
  "AGFzbQEAAAABGQRgAn9/AX9gA39/fwBgA39/fwF/YAF+AX8CDwEDZW52Bm1lbW9yeQIAAQMFBAABAgMHGQMDc3VtAAAEY29weQABCGNvcHlfc3VtAAIK8gMEzQEDAn8BewF+IAAgAUFwcWohAgJAA0AgACACTw0BIABBgIAEaiEDIAMgAksEQCACIQML/QwAAAAAAAAAAAAAAAAAAAAAIQQDQCAEIAD9AAQA/X/9rgEhBCAAQRBqIQAgACADSQ0ACyAFIAT9GwCtIAT9GwGtfCAE/RsCrSAE/RsDrXx8fCEFDAALCyABQQ9xIQECQANAIAFBAkkNASAFIAAvAQCtfCEFIABBAmohACABQQJrIQEMAAsLIAEEQCAFIAAtAACtfCEFCyAFEAMLDAAgACABIAL8CgAAC74BAwJ/AnsBfiABIAJBcHFqIQMCQANAIAEgA08NASABQYCABGohBCAEIANLBEAgAyEEC/0MAAAAAAAAAAAAAAAAAAAAACEFA0AgAf0ABAAhBiAAIAb9CwQAIAUgBv1//a4BIQUgAUEQaiEBIABBEGohACABIARJDQALIAcgBf0bAK0gBf0bAa18IAX9GwKtIAX9GwOtfHx8IQcMAAsLIAJBD3EhAiAAIAEgAvwKAAAgByAAIAIQAK18IQcgBxADC1QAIABC/////w+DIABCIIh8IQAgAEL/////D4MgAEIgiHwhACAAQv//A4MgAEIQiHwhACAAQv//A4MgAEIQiHwhACAAQv//A4MgAEIQiHwhACAApws=";

/** WebAssembly page size. */
const PAGE = 65536;
/** Views start on this boundary (cache lines; 16-byte SIMD loads need no alignment). */
const ALIGNMENT = 64;

/** The `sum` export: folded sum of the little-endian 16-bit words of `[ptr, ptr + len)`. */
type WasmSum = (ptr: number, len: number) => number;
/** The `copy` export: `[dst, dst + len) = [src, src + len)`. */
type WasmCopy = (dst: number, src: number, len: number) => void;
/** The `copy_sum` export: `copy` (no overlap), returning the `sum` of the copied bytes. */
type WasmCopySum = (dst: number, src: number, len: number) => number;

interface WasmExports {
  sum: WasmSum;
  copy: WasmCopy;
  copy_sum: WasmCopySum;
}

let compiled: WebAssembly.Module | null | undefined;

/** The compiled module, once per thread; null when this runtime cannot (no Wasm SIMD). */
function checksumModule(): WebAssembly.Module | null {
  if (compiled !== undefined) return compiled;
  try {
    const text = atob(CHECKSUM_WASM_BASE64);
    const bytes = new Uint8Array(text.length);
    for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
    compiled = new WebAssembly.Module(bytes);
  } catch {
    compiled = null;
  }
  return compiled;
}

/**
 * A fixed-size WebAssembly memory to carve packet buffers from, and the checksum over it.
 *
 * @example
 * ```ts
 * const memory = ChecksumMemory.create(8 << 20);
 * if (memory) useChecksumMemory(memory);
 * const slots = memory?.alloc(64 * 2048) ?? new Uint8Array(64 * 2048);
 * ```
 */
export class ChecksumMemory {
  /** The memory's buffer: a view is fast when `view.buffer === buffer`. */
  readonly buffer: ArrayBufferLike;
  readonly #sum: WasmSum;
  readonly #copy: WasmCopy;
  readonly #copySum: WasmCopySum;
  #used = 0;

  private constructor(buffer: ArrayBufferLike, exports: WasmExports) {
    this.buffer = buffer;
    this.#sum = exports.sum;
    this.#copy = exports.copy;
    this.#copySum = exports.copy_sum;
  }

  /**
   * A memory of at least `bytes` bytes (rounded up to 64 KiB pages), or null when
   * WebAssembly (with SIMD) is not available or the memory cannot be had.
   */
  static create(bytes: number): ChecksumMemory | null {
    const module = checksumModule();
    if (module === null || !Number.isInteger(bytes) || bytes < 1) return null;
    try {
      const pages = Math.ceil(bytes / PAGE);
      const memory = new WebAssembly.Memory({ initial: pages, maximum: pages });
      const instance = new WebAssembly.Instance(module, { env: { memory } });
      return new ChecksumMemory(memory.buffer, instance.exports as unknown as WasmExports);
    } catch {
      return null;
    }
  }

  /** Bytes not handed out yet. */
  get free(): number {
    return this.buffer.byteLength - this.#used;
  }

  /**
   * A zeroed view of `length` bytes, 64-byte aligned, never handed out again. Throws
   * `RangeError` when the memory has no room left (size it for every buffer up front).
   */
  alloc(length: number): Uint8Array {
    const start = Math.ceil(this.#used / ALIGNMENT) * ALIGNMENT;
    if (!Number.isInteger(length) || length < 0 || start + length > this.buffer.byteLength) {
      throw new RangeError(
        `Cannot allocate ${length} bytes of packet memory: ${
          this.buffer.byteLength - start
        } of ${this.buffer.byteLength} left`,
      );
    }
    this.#used = start + length;
    return new Uint8Array(this.buffer, start, length);
  }

  /**
   * Folded sum of the little-endian 16-bit words of `bytes[start, end)` (an odd last byte as a
   * low byte); `bytes` must be a view into {@link buffer}.
   */
  sumLittleEndian(bytes: Uint8Array, start: number, end: number): number {
    return this.#sum(bytes.byteOffset + start, end - start);
  }

  /** Whether `bytes` is a view into this memory (so {@link copy} and the sums can take it). */
  holds(bytes: Uint8Array): boolean {
    return bytes.buffer === this.buffer;
  }

  /**
   * `dst[dstStart, + length) = src[srcStart, + length)` for views into {@link buffer} (see
   * {@link holds}), without a view or `set` call per copy; the ranges may overlap. The caller
   * keeps the ranges inside the views.
   */
  copy(dst: Uint8Array, dstStart: number, src: Uint8Array, srcStart: number, length: number): void {
    this.#copy(dst.byteOffset + dstStart, src.byteOffset + srcStart, length);
  }

  /**
   * {@link copy} for ranges that do not overlap, returning what {@link sumLittleEndian} would
   * return for the copied bytes: one pass over them instead of two.
   */
  copyAndSum(
    dst: Uint8Array,
    dstStart: number,
    src: Uint8Array,
    srcStart: number,
    length: number,
  ): number {
    return this.#copySum(dst.byteOffset + dstStart, src.byteOffset + srcStart, length);
  }
}

let current: ChecksumMemory | null = null;

/** Makes `memory` this thread's fast checksum memory (null: none); one per thread. */
export function useChecksumMemory(memory: ChecksumMemory | null): void {
  current = memory;
}

/** This thread's fast checksum memory, or null. */
export function checksumMemory(): ChecksumMemory | null {
  return current;
}
