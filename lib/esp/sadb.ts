/**
 * The ESP SA database of one data path: inbound SAs by SPI, and outbound SAs by the
 * destination of the inner packet (the remote traffic selectors as a longest-prefix table).
 *
 * Make-before-break: a prefix may be claimed by several outbound SAs at once; the newest one
 * carries traffic, and removing it falls back to the previous. So a rekey installs the new
 * child SA first and removes the old one later, with no gap in either direction. The table
 * never disposes SAs; the IKE engine owns their life.
 *
 * Traffic selectors are address ranges (RFC 7296 §3.13.1); the IKE engine turns them into
 * prefixes, e.g. `rangeToPrefixes(ts).map(parsePrefix)` with lib/ike/traffic_selectors.ts.
 */
import type { EspSa } from "./sa.ts";
import type { IpPrefix } from "./ip_prefix.ts";
import { sourceInPrefixes } from "./ip_prefix.ts";
import { PrefixTable } from "./prefix_table.ts";

/** An inbound SA and the remote traffic selectors its inner packets must come from. */
export interface InboundEntry {
  readonly sa: EspSa;
  readonly remotePrefixes: readonly IpPrefix[];
}

/** What the IKE engine installs per child SA. */
export interface ChildSaEntry {
  inbound: EspSa;
  outbound: EspSa;
  /** The peer's traffic selectors (TSr for the initiator), as prefixes. */
  remotePrefixes: readonly IpPrefix[];
}

/**
 * Inbound and outbound ESP SA lookup for the data path. Lookups allocate nothing.
 *
 * @example
 * ```ts
 * const sadb = new Sadb();
 * sadb.installChild({ inbound, outbound, remotePrefixes: [parsePrefix("10.2.0.0/24")] });
 * sadb.lookupOutbound(ipPacket); // outbound, when the destination is in 10.2.0.0/24
 * ```
 */
export class Sadb {
  readonly #inbound = new Map<number, InboundEntry>();
  /** Per prefix: outbound SAs in install order, the last one active. */
  readonly #routes = new PrefixTable<EspSa[]>();
  /** Per outbound SA: the prefixes it was installed for. */
  readonly #outbound = new Map<EspSa, readonly IpPrefix[]>();

  /** Number of inbound SAs. */
  get inboundCount(): number {
    return this.#inbound.size;
  }

  /** Number of outbound SAs. */
  get outboundCount(): number {
    return this.#outbound.size;
  }

  /**
   * Installs an inbound SA. Throws `RangeError` if the SA is not inbound or its SPI is taken
   * (the IKE engine allocates SPIs unique per data path). Returns the entry
   * {@link lookupInbound} will find (for callers that keep their own SPI index).
   */
  addInbound(sa: EspSa, remotePrefixes: readonly IpPrefix[]): InboundEntry {
    if (sa.direction !== "in") {
      throw new RangeError(`Cannot install inbound SA ${hexSpi(sa.spi)}: it is outbound`);
    }
    if (this.#inbound.has(sa.spi)) {
      throw new RangeError(`Cannot install inbound SA ${hexSpi(sa.spi)}: SPI already in use`);
    }
    const entry: InboundEntry = { sa, remotePrefixes: [...remotePrefixes] };
    this.#inbound.set(sa.spi, entry);
    return entry;
  }

  /** Removes the inbound SA with `spi`; returns it (not disposed) or undefined. */
  removeInbound(spi: number): EspSa | undefined {
    const entry = this.#inbound.get(spi);
    if (!entry) return undefined;
    this.#inbound.delete(spi);
    return entry.sa;
  }

  /**
   * Installs an outbound SA for `remotePrefixes`; it becomes the active SA for each of them.
   * Throws `RangeError` if the SA is inbound or already installed.
   */
  addOutbound(sa: EspSa, remotePrefixes: readonly IpPrefix[]): void {
    if (sa.direction !== "out") {
      throw new RangeError(`Cannot install outbound SA ${hexSpi(sa.spi)}: it is inbound`);
    }
    if (this.#outbound.has(sa)) {
      throw new RangeError(`Cannot install outbound SA ${hexSpi(sa.spi)}: already installed`);
    }
    const prefixes = [...remotePrefixes];
    this.#outbound.set(sa, prefixes);
    for (const prefix of prefixes) {
      const list = this.#routes.get(prefix);
      if (list) list.push(sa);
      else this.#routes.set(prefix, [sa]);
    }
  }

  /** Removes an outbound SA from every prefix; returns whether it was installed. */
  removeOutbound(sa: EspSa): boolean {
    const prefixes = this.#outbound.get(sa);
    if (!prefixes) return false;
    this.#outbound.delete(sa);
    for (const prefix of prefixes) {
      const list = this.#routes.get(prefix);
      if (!list) continue;
      const at = list.lastIndexOf(sa);
      if (at >= 0) list.splice(at, 1);
      if (list.length === 0) this.#routes.delete(prefix);
    }
    return true;
  }

  /** Installs both SAs of a child SA (inbound first, so replies never find a gap). */
  installChild(child: ChildSaEntry): void {
    this.addInbound(child.inbound, child.remotePrefixes);
    try {
      this.addOutbound(child.outbound, child.remotePrefixes);
    } catch (e) {
      this.removeInbound(child.inbound.spi);
      throw e;
    }
  }

  /** Removes both SAs of a child SA (outbound first). */
  removeChild(child: ChildSaEntry): void {
    this.removeOutbound(child.outbound);
    if (this.#inbound.get(child.inbound.spi)?.sa === child.inbound) {
      this.removeInbound(child.inbound.spi);
    }
  }

  /** The inbound entry for `spi`. */
  lookupInbound(spi: number): InboundEntry | undefined {
    return this.#inbound.get(spi);
  }

  /** The active outbound SA for the destination of the IPv4/IPv6 `packet`. */
  lookupOutbound(packet: Uint8Array): EspSa | undefined {
    const list = this.#routes.lookup(packet);
    return list === undefined ? undefined : list[list.length - 1];
  }

  /** The active outbound SA for a destination address in text form (control path). */
  lookupOutboundAddress(address: string): EspSa | undefined {
    const list = this.#routes.lookupAddress(address);
    return list === undefined ? undefined : list[list.length - 1];
  }

  /** True when the inner packet's source lies in the entry's remote selectors (RFC 4301 §5.2). */
  static sourceAllowed(entry: InboundEntry, packet: Uint8Array): boolean {
    return sourceInPrefixes(packet, entry.remotePrefixes);
  }

  /** All inbound entries (status output). */
  inbound(): IterableIterator<InboundEntry> {
    return this.#inbound.values();
  }

  /** All outbound SAs with their prefixes (status output). */
  outbound(): IterableIterator<[EspSa, readonly IpPrefix[]]> {
    return this.#outbound.entries();
  }
}

function hexSpi(spi: number): string {
  return `0x${spi.toString(16).padStart(8, "0")}`;
}
