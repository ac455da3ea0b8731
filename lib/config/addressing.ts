/**
 * The configuration-payload elements of a `<realm>` (conf/README.md, "Inner addresses"):
 * `<pool>` lends inner addresses and DNS settings to peers (we answer CFG_REQUEST), and
 * `<request_address>` asks our responder for one (we send CFG_REQUEST). A realm has at most one
 * of the two.
 */
import { isDnsDomain } from "../ike/mod.ts";
import { type ElementReader, failAtSource, sourceOf } from "./element_reader.ts";
import {
  formatIpAddress,
  formatPrefix,
  hasHostBits,
  type IpPrefix,
  networkOf,
  parseIpAddress,
  parsePrefix,
  prefixesOverlap,
} from "./ip_prefix.ts";
import type { PoolConfig, RealmConfig, RequestAddressConfig } from "./types.ts";

/** Prefix lengths a pool may have: enough addresses to matter, few enough to be a pool. */
export const POOL_PREFIX_LENGTHS = { 4: { min: 8, max: 32 }, 6: { min: 64, max: 128 } } as const;

/**
 * Reads a list attribute of network prefixes, rejecting set host bits and repeats.
 *
 * @example
 * ```ts
 * readPrefixList(element, "subnets")?.map(formatPrefix); // ["10.1.0.0/16"]
 * ```
 */
export function readPrefixList(element: ElementReader, attribute: string): IpPrefix[] | undefined {
  const items = element.list(attribute);
  if (items === undefined) return undefined;
  const seen = new Set<string>();
  return items.map((item) => {
    const prefix = parsePrefix(item);
    if (typeof prefix === "string") element.fail(`bad prefix "${item}": ${prefix}`, attribute);
    if (hasHostBits(prefix)) {
      element.fail(
        `bad prefix "${item}": host bits are set (did you mean ${
          formatPrefix(networkOf(prefix))
        }?)`,
        attribute,
      );
    }
    const text = formatPrefix(prefix);
    if (seen.has(text)) element.fail(`prefix ${text} is listed twice`, attribute);
    seen.add(text);
    return prefix;
  });
}

/**
 * Reads `<pool address dns domain subnets>`; `tunnelAddress` (our own inner address, never
 * lent) must not be the pool's only address.
 *
 * @example
 * ```ts
 * readPool(element, "10.1.0.1/24");
 * // { address: ["10.3.0.0/24"], dns: ["10.1.0.53"], domains: ["corp.example.com"], subnets: [] }
 * ```
 */
export function readPool(element: ElementReader, tunnelAddress: string): PoolConfig {
  element.allow(["address", "dns", "domain", "subnets"], []);
  if (!element.has("address")) element.fail('missing required attribute "address"');
  const prefixes = readPrefixList(element, "address")!;
  const families = new Set<number>();
  for (const prefix of prefixes) {
    const text = formatPrefix(prefix);
    if (families.has(prefix.family)) {
      element.fail(`a pool takes one IPv${prefix.family} prefix (${text} is a second)`, "address");
    }
    families.add(prefix.family);
    const { min, max } = POOL_PREFIX_LENGTHS[prefix.family];
    if (prefix.length < min || prefix.length > max) {
      element.fail(
        `pool ${text}: an IPv${prefix.family} pool needs a prefix length of ${min}-${max}`,
        "address",
      );
    }
    const own = tunnelAddress.split("/")[0];
    if (prefix.length === max && formatIpAddress(prefix) === own) {
      element.fail(
        `pool ${text} holds only this realm's own tunnel address: it has nothing to lend`,
        "address",
      );
    }
  }
  const dns = (element.list("dns") ?? []).map((text) => {
    const address = parseIpAddress(text);
    if (!address) element.fail(`"${text}" is not an IPv4 or IPv6 address`, "dns");
    return formatIpAddress(address);
  });
  const domains = (element.list("domain") ?? []).map((text) => {
    const name = text.replace(/\.$/, "").toLowerCase();
    if (!isDnsDomain(name)) {
      element.fail(`"${text}" is not a DNS domain name (labels of A-Z a-z 0-9 -)`, "domain");
    }
    return name;
  });
  const subnets = (readPrefixList(element, "subnets") ?? []).map(formatPrefix);
  return element.remember({ address: prefixes.map(formatPrefix), dns, domains, subnets });
}

/**
 * Reads `<request_address family>`.
 *
 * @example
 * ```ts
 * readRequestAddress(element); // { family: "ipv4" }
 * ```
 */
export function readRequestAddress(element: ElementReader): RequestAddressConfig {
  element.allow(["family"], []);
  return element.remember({
    family: element.choice("family", { allowed: ["ipv4", "ipv6", "both"], fallback: "ipv4" }),
  });
}

/**
 * The `<pool>` / `<request_address>` fields of a realm (absent ones left out), read from the
 * realm element; a realm with both is an error.
 *
 * @example
 * ```ts
 * const realm = { ...otherFields, ...readRealmAddressing(element, tunnel.address) };
 * ```
 */
export function readRealmAddressing(
  realm: ElementReader,
  tunnelAddress: string,
): Pick<RealmConfig, "pool" | "requestAddress"> {
  const poolElement = realm.optionalChild("pool");
  const requestElement = realm.optionalChild("request_address");
  if (poolElement && requestElement) {
    requestElement.fail(
      "a realm either lends inner addresses (<pool>) or asks for one (<request_address>), not both",
    );
  }
  const out: Pick<RealmConfig, "pool" | "requestAddress"> = {};
  if (poolElement) out.pool = readPool(poolElement, tunnelAddress);
  if (requestElement) out.requestAddress = readRequestAddress(requestElement);
  return out;
}

/**
 * Pools of different realms must not overlap each other or another realm's tunnel network:
 * a leased address is routed to its realm's device.
 *
 * @example
 * ```ts
 * checkPoolsDistinct(config.realms, "conf/rockhopper.xml"); // throws ConfigError on overlap
 * ```
 */
export function checkPoolsDistinct(realms: readonly RealmConfig[], file: string): void {
  realms.forEach((realm, i) => {
    if (!realm.pool) return;
    for (const text of realm.pool.address) {
      const mine = parsePrefix(text) as IpPrefix;
      for (const other of realms) {
        if (other === realm) continue;
        const clash = (theirs: string, what: string) => {
          if (!prefixesOverlap(mine, networkOf(parsePrefix(theirs) as IpPrefix))) return;
          failAtSource(realm.pool!, {
            file,
            problem: `pool ${text} overlaps ${what} of realm ${other.id} (line ${
              sourceOf(other)?.line ?? "?"
            })`,
            attribute: "address",
          });
        };
        clash(
          other.tunnelInterface.address,
          `the tunnel network ${
            formatPrefix(networkOf(parsePrefix(other.tunnelInterface.address) as IpPrefix))
          }`,
        );
        if (realms.indexOf(other) < i) {
          for (const theirs of other.pool?.address ?? []) clash(theirs, `pool ${theirs}`);
        }
      }
    }
  });
}
