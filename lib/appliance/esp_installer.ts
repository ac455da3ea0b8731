/**
 * Installs negotiated child SAs into a realm's ESP SA database and points kernel routes for
 * the peer's traffic selectors at the realm's TUN device; removes both again.
 */
import type { CryptoProvider } from "../crypto/mod.ts";
import {
  type ChildSaInstaller,
  type ChildSaRecord,
  type IkeSa,
  type NegotiatedChildSa,
  rangeToPrefixes,
  type TrafficSelector,
} from "../ike/mod.ts";
import { Logger } from "../log/mod.ts";
import type { Endpoint } from "../net/mod.ts";
import {
  type ChildSaEntry,
  EspSa,
  espSuiteTransforms,
  type IpPrefix,
  parsePrefix,
} from "../esp/mod.ts";
import { IpSysService, type SysService } from "../sys_control/mod.ts";
import type { PooledSaState, WorkerSaParams } from "../dispatch/mod.ts";
import type { RealmRuntime } from "./realm_runtime.ts";

interface InstalledChild {
  realm: RealmRuntime;
  entry: ChildSaEntry;
  /** The pair that replaces this one after a peer's rekey; its outbound SA waits for our removal. */
  successor?: ChildSaEntry;
  routes: string[];
}

/** An inner address the peer assigned us (CFG_REPLY) of the prefix's family: the route's source. */
function assignedSource(sa: IkeSa, prefix: string): string | undefined {
  const ipv6 = prefix.includes(":");
  return sa.addressing.assigned.find((a) => a.address.includes(":") === ipv6)?.address;
}

/**
 * Where installed SAs are mirrored when the ESP data path runs in workers (lib/dispatch's
 * DataPlanePool): each worker builds its own copy from the key material, sharing the sequence
 * number and counters with the main thread's SA.
 */
export interface EspMirror {
  createSaState(): PooledSaState;
  addInbound(realm: number, sa: WorkerSaParams, prefixes: string[]): Promise<void>;
  addOutbound(
    realm: number,
    sa: WorkerSaParams,
    prefixes: string[],
    active: boolean,
  ): Promise<void>;
  activateOutbound(spi: number): Promise<void>;
  removeInbound(spi: number): Promise<void>;
  removeOutbound(spi: number): Promise<void>;
  setPath(sa: EspSa): Promise<void>;
}

export interface EspInstallerOptions {
  crypto: CryptoProvider;
  /** The data-plane workers, when ESP runs there; default none (main thread). */
  mirror?: EspMirror;
  realms: ReadonlyMap<number, RealmRuntime>;
  /** Install kernel routes (off in tests without a kernel device). */
  manageRoutes: boolean;
  /** Where routes are added and removed; default `ip` in this process. */
  sys?: SysService;
}

export class EspInstaller implements ChildSaInstaller {
  readonly #options: EspInstallerOptions;
  readonly #sys: SysService;
  /** Our inbound SPI → the child it belongs to. */
  readonly #children = new Map<number, InstalledChild>();

  constructor(options: EspInstallerOptions) {
    this.#options = options;
    this.#sys = options.sys ?? new IpSysService();
  }

  /** The realm whose SA database holds inbound SPI `spi` (per-packet lookup). */
  realmOfSpi(spi: number): RealmRuntime | undefined {
    return this.#children.get(spi)?.realm;
  }

  get childCount(): number {
    return this.#children.size;
  }

