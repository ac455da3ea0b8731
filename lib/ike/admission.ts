/**
 * Admission of new IKE_SA_INIT requests (RFC 7296 §2.6, RFC 8019 §4): the responder decides,
 * before it keeps any state or does any Diffie-Hellman work, whether a request from an unknown
 * initiator is processed, answered with a stateless COOKIE, or dropped.
 *
 * Decision order, first match wins:
 *   1. `halfOpenLimit` half-open SAs exist → drop (even with a valid cookie)
 *   2. the request returns a valid COOKIE → process (the initiator owns its address)
 *   3. fewer than `cookieThreshold` half-open SAs and a token of the `initRateLimit` bucket
 *      → process
 *   4. a token of the `cookieRateLimit` bucket → answer with a COOKIE
 *   5. otherwise → drop
 *
 * Established SAs never come here: their messages are found by SPI before admission.
 */

/** The limits of {@link InitAdmission}; conf/README.md documents them as the root `<ike>`. */
export interface InitAdmissionLimits {
  /** Half-open SAs from which on a new IKE_SA_INIT must return a COOKIE; 0 = always. */
  cookieThreshold: number;
  /** New IKE_SA_INITs per second processed without a COOKIE (burst: one second's worth). */
  initRateLimit: number;
  /** COOKIE answers per second; requests beyond it are dropped unanswered. */
  cookieRateLimit: number;
  /** Half-open SAs from which on every new IKE_SA_INIT is dropped. */
  halfOpenLimit: number;
}

/** Defaults of the root `<ike>` element (conf/README.md). */
export const DEFAULT_INIT_ADMISSION_LIMITS: Readonly<InitAdmissionLimits> = {
  cookieThreshold: 10,
  initRateLimit: 100,
  cookieRateLimit: 5000,
  halfOpenLimit: 1000,
};

/** What a request brought: no COOKIE notify, one that verified, or one that did not. */
export type CookieEvidence = "none" | "valid" | "invalid";

/**
 * The verdict on one request; `reason` says why (for counters and logs):
 * - process: `cookie` (a valid cookie), `below_threshold` (within rate and threshold)
 * - cookie: `threshold` (too many half-open SAs), `rate` (above `initRateLimit`)
 * - drop: `half_open_limit`, `cookie_rate` (above `cookieRateLimit`)
 */
export type AdmissionVerdict =
  | { action: "process"; reason: "cookie" | "below_threshold" }
  | { action: "cookie"; reason: "threshold" | "rate" }
  | { action: "drop"; reason: "half_open_limit" | "cookie_rate" };

/**
 * A token bucket: `ratePerSecond` tokens a second, holding at most `burst` (default one second's
 * worth); starts full. `now` in milliseconds, injectable for tests.
 *
 * @example
 * ```ts
 * const bucket = new TokenBucket(2, { now: () => 0 });
 * bucket.take(); // true
 * bucket.take(); // true
 * bucket.take(); // false until time passes
 * ```
 */
export class TokenBucket {
  readonly ratePerSecond: number;
  readonly burst: number;
  readonly #now: () => number;
  #tokens: number;
  #last: number;

  constructor(ratePerSecond: number, options: { burst?: number; now?: () => number } = {}) {
    if (!(ratePerSecond > 0)) {
      throw new RangeError(`Cannot create a token bucket: rate ${ratePerSecond} is not positive`);
    }
    this.ratePerSecond = ratePerSecond;
    this.burst = Math.max(1, options.burst ?? ratePerSecond);
    this.#now = options.now ?? (() => performance.now());
    this.#tokens = this.burst;
    this.#last = this.#now();
  }

  /** Takes one token when one is there. */
  take(): boolean {
    const now = this.#now();
    const elapsed = Math.max(0, now - this.#last);
    this.#last = now;
    this.#tokens = Math.min(this.burst, this.#tokens + (elapsed * this.ratePerSecond) / 1000);
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}

/**
 * Decides on new IKE_SA_INIT requests (see the module comment). Pure apart from its two
 * token buckets; the caller verifies the cookie and counts.
 *
 * @example
 * ```ts
 * const admission = new InitAdmission({ ...DEFAULT_INIT_ADMISSION_LIMITS, initRateLimit: 1 });
 * admission.decide(0, "none"); // { action: "process", reason: "below_threshold" }
 * admission.decide(1, "none"); // { action: "cookie", reason: "rate" }
 * ```
 */
export class InitAdmission {
  readonly limits: Readonly<InitAdmissionLimits>;
  readonly #initBucket: TokenBucket;
  readonly #cookieBucket: TokenBucket;

  constructor(limits: InitAdmissionLimits, options: { now?: () => number } = {}) {
    this.limits = { ...limits };
    const clock = options.now ? { now: options.now } : {};
    this.#initBucket = new TokenBucket(limits.initRateLimit, clock);
    this.#cookieBucket = new TokenBucket(limits.cookieRateLimit, clock);
  }

  /** The verdict for a new request while `halfOpen` responder SAs are half-open. */
  decide(halfOpen: number, cookie: CookieEvidence): AdmissionVerdict {
    if (halfOpen >= this.limits.halfOpenLimit) return { action: "drop", reason: "half_open_limit" };
    if (cookie === "valid") return { action: "process", reason: "cookie" };
    const overThreshold = halfOpen >= this.limits.cookieThreshold;
    if (!overThreshold && this.#initBucket.take()) {
      return { action: "process", reason: "below_threshold" };
    }
    if (!this.#cookieBucket.take()) return { action: "drop", reason: "cookie_rate" };
    return { action: "cookie", reason: overThreshold ? "threshold" : "rate" };
  }
}
