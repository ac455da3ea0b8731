/**
 * The ESP anti-replay window (RFC 4303 §3.4.3 and Appendix A) as a ring of 32-bit bitmap
 * words (the RFC 6479 layout): sliding the window clears whole words instead of shifting bits,
 * so a check or an update costs O(1) apart from clearing skipped words, and nothing allocates.
 *
 * Sequence numbers are plain JS numbers, exact up to 2^53, so the same window serves 32-bit
 * sequence numbers today and reconstructed 64-bit ESNs ({@link ReplayWindow.inferEsn},
 * Appendix A2.2) later.
 */

/** Smallest window the configuration accepts (RFC 4303 §3.4.3: "minimum window size of 32"). */
export const REPLAY_WINDOW_MIN = 32;
/** Largest window the configuration accepts (implementation limit). */
export const REPLAY_WINDOW_MAX = 4096;
/** Default window, as strongSwan and the config sketch use. */
export const REPLAY_WINDOW_DEFAULT = 1024;

const BITS_PER_WORD = 32;
const TWO_POW_32 = 0x1_0000_0000;

/**
 * An anti-replay window. Call {@link check} before decrypting (cheap rejection of replays and
 * stale packets) and {@link update} only after the ICV verified, so forged packets can never
 * move the window.
 *
 * @example
 * ```ts
 * const w = new ReplayWindow(1024);
 * if (w.check(seq) && icvVerified) w.update(seq);
 * ```
 */
export class ReplayWindow {
  /** Window size in sequence numbers: packets older than `highest - size + 1` are rejected. */
  readonly size: number;
  readonly #words: Uint32Array;
  readonly #wordMask: number;
  #highest = 0;
  /** Where the highest accepted sequence number is published (see the constructor). */
  readonly #published: Uint32Array | null;
  readonly #publishedIndex: number;

  /**
   * Throws `RangeError` unless `size` is a multiple of 32 within 32..4096.
   *
   * With `published` (a word of shared memory), every new highest sequence number is written
   * there, and a window created on a word that is not 0 resumes from it with the whole window
   * marked as seen: a data-plane worker restarted after a crash then rejects every packet it
   * may already have accepted (at the cost of late, never-seen packets inside the window). The
   * word holds the low 32 bits (ESN is not negotiated yet).
   */
  constructor(
    size: number = REPLAY_WINDOW_DEFAULT,
    published?: { words: Uint32Array; index: number },
  ) {
    if (
      !Number.isInteger(size) || size < REPLAY_WINDOW_MIN || size > REPLAY_WINDOW_MAX ||
      size % BITS_PER_WORD !== 0
    ) {
      throw new RangeError(
        `Cannot create replay window: size ${size} is not a multiple of 32 in ` +
          `${REPLAY_WINDOW_MIN}..${REPLAY_WINDOW_MAX}`,
      );
    }
    this.size = size;
    // One spare word so the oldest in-window sequence number never shares a word with the
    // newest after a slide; rounded to a power of two so the ring index is a mask.
    let words = 1;
    while (words < size / BITS_PER_WORD + 1) words *= 2;
    this.#words = new Uint32Array(words);
    this.#wordMask = words - 1;
    this.#published = published?.words ?? null;
    this.#publishedIndex = published?.index ?? 0;
    const resumed = published === undefined ? 0 : Atomics.load(published.words, published.index);
    if (resumed > 0) {
      this.#highest = resumed;
      this.#words.fill(0xffff_ffff);
    }
  }

  /** The highest sequence number accepted so far (0 before the first). */
  get highest(): number {
    return this.#highest;
  }

  /**
   * True when `seq` is new: above the window, or inside it and not yet seen. Sequence number 0
   * is never valid (RFC 4303 §3.3.3: the first packet carries 1). Does not change the window.
   */
  check(seq: number): boolean {
    if (seq <= 0) return false;
    if (seq > this.#highest) return true;
    if (seq + this.size <= this.#highest) return false;
    const word = this.#words[Math.floor(seq / BITS_PER_WORD) & this.#wordMask]!;
    return (word & (1 << (seq % BITS_PER_WORD))) === 0;
  }

  /**
   * Marks `seq` as received, sliding the window when it is the new highest. Call only after
   * the ICV verified. Returns false (and changes nothing) when `seq` would fail {@link check}.
   */
  update(seq: number): boolean {
    if (!this.check(seq)) return false;
    const block = Math.floor(seq / BITS_PER_WORD);
    if (seq > this.#highest) {
      const current = Math.floor(this.#highest / BITS_PER_WORD);
      const advance = block - current;
      if (advance > this.#wordMask) {
        this.#words.fill(0);
      } else {
        for (let i = 1; i <= advance; i++) this.#words[(current + i) & this.#wordMask] = 0;
      }
      this.#highest = seq;
      if (this.#published !== null) this.#published[this.#publishedIndex] = seq;
    }
    this.#words[block & this.#wordMask]! |= 1 << (seq % BITS_PER_WORD);
    return true;
  }

  /**
   * Reconstructs a full 64-bit extended sequence number from its transmitted low 32 bits,
   * relative to the window (RFC 4303 Appendix A2.2). The caller verifies the ICV with the
   * result; only then {@link update}. Unused until ESN is negotiated.
   */
  inferEsn(low32: number): number {
    const top = this.#highest;
    const topLow = top % TWO_POW_32;
    const topHigh = Math.floor(top / TWO_POW_32);
    const bottomLow = (topLow - this.size + 1 + TWO_POW_32) % TWO_POW_32;
    let high: number;
    if (topLow >= this.size - 1) {
      // Case A: the window lies within one subspace.
      high = low32 >= bottomLow ? topHigh : topHigh + 1;
    } else {
      // Case B: the window spans two subspaces.
      high = low32 >= bottomLow ? topHigh - 1 : topHigh;
    }
    return Math.max(high, 0) * TWO_POW_32 + low32;
  }

  /** Forgets everything (a fresh SA). */
  reset(): void {
    this.#words.fill(0);
    this.#highest = 0;
  }
}
