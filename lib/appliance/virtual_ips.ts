/**
 * Inner addresses a responder assigned us (CFG_REPLY, RFC 7296 §2.19) on the realm's TUN: added
 * when the IKE SA gets them, removed when the last IKE SA holding them goes. Two SAs may hold
 * one address for a moment (a reconnect that overlaps the old SA), hence the counts.
 */
import type { IkeSa, InternalAddress, VirtualIpInstaller } from "../ike/mod.ts";
import { Logger } from "../log/mod.ts";
import { IpCommandError } from "../net/mod.ts";
import { IpSysService, type SysService } from "../sys_control/mod.ts";
import type { RealmRuntime } from "./realm_runtime.ts";

/** Options of {@link VirtualIpManager}. */
export interface VirtualIpManagerOptions {
  realms: ReadonlyMap<number, RealmRuntime>;
  /** Change kernel addresses (off in tests without a kernel device). */
  manageAddresses: boolean;
  /** Where addresses are added and removed; default `ip` in this process. */
  sys?: SysService;
}

/**
 * Puts assigned addresses on realm devices through lib/net/ip_control.
 *
 * @example
 * ```ts
 * const engine = new IkeEngine({ ..., virtualIps: new VirtualIpManager({ realms, manageAddresses: true }) });
 * ```
 */
export class VirtualIpManager implements VirtualIpInstaller {
  readonly log: Logger = new Logger("net");
  readonly #options: VirtualIpManagerOptions;
  readonly #sys: SysService;
  /** "device address/len" → IKE SAs holding it. */
  readonly #held = new Map<string, number>();

  constructor(options: VirtualIpManagerOptions) {
    this.#options = options;
    this.#sys = options.sys ?? new IpSysService();
  }

  /** Addresses currently installed, as "device address/len" (status output, tests). */
  get installed(): string[] {
    return [...this.#held.keys()];
  }

  async install(sa: IkeSa, addresses: readonly InternalAddress[]): Promise<void> {
    const device = this.#deviceOf(sa);
    if (device === undefined) {
      throw new RangeError(`Cannot install virtual IP: realm ${sa.realm?.id} is not running`);
    }
    for (const { address, prefixLength } of addresses) {
      const cidr = `${address}/${prefixLength}`;
      const key = `${device} ${cidr}`;
      const count = this.#held.get(key) ?? 0;
      if (count === 0 && this.#options.manageAddresses) {
        try {
          await this.#sys.addAddress(device, cidr);
        } catch (e) {
          // Left over from a crash, or added by hand: it is there, which is what we need.
          if (!(e instanceof IpCommandError && /File exists/.test(e.stderr))) throw e;
        }
        this.log.info(`added virtual IP ${cidr} to ${device} (assigned by ${sa.remoteId})`);
      }
      this.#held.set(key, count + 1);
    }
  }

  async remove(sa: IkeSa, addresses: readonly InternalAddress[]): Promise<void> {
    // A closed realm took its device, and the addresses with it.
    const device = this.#deviceOf(sa) ?? sa.realm?.config?.tunnelInterface?.name;
    for (const { address, prefixLength } of addresses) {
      const cidr = `${address}/${prefixLength}`;
      const key = `${device} ${cidr}`;
      const count = this.#held.get(key) ?? 0;
      if (count > 1) {
        this.#held.set(key, count - 1);
        continue;
      }
      this.#held.delete(key);
      if (count === 0 || !this.#options.manageAddresses || !this.#deviceOf(sa)) continue;
      try {
        await this.#sys.delAddress(device!, cidr);
        this.log.info(`removed virtual IP ${cidr} from ${device}`);
      } catch (e) {
        // The device may be gone already (realm closed, shutdown).
        this.log.debug(`Cannot remove virtual IP ${cidr} from ${device}: ${(e as Error).message}`);
      }
    }
  }

  #deviceOf(sa: IkeSa): string | undefined {
    return sa.realm ? this.#options.realms.get(sa.realm.id)?.device.name : undefined;
  }
}
