/**
 * A token bucket for log lines on the data path: at most `perSecond` lines per second with a
 * burst of the same size, so a flood of bad packets cannot flood the log.
 */
export class RateLimit {
  readonly perSecond: number;
  #tokens: number;
  #last = 0;

  constructor(perSecond: number) {
    this.perSecond = perSecond;
    this.#tokens = perSecond;
  }

  /** Takes a token if one is left; `now` in milliseconds. */
  allow(now: number = performance.now()): boolean {
    const elapsed = now - this.#last;
    this.#last = now;
    this.#tokens = Math.min(this.perSecond, this.#tokens + (elapsed * this.perSecond) / 1000);
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}
