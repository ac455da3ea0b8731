/** The in-process {@link SysService}: runs `ip` through lib/net/ip_control. */
import {
  addAddress,
  addRoute,
  delAddress,
  delRoute,
  type IpCommandOptions,
  linkUp,
  runIp,
  setMtu,
} from "../net/mod.ts";
import type { RouteChange, SysService } from "./service.ts";

const DEVICE = /^[A-Za-z0-9_.@:][A-Za-z0-9_.@:-]{0,14}$/;

/**
 * Makes every change directly with `ip` (iproute2). No policy: wrap it in a PolicedSysService
 * where the caller is not trusted.
 *
 * @example
 * ```ts
 * const sys = new IpSysService();
 * await sys.addRoute("10.2.0.0/24", { device: "rhp1", src: "10.1.0.1", replace: true });
 * ```
 */
export class IpSysService implements SysService {
  readonly #options: IpCommandOptions;

  /** `options` reach every `ip` call (a test runner, a namespace, a timeout). */
  constructor(options: IpCommandOptions = {}) {
    this.#options = options;
  }

  async setMtu(device: string, mtu: number): Promise<void> {
    await setMtu(device, mtu, this.#options);
  }

  async linkUp(device: string): Promise<void> {
    await linkUp(device, this.#options);
  }

  async disableAddressGeneration(device: string): Promise<void> {
    if (!DEVICE.test(device)) {
      throw new TypeError(
        `Cannot set addrgenmode: interface name ${JSON.stringify(device)} is invalid`,
      );
    }
    await runIp(["link", "set", "dev", device, "addrgenmode", "none"], this.#options);
  }

  async addAddress(device: string, cidr: string): Promise<void> {
    await addAddress(device, cidr, this.#options);
  }

  async delAddress(device: string, cidr: string): Promise<void> {
    await delAddress(device, cidr, this.#options);
  }

  async addRoute(prefix: string, change: RouteChange): Promise<void> {
    await addRoute(prefix, {
      ...this.#options,
      dev: change.device,
      ...(change.src === undefined ? {} : { src: change.src }),
      ...(change.replace === undefined ? {} : { replace: change.replace }),
    });
  }

  async delRoute(prefix: string, options: { device: string }): Promise<void> {
    await delRoute(prefix, { ...this.#options, dev: options.device });
  }
}
