/**
 * The management server's two gates before any password is looked at: the source-address
 * allow list and the failed-login limit per source.
 */
import { type IpPrefix, parseIpAddress, parsePrefix } from "../config/mod.ts";

function contains(prefix: IpPrefix, bytes: Uint8Array): boolean {
  if (bytes.length !== prefix.bytes.length) return false;
  let bits = prefix.length;
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((bytes[i]! & mask) !== (prefix.bytes[i]! & mask)) return false;
  }
  return true;
}

/** The address as 4 or 16 bytes; an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) as IPv4. */
function addressBytes(text: string): Uint8Array | undefined {
  const address = parseIpAddress(text.replace(/^\[|\]$/g, ""));
  if (!address) return undefined;
  const b = address.bytes;
  if (
    address.family === 6 && b.subarray(0, 10).every((x) => x === 0) && b[10] === 0xff &&
    b[11] === 0xff
  ) {
    return b.slice(12);
  }
  return b;
}

/**
 * Client prefixes allowed to reach the server (`<admin allow>`).
 *
 * @example
 * ```ts
 * const acl = new SourceAcl(["127.0.0.0/8"]);
 * acl.allows("127.0.0.1"); // true
 * acl.allows("10.0.0.1"); // false
 * ```
 */
export class SourceAcl {
  readonly #prefixes: IpPrefix[];

  constructor(prefixes: readonly string[]) {
    this.#prefixes = prefixes.map((text) => {
      const prefix = parsePrefix(text);
      if (typeof prefix === "string") {
        throw new RangeError(`Cannot use allow prefix "${text}": ${prefix}`);
      }
      return prefix;
    });
  }

  allows(address: string): boolean {
    const bytes = addressBytes(address);
    return bytes !== undefined && this.#prefixes.some((p) => contains(p, bytes));
  }
}

/**
 * Failed logins per source address in a sliding window: after `limit` failures within
 * `windowMs`, every request from that source is refused until the oldest failure ages out.
 *
 * @example
 * ```ts
 * const limiter = new FailedLoginLimiter({ limit: 5, windowMs: 60_000 });
 * limiter.fail("127.0.0.1");
 * limiter.retryAfterMs("127.0.0.1"); // 0 until the fifth failure
 * ```
 */
export class FailedLoginLimiter {
  readonly limit: number;
  readonly windowMs: number;
  readonly #failures = new Map<string, number[]>();
  static readonly MAX_SOURCES = 10_000;

  constructor(options: { limit: number; windowMs: number }) {
    this.limit = options.limit;
    this.windowMs = options.windowMs;
  }

  #recent(source: string, now: number): number[] {
    const list = (this.#failures.get(source) ?? []).filter((t) => now - t < this.windowMs);
    if (list.length === 0) this.#failures.delete(source);
    else this.#failures.set(source, list);
    return list;
  }

  /** Milliseconds until `source` may try again; 0 when it may now. */
  retryAfterMs(source: string, now = Date.now()): number {
    const list = this.#recent(source, now);
    if (list.length < this.limit) return 0;
    return this.windowMs - (now - list[list.length - this.limit]!);
  }

  /** Records one failure of `source`. */
  fail(source: string, now = Date.now()): void {
    if (!this.#failures.has(source) && this.#failures.size >= FailedLoginLimiter.MAX_SOURCES) {
      for (const key of [...this.#failures.keys()]) this.#recent(key, now);
      if (this.#failures.size >= FailedLoginLimiter.MAX_SOURCES) {
        this.#failures.delete(this.#failures.keys().next().value!);
      }
    }
    const list = this.#recent(source, now);
    list.push(now);
    this.#failures.set(source, list);
  }
}
