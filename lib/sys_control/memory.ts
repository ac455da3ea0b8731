/** A {@link SysService} that only records what it is asked (tests, appliances without a kernel). */
import type { RouteChange, SysService } from "./service.ts";

/** One recorded change: the method name and its arguments. */
export type SysCall =
  | { op: "setMtu"; device: string; mtu: number }
  | { op: "linkUp"; device: string }
  | { op: "disableAddressGeneration"; device: string }
  | { op: "addAddress"; device: string; cidr: string }
  | { op: "delAddress"; device: string; cidr: string }
  | { op: "addRoute"; prefix: string; change: RouteChange }
  | { op: "delRoute"; prefix: string; device: string };

/**
 * Records every call in {@link calls}; `fail` makes calls reject (e.g. to play a secure
 * process that is down).
 *
 * @example
 * ```ts
 * const sys = new MemorySysService();
 * await sys.linkUp("rhp1");
 * sys.calls; // [{ op: "linkUp", device: "rhp1" }]
 * ```
 */
export class MemorySysService implements SysService {
  readonly calls: SysCall[] = [];
  /** When set, every call rejects with this error (after being recorded). */
  fail: Error | undefined;

  #record(call: SysCall): Promise<void> {
    this.calls.push(call);
    return this.fail ? Promise.reject(this.fail) : Promise.resolve();
  }

  setMtu(device: string, mtu: number): Promise<void> {
    return this.#record({ op: "setMtu", device, mtu });
  }
  linkUp(device: string): Promise<void> {
    return this.#record({ op: "linkUp", device });
  }
  disableAddressGeneration(device: string): Promise<void> {
    return this.#record({ op: "disableAddressGeneration", device });
  }
  addAddress(device: string, cidr: string): Promise<void> {
    return this.#record({ op: "addAddress", device, cidr });
  }
  delAddress(device: string, cidr: string): Promise<void> {
    return this.#record({ op: "delAddress", device, cidr });
  }
  addRoute(prefix: string, change: RouteChange): Promise<void> {
    return this.#record({ op: "addRoute", prefix, change: { ...change } });
  }
  delRoute(prefix: string, options: { device: string }): Promise<void> {
    return this.#record({ op: "delRoute", prefix, device: options.device });
  }
}