  async install(sa: IkeSa, child: NegotiatedChildSa): Promise<void> {
    const realm = this.#options.realms.get(child.realm.id);
    if (!realm) {
      throw new RangeError(`Cannot install CHILD_SA: realm ${child.realm.id} is not running`);
    }
    const transforms = espSuiteTransforms(child.suite);
    // ESP in UDP (RFC 3948) between the NAT-T endpoints, or raw ESP to the peer's address.
    const encapsulation = child.record.udpEncapsulation
      ? { local: child.local, remote: child.remote }
      : null;
    const common = {
      encryption: transforms.encryption,
      integrity: transforms.integrity,
      encapsulation,
      peerAddress: child.remote.address,
      crypto: this.#options.crypto,
    };
    const mirror = this.#options.mirror;
    const inState = mirror?.createSaState();
    const outState = mirror?.createSaState();
    const inbound = new EspSa({
      ...common,
      spi: child.record.spiIn,
      direction: "in",
      encryptionKey: child.inbound.encryptionKey.slice(),
      integrityKey: child.inbound.integrityKey.slice(),
      replayWindow: child.realm.replayWindow,
      ...(inState ? { counters: inState.counters } : {}),
    });
    const outbound = new EspSa({
      ...common,
      spi: child.record.spiOut,
      direction: "out",
      encryptionKey: child.outbound.encryptionKey.slice(),
      integrityKey: child.outbound.integrityKey.slice(),
      ...(outState ? { sequence: outState.sequence, counters: outState.counters } : {}),
    });
    const remotePrefixes: IpPrefix[] = child.record.remoteTs.flatMap((ts) =>
      rangeToPrefixes(ts).map(parsePrefix)
    );
    const entry: ChildSaEntry = { inbound, outbound, remotePrefixes };
    const replaced = child.record.replaces && this.#children.get(child.record.replaces.spiIn);
    if (replaced) {
      // The peer rekeyed: receive on the new SA now, send on it once the old pair is gone.
      realm.sadb.addInbound(inbound, remotePrefixes);
      replaced.successor = entry;
    } else {
      realm.sadb.installChild(entry);
    }
    const installed: InstalledChild = { realm, entry, routes: [] };
    this.#children.set(inbound.spi, installed);
    if (mirror && inState && outState) {
      const prefixes = remotePrefixes.map((p) => p.text);
      const workerSa = (sa: EspSa, keys: typeof child.inbound, state: PooledSaState) => ({
        spi: sa.spi,
        direction: sa.direction,
        encryption: transforms.encryption,
        integrity: transforms.integrity,
        encryptionKey: keys.encryptionKey.slice(),
        integrityKey: keys.integrityKey.slice(),
        ...(sa.direction === "in" ? { replayWindow: child.realm.replayWindow } : {}),
        encapsulation: encapsulation
          ? { local: { ...encapsulation.local }, remote: { ...encapsulation.remote } }
          : null,
        peerAddress: child.remote.address,
        shared: state.shared,
      });
      try {
        // Inbound first (each worker applies control in the order posted).
        await Promise.all([
          mirror.addInbound(realm.policy.id, workerSa(inbound, child.inbound, inState), prefixes),
          mirror.addOutbound(
            realm.policy.id,
            workerSa(outbound, child.outbound, outState),
            prefixes,
            !replaced,
          ),
        ]);
      } catch (e) {
        sa.log.warn(`Cannot install CHILD_SA in the data-plane workers: ${(e as Error).message}`);
      }
    }
    if (this.#options.manageRoutes) {
      for (const prefix of remotePrefixes) {
        try {
          const src = assignedSource(sa, prefix.text) ?? realm.innerAddress;
          await this.#sys.addRoute(prefix.text, {
            device: realm.device.name,
            ...(src ? { src } : {}),
            replace: true,
          });
          installed.routes.push(prefix.text);
          this.#heldRoutes.get(realm)?.delete(prefix.text); // the child owns it now
        } catch (e) {
          // Still there for another child of the realm (a rekey while the secure process is
          // down): hold it too, so that removing the old child does not take it away.
          if (this.#routeHeld(realm, prefix.text)) installed.routes.push(prefix.text);
          sa.log.warn(
            `Cannot add route ${prefix.text} via ${realm.device.name}: ${(e as Error).message}`,
          );
        }
      }
    }
  }

  async remove(sa: IkeSa, record: ChildSaRecord): Promise<void> {
    const installed = this.#children.get(record.spiIn);
    if (!installed) return;
    this.#children.delete(record.spiIn);
    const { realm, entry } = installed;
    for (const other of this.#children.values()) {
      if (other.successor === entry) delete other.successor; // the new pair went first
    }
    realm.sadb.removeChild(entry);
    if (installed.successor) {
      realm.sadb.addOutbound(installed.successor.outbound, installed.successor.remotePrefixes);
    }
    const mirror = this.#options.mirror;
    if (mirror) {
      // Posted together (each worker applies them in order): the successor carries traffic
      // before the old SA goes, so that no packet finds a gap.
      const successor = installed.successor?.outbound.spi;
      try {
        await Promise.all([
          ...(successor === undefined ? [] : [mirror.activateOutbound(successor)]),
          mirror.removeOutbound(entry.outbound.spi),
          mirror.removeInbound(entry.inbound.spi),
        ]);
      } catch (e) {
        sa.log.warn(`Cannot remove CHILD_SA from the data-plane workers: ${(e as Error).message}`);
      }
    }
    entry.inbound.dispose();
    entry.outbound.dispose();
    for (const route of installed.routes) {
      // Another child of this realm may still carry the prefix (make-before-break).
      const stillUsed = [...this.#children.values()].some((c) =>
        c.realm === realm && c.routes.includes(route)
      ) || (this.#heldRoutes.get(realm)?.has(route) ?? false);
      if (stillUsed) continue;
      try {
        await this.#sys.delRoute(route, { device: realm.device.name });
      } catch (e) {
        sa.log.debug(`Cannot delete route ${route}: ${(e as Error).message}`);
      }
    }
  }

  /** True when another installed child of `realm` holds the route to `prefix`. */
  #routeHeld(realm: RealmRuntime, prefix: string): boolean {
    return [...this.#children.values()].some((c) => c.realm === realm && c.routes.includes(prefix));
  }

  /** Routes held for `dpd_action="hold"`, per realm. */
  readonly #heldRoutes = new Map<RealmRuntime, Set<string>>();
  readonly #log = new Logger("esp");

  /**
   * dpd_action="hold": keeps routes for the dead SA's remote selectors on the realm's TUN, so
   * traffic for them reaches the data path and re-initiates (IkeEngine.acquire). A child SA
   * installed later takes the routes over.
   */
  async holdRoutes(realmId: number, remoteTs: readonly TrafficSelector[]): Promise<void> {
    const realm = this.#options.realms.get(realmId);
    if (!realm || !this.#options.manageRoutes) return;
    const held = this.#heldRoutes.get(realm) ?? new Set<string>();
    this.#heldRoutes.set(realm, held);
    for (const prefix of remoteTs.flatMap((ts) => rangeToPrefixes(ts))) {
      try {
        await this.#sys.addRoute(prefix, {
          device: realm.device.name,
          ...(realm.innerAddress ? { src: realm.innerAddress } : {}),
          replace: true,
        });
        held.add(prefix);
      } catch (e) {
        this.#log.warn(
          `Cannot hold route ${prefix} via ${realm.device.name}: ${(e as Error).message}`,
        );
      }
    }
  }

  /**
   * An authenticated ESP packet for inbound SPI `spi` came in on the NAT-T socket from `from`:
   * when that is not where the child's UDP-encapsulated SAs point (a NAT mapping change, RFC
   * 3948 §2.2 / RFC 7296 §2.23), moves them, the successor's outbound SA included. Call only
   * after decapsulation succeeded. Returns the previous remote endpoint when it moved.
   */
  updateRemote(spi: number, from: Endpoint): Endpoint | undefined {
    const installed = this.#children.get(spi);
    const encapsulation = installed?.entry.inbound.encapsulation;
    if (!installed || !encapsulation) return undefined;
    const previous = encapsulation.remote;
    if (previous.address === from.address && previous.port === from.port) return undefined;
    const remote = { address: from.address, port: from.port };
    const sas = [installed.entry.inbound, installed.entry.outbound];
    if (installed.successor) sas.push(installed.successor.outbound);
    for (const sa of sas) {
      const local = sa.encapsulation?.local;
      if (local) sa.setPath({ local, remote }, remote.address);
      this.#options.mirror?.setPath(sa).catch((e) =>
        this.#log.warn(`Cannot move ESP SA in the data-plane workers: ${(e as Error).message}`)
      );
    }
    return previous;
  }

  /** ESP packets received on the child's inbound SA (liveness checks). */
  inboundPackets(record: ChildSaRecord): number {
    return this.#children.get(record.spiIn)?.entry.inbound.counters.get("packets") ?? 0;
  }

  /** Every installed child (status output). */
  entries(): IterableIterator<[number, InstalledChild]> {
    return this.#children.entries();
  }
}
