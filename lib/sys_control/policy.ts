/**
 * Which system changes a realm may cause, derived from rockhopper.xml, and a
 * {@link SysService} wrapper that refuses everything else. The secure process puts it in front
 * of `ip`, so a compromised main process can only touch its own tunnel devices, the inner
 * addresses the configuration names and routes inside the realm's networks.
 *
 * Per enabled realm:
 * - device: only `<tunnel_interface name>`; MTU 68-65535; link up; addrgenmode none.
 * - addresses: `<tunnel_interface address>`; with `<request_address>` also an assigned
 *   (virtual) unicast address of a requested family.
 * - routes: prefixes inside `<traffic remote>`, the tunnel network or `<pool address>`;
 *   `src` is our tunnel address or, with `<request_address>`, an assigned address.
 */
import {
  formatPrefix,
  type IpPrefix,
  parsePrefix,
  type RealmConfig,
  type RockhopperConfig,
} from "../config/mod.ts";
import { type RouteChange, SysRefusedError, type SysService } from "./service.ts";

/** What one realm may change. */
export interface RealmSysPolicy {
  realmId: number;
  realmName: string;
  device: string;
  /** `<tunnel_interface address>`, e.g. 10.1.0.1/24. */
  tunnelAddress: IpPrefix;
  /** Route destinations must lie inside one of these. */
  routePrefixes: IpPrefix[];
  /** Families in which the realm may put an assigned (virtual) address on its device. */
  virtualAddresses: { ipv4: boolean; ipv6: boolean };
}

function prefixOrThrow(text: string, what: string): IpPrefix {
  const prefix = parsePrefix(text);
  if (typeof prefix === "string") throw new RangeError(`Cannot use ${what} ${text}: ${prefix}`);
  return prefix;
}

/** True when `inner` lies inside `outer` (same family, at least as long, same leading bits). */
export function prefixContains(outer: IpPrefix, inner: IpPrefix): boolean {
  if (outer.family !== inner.family || inner.length < outer.length) return false;
  const full = Math.floor(outer.length / 8);
  for (let i = 0; i < full; i++) if (outer.bytes[i] !== inner.bytes[i]) return false;
  const rest = outer.length % 8;
  if (rest === 0) return true;
  const mask = (0xff << (8 - rest)) & 0xff;
  return (outer.bytes[full]! & mask) === (inner.bytes[full]! & mask);
}

/** Unspecified, loopback, multicast, broadcast and IPv6 link-local addresses are not unicast. */
function isUnicast(address: IpPrefix): boolean {
  const b = address.bytes;
  if (address.family === 4) {
    return b[0] !== 0 && b[0] !== 127 && b[0]! < 224;
  }
  if (b.every((x) => x === 0)) return false; // ::
  if (b.slice(0, 15).every((x) => x === 0) && b[15] === 1) return false; // ::1
  if (b[0] === 0xff) return false; // multicast
  if (b[0] === 0xfe && (b[1]! & 0xc0) === 0x80) return false; // fe80::/10
  return true;
}

function sameAddress(a: IpPrefix, b: IpPrefix): boolean {
  return a.family === b.family && a.bytes.every((x, i) => x === b.bytes[i]);
}

function realmPolicy(realm: RealmConfig): RealmSysPolicy {
  const tunnel = realm.tunnelInterface;
  const tunnelAddress = prefixOrThrow(tunnel.address, `realm ${realm.id} tunnel address`);
  const networks = [
    { ...tunnelAddress },
    ...realm.traffic.remote.map((t) => prefixOrThrow(t, `realm ${realm.id} traffic remote`)),
    ...(realm.pool?.address ?? []).map((p) => prefixOrThrow(p, `realm ${realm.id} pool`)),
  ];
  const family = realm.requestAddress?.family;
  return {
    realmId: realm.id,
    realmName: realm.name,
    device: tunnel.name,
    tunnelAddress,
    routePrefixes: networks,
    virtualAddresses: {
      ipv4: family === "ipv4" || family === "both",
      ipv6: family === "ipv6" || family === "both",
    },
  };
}

/**
 * The allowed changes of every enabled realm.
 *
 * @example
 * ```ts
 * const policy = SysPolicy.fromConfig(await loadConfig("conf/rockhopper.xml"));
 * policy.checkRoute("10.2.0.0/24", { device: "rhp1" }); // throws SysRefusedError when outside
 * ```
 */
export class SysPolicy {
  readonly realms: readonly RealmSysPolicy[];

  constructor(realms: readonly RealmSysPolicy[]) {
    this.realms = realms;
  }

  /** The policy of `config`'s enabled realms. */
  static fromConfig(config: RockhopperConfig): SysPolicy {
    return new SysPolicy(config.realms.filter((r) => r.enabled).map(realmPolicy));
  }

  /** The realm whose tunnel device is `device`; throws {@link SysRefusedError} otherwise. */
  realmOfDevice(action: string, device: string): RealmSysPolicy {
    const realm = this.realms.find((r) => r.device === device);
    if (!realm) {
      const known = this.realms.map((r) => r.device).join(", ") || "none";
      throw new SysRefusedError(
        `Cannot ${action}: ${
          JSON.stringify(device)
        } is not the tunnel device of a realm (${known})`,
      );
    }
    return realm;
  }

