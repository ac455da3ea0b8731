/**
 * Inner address pools of realms that hand out addresses in CFG_REPLY (RFC 7296 §2.19).
 *
 * Leases are keyed by the peer's IKE identity: an identity that reconnects gets its old address
 * back, and two IKE SAs of one identity (a reconnect overlapping the old SA, an IKE SA rekey)
 * share it. A lease with no IKE SA left goes *offline* but stays reserved for its identity as
 * long as never-used addresses remain; only then is the oldest offline lease handed to someone
 * else (strongSwan's mem_pool does the same).
 *
 * An IPv6 /64 has 2^64 addresses, so nothing is enumerated up front: never-used addresses are
 * taken in order from a counter, and only leases are stored.
 */
import { formatIpAddress, parseIpAddress } from "../wire/mod.ts";
import { fromBigInt, toBigInt } from "./traffic_selectors.ts";

/** A realm's `<pool>`: what it hands out, as validated by the configuration loader. */
export interface AddressPoolPolicy {
  /** One prefix per family at most: "10.3.0.0/24", "fd00:3::/112". */
  prefixes: readonly string[];
  /** Addresses inside a prefix that are never lent (our own tunnel address). */
  exclude: readonly string[];
  /** DNS servers sent with every CFG_REPLY. */
  dns: readonly string[];
  /** DNS domains (RFC 8598) sent to initiators that ask for them. */
  domains: readonly string[];
  /** Internal subnets sent as INTERNAL_IP4/6_SUBNET. */
  subnets: readonly string[];
}

/** One address lent to one identity. */
export interface AddressLease {
  readonly pool: AddressPool;
  /** Address text, e.g. "10.3.0.1". */
  readonly address: string;
  /** The identity it is reserved for (canonical identity text). */
  readonly identity: string;
}

interface Lease extends AddressLease {
  identity: string;
  readonly offset: bigint;
  /** The IKE SAs using it; empty = offline. */
  readonly owners: Set<object>;
}

/**
 * The addresses of one prefix. The IPv4 network and broadcast addresses (prefixes shorter than
 * /31) and the IPv6 subnet-router anycast address (offset 0, shorter than /127) are never lent.
 *
 * @example
 * ```ts
 * const pool = new AddressPool("10.3.0.0/24", { exclude: ["10.3.0.1"] });
 * const lease = pool.acquire("fqdn:rw.example.com", sa); // 10.3.0.2
 * pool.release(lease!, sa); // offline, still reserved for fqdn:rw.example.com
 * ```
 */
export class AddressPool {
  /** The prefix as configured, e.g. "10.3.0.0/24". */
  readonly prefix: string;
  readonly family: 4 | 6;
  readonly prefixLength: number;
  readonly #base: bigint;
  readonly #bytes: number;
  readonly #first: bigint;
  readonly #last: bigint;
  readonly #excluded = new Set<bigint>();
  #next: bigint;
  readonly #byIdentity = new Map<string, Lease>();
  /** Offline leases, oldest release first (a Set keeps insertion order). */
  readonly #offline = new Set<Lease>();

  constructor(prefix: string, options: { exclude?: readonly string[] } = {}) {
    const [addressText, lengthText] = prefix.split("/");
    const bytes = parseIpAddress(addressText!);
    const bits = bytes.length * 8;
    const length = lengthText === undefined ? bits : Number(lengthText);
    if (!Number.isInteger(length) || length < 0 || length > bits) {
      throw new RangeError(`Cannot create address pool ${prefix}: bad prefix length`);
    }
    this.prefix = prefix;
    this.family = bytes.length === 4 ? 4 : 6;
    this.prefixLength = length;
    this.#bytes = bytes.length;
    const hostBits = BigInt(bits - length);
    this.#base = (toBigInt(bytes) >> hostBits) << hostBits;
    const size = 1n << hostBits;
    const reserveEnds = this.family === 4 ? length < 31 : length < 127;
    this.#first = reserveEnds ? 1n : 0n;
    this.#last = this.family === 4 && reserveEnds ? size - 2n : size - 1n;
    for (const text of options.exclude ?? []) {
      const other = parseIpAddress(text);
      if (other.length !== this.#bytes) continue;
      const offset = toBigInt(other) - this.#base;
      if (offset >= this.#first && offset <= this.#last) this.#excluded.add(offset);
    }
    this.#next = this.#first;
  }

  /** Addresses this pool can lend. */
  get size(): bigint {
    return this.#last - this.#first + 1n - BigInt(this.#excluded.size);
  }

  /** Leases held by at least one IKE SA. */
  get online(): number {
    return this.#byIdentity.size - this.#offline.size;
  }

  /** Leases reserved for an identity that has no IKE SA now. */
  get offline(): number {
    return this.#offline.size;
  }

  /** Every lease, online or not (status output). */
  leases(): { address: string; identity: string; online: boolean }[] {
    return [...this.#byIdentity.values()].map((l) => ({
      address: l.address,
      identity: l.identity,
      online: l.owners.size > 0,
    }));
  }

