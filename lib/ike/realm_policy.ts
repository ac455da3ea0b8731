/**
 * A realm as the IKE engine sees it: suites, selectors, identities and peers, resolved from
 * the validated configuration once, so the engine never re-parses text.
 */
import type { AuthConfig, RealmConfig, RockhopperConfig } from "../config/mod.ts";
import type { EspSuite, IkeSuite } from "./suites.ts";
import { espSuitesByName, ikeSuitesByName } from "./suites.ts";
import { selectorFromCidr } from "./traffic_selectors.ts";
import type { TrafficSelector } from "./payloads/types.ts";

export interface PeerPolicy {
  /** Identity text as configured ("fqdn:gw2.example.com"). */
  id: string;
  address: string | undefined;
  port: number;
  auto: "start" | "add";
}

export interface RealmPolicy {
  id: number;
  name: string;
  ikeSuites: IkeSuite[];
  espSuites: EspSuite[];
  localTs: TrafficSelector[];
  remoteTs: TrafficSelector[];
  /** Our identity in this realm (text form). */
  localId: string;
  peers: PeerPolicy[];
  /** Always encapsulate ESP in UDP (fake NAT-D when no NAT is present). */
  forceEncapsulation: boolean;
  replayWindow: number;
  /** The realm's configuration, for the parts the engine does not interpret. */
  config: RealmConfig;
}

/** Resolves every enabled realm of `config` with its identity from `auth`. */
export function realmPolicies(config: RockhopperConfig, auth: AuthConfig): RealmPolicy[] {
  return config.realms.filter((r) => r.enabled).map((realm) => {
    const realmAuth = auth.realms.find((a) => a.id === realm.id);
    if (!realmAuth) {
      throw new RangeError(
        `Cannot start realm ${realm.id} (${realm.name}): ${auth.file} has no <realm id="${realm.id}">`,
      );
    }
    if (realm.ike.natT === "no") {
      throw new RangeError(
        `Cannot start realm ${realm.id} (${realm.name}): nat_t="no" needs raw ESP, which this release does not implement yet`,
      );
    }
    return {
      id: realm.id,
      name: realm.name,
      ikeSuites: ikeSuitesByName(realm.ike.suites),
      espSuites: espSuitesByName(realm.esp.suites),
      localTs: realm.traffic.local.map(selectorFromCidr),
      remoteTs: realm.traffic.remote.map(selectorFromCidr),
      localId: realmAuth.myAuth.id,
      peers: realm.peers.map((p) => ({ id: p.id, address: p.address, port: p.port, auto: p.auto })),
      // Raw ESP (IP protocol 50) is not implemented yet, so "auto" also encapsulates.
      forceEncapsulation: true,
      replayWindow: realm.esp.replayWindow,
      config: realm,
    };
  });
}

/** The realm that lists `peerId` as a peer (case-insensitive), if any. */
export function realmForPeer(
  realms: readonly RealmPolicy[],
  peerId: string,
): RealmPolicy | undefined {
  const wanted = peerId.toLowerCase();
  return realms.find((r) => r.peers.some((p) => p.id.toLowerCase() === wanted));
}