  /** Checks an MTU change. */
  checkMtu(device: string, mtu: number): void {
    this.realmOfDevice(`set the MTU of ${device}`, device);
    if (!Number.isInteger(mtu) || mtu < 68 || mtu > 65535) {
      throw new SysRefusedError(`Cannot set the MTU of ${device} to ${mtu}: not within 68-65535`);
    }
  }

  /** Checks an address change on `device`. */
  checkAddress(action: "add" | "delete", device: string, cidr: string): void {
    const what = `${action} address ${cidr} ${action === "add" ? "to" : "from"} ${device}`;
    const realm = this.realmOfDevice(what, device);
    const prefix = parsePrefix(cidr);
    if (typeof prefix === "string") throw new SysRefusedError(`Cannot ${what}: ${prefix}`);
    const tunnel = realm.tunnelAddress;
    if (sameAddress(prefix, tunnel) && prefix.length === tunnel.length) return;
    const allowed = prefix.family === 4 ? realm.virtualAddresses.ipv4 : realm.virtualAddresses.ipv6;
    if (!allowed) {
      throw new SysRefusedError(
        `Cannot ${what}: realm ${realm.realmId} (${realm.realmName}) has only ${
          formatPrefix(tunnel)
        } (no <request_address> for IPv${prefix.family})`,
      );
    }
    if (!isUnicast(prefix)) {
      throw new SysRefusedError(`Cannot ${what}: not a unicast address`);
    }
  }

  /** Checks a route change: the device's realm must cover the prefix (and the source). */
  checkRoute(action: "add" | "delete", prefixText: string, change: RouteChange): void {
    const what = `${action} route ${prefixText} via ${change.device}`;
    const realm = this.realmOfDevice(what, change.device);
    const prefix = parsePrefix(prefixText);
    if (typeof prefix === "string") throw new SysRefusedError(`Cannot ${what}: ${prefix}`);
    if (!realm.routePrefixes.some((outer) => prefixContains(outer, prefix))) {
      throw new SysRefusedError(
        `Cannot ${what}: outside the networks of realm ${realm.realmId} (${realm.realmName}): ${
          realm.routePrefixes.map(formatPrefix).join(" ")
        }`,
      );
    }
    if (change.src === undefined) return;
    const src = parsePrefix(change.src);
    if (typeof src === "string" || src.length !== (src.family === 4 ? 32 : 128)) {
      throw new SysRefusedError(`Cannot ${what}: source ${change.src} is not an address`);
    }
    if (sameAddress(src, realm.tunnelAddress)) return;
    const virtual = src.family === 4 ? realm.virtualAddresses.ipv4 : realm.virtualAddresses.ipv6;
    if (!virtual || !isUnicast(src)) {
      throw new SysRefusedError(
        `Cannot ${what}: source ${change.src} is neither the realm's tunnel address nor an assigned one`,
      );
    }
  }
}

/**
 * A {@link SysService} that checks every change against a {@link SysPolicy} before passing it
 * to `inner`; refused changes reject with {@link SysRefusedError}.
 *
 * @example
 * ```ts
 * const sys = new PolicedSysService(new IpSysService(), SysPolicy.fromConfig(config));
 * await sys.addRoute("0.0.0.0/0", { device: "eth0" }); // SysRefusedError: not a tunnel device
 * ```
 */
export class PolicedSysService implements SysService {
  readonly #inner: SysService;
  #policy: SysPolicy;

  constructor(inner: SysService, policy: SysPolicy) {
    this.#inner = inner;
    this.#policy = policy;
  }

  get policy(): SysPolicy {
    return this.#policy;
  }

  /** Replaces the policy (a new configuration). */
  setPolicy(policy: SysPolicy): void {
    this.#policy = policy;
  }

  async setMtu(device: string, mtu: number): Promise<void> {
    this.#policy.checkMtu(device, mtu);
    await this.#inner.setMtu(device, mtu);
  }

  async linkUp(device: string): Promise<void> {
    this.#policy.realmOfDevice(`set ${device} up`, device);
    await this.#inner.linkUp(device);
  }

  async disableAddressGeneration(device: string): Promise<void> {
    this.#policy.realmOfDevice(`set addrgenmode of ${device}`, device);
    await this.#inner.disableAddressGeneration(device);
  }

  async addAddress(device: string, cidr: string): Promise<void> {
    this.#policy.checkAddress("add", device, cidr);
    await this.#inner.addAddress(device, cidr);
  }

  async delAddress(device: string, cidr: string): Promise<void> {
    this.#policy.checkAddress("delete", device, cidr);
    await this.#inner.delAddress(device, cidr);
  }

  async addRoute(prefix: string, change: RouteChange): Promise<void> {
    this.#policy.checkRoute("add", prefix, change);
    await this.#inner.addRoute(prefix, change);
  }

  async delRoute(prefix: string, options: { device: string }): Promise<void> {
    this.#policy.checkRoute("delete", prefix, options);
    await this.#inner.delRoute(prefix, options);
  }
}
