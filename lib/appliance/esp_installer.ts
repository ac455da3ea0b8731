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
} from "../ike/mod.ts";
import {
  type ChildSaEntry,
  EspSa,
  espSuiteTransforms,
  type IpPrefix,
  parsePrefix,
} from "../esp/mod.ts";
import { addRoute, delRoute } from "../net/mod.ts";
import type { RealmRuntime } from "./realm_runtime.ts";

interface InstalledChild {
  realm: RealmRuntime;
  entry: ChildSaEntry;
  routes: string[];
}

export interface EspInstallerOptions {
  crypto: CryptoProvider;
  realms: ReadonlyMap<number, RealmRuntime>;
  /** Install kernel routes (off in tests without a kernel device). */
  manageRoutes: boolean;
}

export class EspInstaller implements ChildSaInstaller {
  readonly #options: EspInstallerOptions;
  /** Our inbound SPI → the child it belongs to. */
  readonly #children = new Map<number, InstalledChild>();

  constructor(options: EspInstallerOptions) {
    this.#options = options;
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
    const inbound = new EspSa({
      ...common,
      spi: child.record.spiIn,
      direction: "in",
      encryptionKey: child.inbound.encryptionKey.slice(),
      integrityKey: child.inbound.integrityKey.slice(),
      replayWindow: child.realm.replayWindow,
    });
    const outbound = new EspSa({
      ...common,
      spi: child.record.spiOut,
      direction: "out",
      encryptionKey: child.outbound.encryptionKey.slice(),
      integrityKey: child.outbound.integrityKey.slice(),
    });
    const remotePrefixes: IpPrefix[] = child.record.remoteTs.flatMap((ts) =>
      rangeToPrefixes(ts).map(parsePrefix)
    );
    const entry: ChildSaEntry = { inbound, outbound, remotePrefixes };
    realm.sadb.installChild(entry);
    const installed: InstalledChild = { realm, entry, routes: [] };
    this.#children.set(inbound.spi, installed);
    if (this.#options.manageRoutes) {
      for (const prefix of remotePrefixes) {
        try {
          await addRoute(prefix.text, {
            dev: realm.device.name,
            ...(realm.innerAddress ? { src: realm.innerAddress } : {}),
            replace: true,
          });
          installed.routes.push(prefix.text);
        } catch (e) {
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
    realm.sadb.removeChild(entry);
    entry.inbound.dispose();
    entry.outbound.dispose();
    for (const route of installed.routes) {
      // Another child of this realm may still carry the prefix (make-before-break).
      const stillUsed = [...this.#children.values()].some((c) =>
        c.realm === realm && c.routes.includes(route)
      );
      if (stillUsed) continue;
      try {
        await delRoute(route, { dev: realm.device.name });
      } catch (e) {
        sa.log.debug(`Cannot delete route ${route}: ${(e as Error).message}`);
      }
    }
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
