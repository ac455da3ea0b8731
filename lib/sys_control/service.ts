/**
 * The seam for system changes: every interface address, MTU, link state and route the
 * appliance sets goes through a {@link SysService}. In the running appliance it is the secure
 * process (lib/auth/secure: RemoteSysService → PolicedSysService → IpSysService), which checks
 * each change against rockhopper.xml; tests and embeddings use an in-process implementation.
 */

/** Options of {@link SysService.addRoute}. */
export interface RouteChange {
  /** The realm's tunnel device the route points at. */
  device: string;
  /** Preferred source address (`src`). */
  src?: string;
  /** Replace an existing route to the same prefix instead of failing. */
  replace?: boolean;
}

/** The system changes the appliance makes: a closed set, each with validated arguments. */
export interface SysService {
  /** Sets the MTU of `device`. */
  setMtu(device: string, mtu: number): Promise<void>;
  /** Sets `device` up. */
  linkUp(device: string): Promise<void>;
  /**
   * Stops the kernel from giving `device` an IPv6 link-local address (`addrgenmode none`): it
   * would send router solicitations into the tunnel.
   */
  disableAddressGeneration(device: string): Promise<void>;
  /** Adds `cidr` ("10.1.0.1/24") to `device`. */
  addAddress(device: string, cidr: string): Promise<void>;
  /** Removes `cidr` from `device`. */
  delAddress(device: string, cidr: string): Promise<void>;
  /** Points the route to `prefix` ("10.2.0.0/24") at `change.device`. */
  addRoute(prefix: string, change: RouteChange): Promise<void>;
  /** Removes the route to `prefix` via `options.device`. */
  delRoute(prefix: string, options: { device: string }): Promise<void>;
  /**
   * The configuration the changes are checked against was rewritten (a realm was added or
   * changed at run time): take the new one before the next change. Optional: in-process
   * implementations have nothing to reload.
   */
  reload?(): Promise<void>;
}

/** A change the policy does not allow (wrong device, a prefix outside the realm's networks). */
export class SysRefusedError extends RangeError {
  constructor(message: string) {
    super(message);
    this.name = "SysRefusedError";
  }
}
