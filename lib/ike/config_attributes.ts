/**
 * What configuration attributes mean (RFC 7296 §2.19, §3.15.1; RFC 8598): the values of a
 * CFG_REPLY as text (addresses, DNS servers, subnets, DNS domains), what a CFG_REQUEST asks
 * for, and the attribute lists both sides send. The byte codec is payloads/cp.ts.
 */
import { formatIpAddress, parseIpAddress } from "../wire/mod.ts";
import { ConfigAttributeType } from "./constants.ts";
import type { ConfigAttribute } from "./payloads/types.ts";

const A = ConfigAttributeType;
const EMPTY = new Uint8Array(0);
const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

/** An inner address and its prefix length ("10.3.0.1" and 32, "fd00:3::5" and 128). */
export interface InternalAddress {
  address: string;
  prefixLength: number;
}

/** The values a CFG_REPLY carries, as text. */
export interface ConfigValues {
  /** INTERNAL_IP4_ADDRESS (with INTERNAL_IP4_NETMASK, else /32) and INTERNAL_IP6_ADDRESS. */
  addresses: InternalAddress[];
  /** INTERNAL_IP4_DNS and INTERNAL_IP6_DNS, in order. */
  dns: string[];
  /** INTERNAL_IP4_SUBNET and INTERNAL_IP6_SUBNET as "10.1.0.0/24". */
  subnets: string[];
  /** INTERNAL_DNS_DOMAIN (RFC 8598), in lower case. */
  domains: string[];
}

/** What a CFG_REQUEST asks for. */
export interface ConfigWishes {
  ipv4: boolean;
  ipv6: boolean;
  /** INTERNAL_IP4_NETMASK was asked for (some clients need it with the address). */
  netmask: boolean;
  /** INTERNAL_DNS_DOMAIN was asked for: the initiator understands split DNS (RFC 8598 §4). */
  domains: boolean;
}

