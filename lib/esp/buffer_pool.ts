/**
 * A bounded pool of packet buffers with matching acquire/release (wireguard-go's
 * `WaitPool`). The data path takes a buffer per packet and gives it back when the send that
 * reads it has completed; an empty pool is the data path's back-pressure.
 */

/** One buffer of a {@link BufferPool}. */
export class PooledBuffer {
  /** The whole buffer. */
  readonly bytes: Uint8Array;
  /** The buffer after the pool's headroom: where a packet is built. */
  readonly payload: Uint8Array;
  /** Returns this buffer to its pool; pre-bound so it can be a promise callback. */
  readonly release: () => void;
  /**
   * Returns this buffer and reports `error` to the pool's `onError`; pre-bound, so
   * `send(...).then(buf.release, buf.fail)` allocates no closure per packet.
   */
  readonly fail: (error: unknown) => void;
  /** True while the buffer sits in the pool. */
  inPool = true;

  constructor(pool: BufferPool, size: number, headroom: number) {
    this.bytes = new Uint8Array(size);
    this.payload = this.bytes.subarray(headroom);
    this.release = () => pool.release(this);
    this.fail = (error) => {
      if (!this.inPool) pool.release(this);
      pool.onError?.(error);
    };
  }
}

/** Options of a {@link BufferPool}. */
export interface BufferPoolOptions {
  /** Number of buffers, ≥ 1. */
  count: number;
  /** Bytes per buffer, headroom included. */
  size: number;
  /** Bytes kept free at the start of each buffer (see {@link PooledBuffer.payload}). */
  headroom?: number;
  /** Receives the errors passed to {@link PooledBuffer.fail}. */
  onError?: (error: unknown) => void;
}

/**
 * A fixed set of preallocated buffers.
 *
 * @example
 * ```ts
 * const pool = new BufferPool({ count: 256, size: 2048 });
 * const buf = pool.acquire() ?? (await pool.waitAvailable(), pool.acquire()!);
 * socket.send(buf.bytes.subarray(0, n), to).then(buf.release, buf.fail);
 * ```
 */
export class BufferPool {
  readonly count: number;
  readonly size: number;
  readonly onError: ((error: unknown) => void) | undefined;
  readonly #free: PooledBuffer[];
  #waiters: (() => void)[] = [];

  /** Throws `RangeError` on a count < 1 or a headroom not smaller than the size. */
  constructor(options: BufferPoolOptions) {
    const { count, size } = options;
    const headroom = options.headroom ?? 0;
    if (!Number.isInteger(count) || count < 1 || !Number.isInteger(size) || headroom >= size) {
      throw new RangeError(
        `Cannot create buffer pool: ${count} buffers of ${size} bytes with headroom ${headroom}`,
      );
    }
    this.count = count;
    this.size = size;
    this.onError = options.onError;
    this.#free = Array.from({ length: count }, () => new PooledBuffer(this, size, headroom));
  }

  /** Buffers currently in the pool. */
  get available(): number {
    return this.#free.length;
  }

  /** Takes a buffer, or returns undefined when all are in use. */
  acquire(): PooledBuffer | undefined {
    const buf = this.#free.pop();
    if (buf) buf.inPool = false;
    return buf;
  }

  /** Returns a buffer. Throws `RangeError` on a double release (a data path bug). */
  release(buf: PooledBuffer): void {
    if (buf.inPool) throw new RangeError("Cannot release buffer: it is already in the pool");
    buf.inPool = true;
    this.#free.push(buf);
    if (this.#waiters.length > 0) {
      const waiters = this.#waiters;
      this.#waiters = [];
      for (const wake of waiters) wake();
    }
  }

  /** Resolves when at least one buffer is available (immediately if one is). */
  waitAvailable(): Promise<void> {
    if (this.#free.length > 0) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push(resolve));
  }
}
