/**
 * The limit on log lines on the data path: at most `perSecond` lines per second with a burst of
 * the same size, so a flood of bad packets cannot flood the log. The arithmetic is the IKE
 * admission {@link TokenBucket}; this only names its use here.
 */
import { TokenBucket } from "../ike/mod.ts";

export class RateLimit extends TokenBucket {
  /** Takes a token if one is left. */
  allow(): boolean {
    return this.take();
  }
}
