/**
 * A longest-prefix-match table for IPv4 and IPv6. IPv4 keeps one `Map<network, entry>` per
 * prefix length and probes the lengths in use from longest to shortest (at most 33 integer-keyed
 * lookups, no allocation); IPv6 is a list sorted by length, fine for the few prefixes of a
 * gateway.
 */
import { tryParseIpAddress } from "../wire/mod.ts";
import {
  addressOffset,
  type IpPrefix,
  ipVersionOf,
  maskOf,
  prefixContainsAt,
  readAddressWord,
} from "./ip_prefix.ts";

interface Entry<T> {
  prefix: IpPrefix;
  value: T;
}

/**
 * Maps prefixes to values; {@link lookup} returns the value of the longest prefix containing
 * a packet's address.
 *
 * @example
 * ```ts
 * const t = new PrefixTable<string>();
 * t.set(parsePrefix("10.0.0.0/8"), "wide");
 * t.set(parsePrefix("10.2.0.0/16"), "narrow");
 * t.lookupAddress("10.2.3.4"); // "narrow"
 * ```
 */
export class PrefixTable<T> {
  readonly #v4: (Map<number, Entry<T>> | undefined)[] = new Array(33);
  /** IPv4 lengths with at least one entry, longest first. */
  #v4Lengths: number[] = [];
  /** IPv6 entries, longest prefix first. */
  #v6: Entry<T>[] = [];
  #size = 0;

  /** Number of prefixes in the table. */
  get size(): number {
    return this.#size;
  }

  /** Sets (or replaces) the value of exactly `prefix`. */
  set(prefix: IpPrefix, value: T): void {
    if (prefix.family === 4) {
      let map = this.#v4[prefix.length];
      if (!map) {
        map = new Map();
        this.#v4[prefix.length] = map;
        this.#v4Lengths = [...this.#v4Lengths, prefix.length].sort((a, b) => b - a);
      }
      if (!map.has(prefix.words[0]!)) this.#size++;
      map.set(prefix.words[0]!, { prefix, value });
      return;
    }
    const existing = this.#v6.find((e) => samePrefix(e.prefix, prefix));
    if (existing) {
      existing.value = value;
      return;
    }
    this.#v6 = [...this.#v6, { prefix, value }].sort((a, b) => b.prefix.length - a.prefix.length);
    this.#size++;
  }

  /** The value of exactly `prefix` (no longest-match). */
  get(prefix: IpPrefix): T | undefined {
    if (prefix.family === 4) return this.#v4[prefix.length]?.get(prefix.words[0]!)?.value;
    return this.#v6.find((e) => samePrefix(e.prefix, prefix))?.value;
  }

  /** Removes exactly `prefix`; returns whether it was present. */
  delete(prefix: IpPrefix): boolean {
    if (prefix.family === 4) {
      const map = this.#v4[prefix.length];
      if (!map?.delete(prefix.words[0]!)) return false;
      if (map.size === 0) {
        this.#v4[prefix.length] = undefined;
        this.#v4Lengths = this.#v4Lengths.filter((l) => l !== prefix.length);
      }
      this.#size--;
      return true;
    }
    const before = this.#v6.length;
    this.#v6 = this.#v6.filter((e) => !samePrefix(e.prefix, prefix));
    if (this.#v6.length === before) return false;
    this.#size--;
    return true;
  }

  /** Longest match for an IPv4 address given as a u32. */
  lookup4(address: number): T | undefined {
    const lengths = this.#v4Lengths;
    for (let i = 0; i < lengths.length; i++) {
      const length = lengths[i]!;
      const hit = this.#v4[length]!.get((address & maskOf(length)) >>> 0);
      if (hit) return hit.value;
    }
    return undefined;
  }

  /**
   * Longest match for the destination (or source) address of an IPv4/IPv6 packet; undefined
   * when nothing matches or the packet has no complete IP header. Allocation-free.
   */
  lookup(packet: Uint8Array, which: "source" | "destination" = "destination"): T | undefined {
    const version = ipVersionOf(packet);
    if (version === 4) return this.lookup4(readAddressWord(packet, addressOffset(4, which)));
    if (version === 6) {
      const offset = addressOffset(6, which);
      const v6 = this.#v6;
      for (let i = 0; i < v6.length; i++) {
        const e = v6[i]!;
        if (prefixContainsAt(e.prefix, packet, offset)) return e.value;
      }
    }
    return undefined;
  }

  /** Longest match for an address in text form (control path, allocates). */
  lookupAddress(address: string): T | undefined {
    const bytes = tryParseIpAddress(address);
    if (!bytes) return undefined;
    if (bytes.length === 4) return this.lookup4(readAddressWord(bytes, 0));
    for (const e of this.#v6) if (prefixContainsAt(e.prefix, bytes, 0)) return e.value;
    return undefined;
  }

  /** All entries (IPv4 longest first, then IPv6 longest first). */
  *entries(): IterableIterator<[IpPrefix, T]> {
    for (const length of this.#v4Lengths) {
      for (const e of this.#v4[length]!.values()) yield [e.prefix, e.value];
    }
    for (const e of this.#v6) yield [e.prefix, e.value];
  }
}

function samePrefix(a: IpPrefix, b: IpPrefix): boolean {
  if (a.family !== b.family || a.length !== b.length) return false;
  for (let i = 0; i < a.words.length; i++) if (a.words[i] !== b.words[i]) return false;
  return true;
}