  /**
   * The address for `identity`, held by `owner` (an IKE SA): its own lease if it has one, else
   * a never-used address, else the oldest offline lease of another identity. Undefined when
   * every address is online (the pool is exhausted).
   */
  acquire(identity: string, owner: object): AddressLease | undefined {
    let lease = this.#byIdentity.get(identity);
    if (!lease) {
      const offset = this.#nextUnused();
      if (offset !== undefined) {
        lease = {
          pool: this,
          address: formatIpAddress(fromBigInt(this.#base + offset, this.#bytes)),
          identity,
          offset,
          owners: new Set(),
        };
      } else {
        const oldest: Lease | undefined = this.#offline.values().next().value;
        if (!oldest) return undefined;
        this.#byIdentity.delete(oldest.identity);
        oldest.identity = identity;
        lease = oldest;
      }
      this.#byIdentity.set(identity, lease);
    }
    this.#offline.delete(lease);
    lease.owners.add(owner);
    return lease;
  }

  /**
   * `owner` no longer uses `lease`; returns true when that took it offline (no owner left).
   * The lease stays reserved for its identity until another identity needs the address.
   */
  release(lease: AddressLease, owner: object): boolean {
    const own = this.#byIdentity.get(lease.identity);
    if (own !== lease || !own.owners.delete(owner)) return false;
    if (own.owners.size > 0) return false;
    this.#offline.add(own);
    return true;
  }

  /** Hands `from`'s hold on `lease` to `to` (an IKE SA rekey). */
  transfer(lease: AddressLease, from: object, to: object): void {
    const own = this.#byIdentity.get(lease.identity);
    if (own !== lease || !own.owners.delete(from)) return;
    own.owners.add(to);
  }

  #nextUnused(): bigint | undefined {
    while (this.#next <= this.#last && this.#excluded.has(this.#next)) this.#next++;
    if (this.#next > this.#last) return undefined;
    return this.#next++;
  }
}

/**
 * The pools of every realm, kept across configuration changes: a realm whose `<pool>` is
 * unchanged keeps its leases; a changed one starts a fresh pool (leases of the old one are
 * still released into it by the SAs that hold them).
 *
 * @example
 * ```ts
 * const pools = new AddressPools();
 * const ipv4 = pools.forRealm(realm.id, realm.addressPool!).find((p) => p.family === 4);
 * ```
 */
export class AddressPools {
  readonly #realms = new Map<number, { key: string; pools: AddressPool[] }>();

  /** The pools of realm `realmId` for `policy` (one per prefix). */
  forRealm(realmId: number, policy: AddressPoolPolicy): readonly AddressPool[] {
    const key = JSON.stringify([policy.prefixes, policy.exclude]);
    const known = this.#realms.get(realmId);
    if (known?.key === key) return known.pools;
    const pools = policy.prefixes.map((p) => new AddressPool(p, { exclude: policy.exclude }));
    this.#realms.set(realmId, { key, pools });
    return pools;
  }

  /** Every realm's pools (status output). */
  entries(): IterableIterator<[number, { key: string; pools: AddressPool[] }]> {
    return this.#realms.entries();
  }
}