/** RFC 1035 host name labels; an A-label (RFC 5890) is plain LDH text as well. */
const DOMAIN =
  /^(?=.{1,253}$)(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;

/**
 * True when `name` is a DNS domain INTERNAL_DNS_DOMAIN can carry ("corp.example.com").
 *
 * @example
 * ```ts
 * isDnsDomain("corp.example.com"); // true
 * isDnsDomain("bad_name."); // false
 * ```
 */
export function isDnsDomain(name: string): boolean {
  return DOMAIN.test(name);
}

function prefixLengthOfMask(mask: Uint8Array): number | undefined {
  let bits = 0;
  let ended = false;
  for (const byte of mask) {
    for (let bit = 7; bit >= 0; bit--) {
      const set = (byte >> bit) & 1;
      if (set && ended) return undefined;
      if (set) bits++;
      else ended = true;
    }
  }
  return bits;
}

function maskOf(prefixLength: number): Uint8Array {
  const mask = new Uint8Array(4);
  for (let bit = 0; bit < prefixLength; bit++) mask[bit >> 3]! |= 0x80 >> (bit & 7);
  return mask;
}

/** "a.b.c.d/len" or "v6/len" → address bytes and prefix length (caller validated the text). */
function splitPrefix(text: string): { bytes: Uint8Array; prefixLength: number } {
  const [address, length] = text.split("/");
  const bytes = parseIpAddress(address!);
  return { bytes, prefixLength: length === undefined ? bytes.length * 8 : Number(length) };
}

/**
 * Reads the values out of a CFG_REPLY's attributes. Attributes without a value, of unknown
 * type, or (for INTERNAL_DNS_DOMAIN) with text that is not a domain name are skipped.
 *
 * @example
 * ```ts
 * const values = readConfigValues(cp.attributes);
 * values.addresses[0]; // { address: "10.4.0.1", prefixLength: 32 }
 * ```
 */
export function readConfigValues(attributes: readonly ConfigAttribute[]): ConfigValues {
  const values: ConfigValues = { addresses: [], dns: [], subnets: [], domains: [] };
  const netmask = attributes.find((a) => a.type === A.InternalIp4Netmask && a.value.length === 4);
  const ip4Length = netmask ? prefixLengthOfMask(netmask.value) ?? 32 : 32;
  for (const { type, value } of attributes) {
    if (value.length === 0) continue;
    switch (type) {
      case A.InternalIp4Address:
        values.addresses.push({ address: formatIpAddress(value), prefixLength: ip4Length });
        break;
      case A.InternalIp6Address:
        values.addresses.push({
          address: formatIpAddress(value.subarray(0, 16)),
          prefixLength: Math.min(value[16]!, 128),
        });
        break;
      case A.InternalIp4Dns:
      case A.InternalIp6Dns:
        values.dns.push(formatIpAddress(value));
        break;
      case A.InternalIp4Subnet: {
        const length = prefixLengthOfMask(value.subarray(4, 8));
        if (length !== undefined) {
          values.subnets.push(`${formatIpAddress(value.subarray(0, 4))}/${length}`);
        }
        break;
      }
      case A.InternalIp6Subnet:
        values.subnets.push(
          `${formatIpAddress(value.subarray(0, 16))}/${Math.min(value[16]!, 128)}`,
        );
        break;
      case A.InternalDnsDomain: {
        let name: string;
        try {
          name = decoder.decode(value).replace(/\.$/, "");
        } catch {
          break;
        }
        if (isDnsDomain(name)) values.domains.push(name.toLowerCase());
        break;
      }
    }
  }
  return values;
}

/**
 * What a CFG_REQUEST asks for: an address of each family (an INTERNAL_IP4/6_ADDRESS attribute,
 * empty or with a preferred address), a netmask, DNS domains.
 *
 * @example
 * ```ts
 * readConfigWishes(cp.attributes); // { ipv4: true, ipv6: false, netmask: false, domains: true }
 * ```
 */
export function readConfigWishes(attributes: readonly ConfigAttribute[]): ConfigWishes {
  const has = (type: number) => attributes.some((a) => a.type === type);
  return {
    ipv4: has(A.InternalIp4Address),
    ipv6: has(A.InternalIp6Address),
    netmask: has(A.InternalIp4Netmask),
    domains: has(A.InternalDnsDomain),
  };
}

/**
 * The attributes of our CFG_REQUEST: an empty INTERNAL_IP4/6_ADDRESS and DNS server attribute
 * per wanted family, and an empty INTERNAL_DNS_DOMAIN.
 *
 * @example
 * ```ts
 * message.add({
 *   type: PayloadType.Configuration,
 *   cfgType: ConfigType.CfgRequest,
 *   attributes: configRequestAttributes({ ipv4: true, ipv6: false }),
 * });
 * ```
 */
export function configRequestAttributes(
  families: { ipv4: boolean; ipv6: boolean },
): ConfigAttribute[] {
  const out: ConfigAttribute[] = [];
  if (families.ipv4) {
    out.push({ type: A.InternalIp4Address, value: EMPTY });
    out.push({ type: A.InternalIp4Dns, value: EMPTY });
  }
  if (families.ipv6) {
    out.push({ type: A.InternalIp6Address, value: EMPTY });
    out.push({ type: A.InternalIp6Dns, value: EMPTY });
  }
  out.push({ type: A.InternalDnsDomain, value: EMPTY });
  return out;
}

/**
 * The attributes of a CFG_REPLY carrying `values`. An IPv4 address is followed by
 * INTERNAL_IP4_NETMASK (of its prefix length) only when `options.netmask`; domains are sent
 * only when `options.domains` (RFC 8598: only to an initiator that asked). Addresses and
 * prefixes must be valid text (the configuration loader checked them).
 *
 * @example
 * ```ts
 * configReplyAttributes(
 *   { addresses: [{ address: "10.3.0.1", prefixLength: 24 }], dns: ["10.1.0.53"], subnets: [], domains: [] },
 *   { netmask: false, domains: false },
 * );
 * ```
 */
export function configReplyAttributes(
  values: ConfigValues,
  options: { netmask: boolean; domains: boolean },
): ConfigAttribute[] {
  const out: ConfigAttribute[] = [];
  for (const { address, prefixLength } of values.addresses) {
    const bytes = parseIpAddress(address);
    if (bytes.length === 4) {
      out.push({ type: A.InternalIp4Address, value: bytes });
      if (options.netmask) out.push({ type: A.InternalIp4Netmask, value: maskOf(prefixLength) });
    } else {
      const value = new Uint8Array(17);
      value.set(bytes);
      value[16] = prefixLength;
      out.push({ type: A.InternalIp6Address, value });
    }
  }
  for (const server of values.dns) {
    const bytes = parseIpAddress(server);
    out.push({ type: bytes.length === 4 ? A.InternalIp4Dns : A.InternalIp6Dns, value: bytes });
  }
  for (const subnet of values.subnets) {
    const { bytes, prefixLength } = splitPrefix(subnet);
    const value = new Uint8Array(bytes.length === 4 ? 8 : 17);
    value.set(bytes);
    if (bytes.length === 4) value.set(maskOf(prefixLength), 4);
    else value[16] = prefixLength;
    out.push({
      type: bytes.length === 4 ? A.InternalIp4Subnet : A.InternalIp6Subnet,
      value,
    });
  }
  if (options.domains) {
    for (const domain of values.domains) {
      out.push({ type: A.InternalDnsDomain, value: encoder.encode(domain) });
    }
  }
  return out;
}
