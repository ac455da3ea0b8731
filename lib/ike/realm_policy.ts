/**
 * A realm as the IKE engine sees it: suites, selectors, identities and peers, resolved from
 * the validated configuration once, so the engine never re-parses text.
 */
import type { AuthConfig, RealmConfig, RockhopperConfig } from "../config/mod.ts";
import type { EspSuite, IkeSuite } from "./suites.ts";
import { espSuitesByName, ikeSuitesByName } from "./suites.ts";
import { selectorFromCidr } from "./traffic_selectors.ts";
import type { TrafficSelector } from "./payloads/types.ts";
import { formatIdentity, parseIdentity } from "./payloads/mod.ts";
import {
  exactIdRule,
  identitiesEqual,
  type MatchRule,
  parseMatchRule,
  selectRealm,
} from "../realm/mod.ts";
import type { RetransmitPolicy } from "./task_manager.ts";
import type { AddressPoolPolicy } from "./address_pool.ts";

/** The `<ike nat_t>` modes. */
export type NatTraversalMode = "auto" | "force" | "no";

export interface PeerPolicy {
  /** Identity text as configured ("fqdn:gw2.example.com"). */
  id: string;
  address: string | undefined;
  port: number;
  auto: "start" | "add";
}

/** When SAs are rekeyed, how liveness is checked, and how hard a request is retried. */
export interface LifecyclePolicy {
  /** IKE SA rekey interval in seconds, 0 = never. */
  ikeRekeySeconds: number;
  /** Child SA rekey interval in seconds, 0 = never. */
  childRekeySeconds: number;
  /** A fresh DH exchange for every child SA rekey. */
  pfs: boolean;
  /** Liveness check after this many idle seconds, 0 = off. */
  dpdSeconds: number;
  dpdAction: "clear" | "restart" | "hold";
  retransmit: RetransmitPolicy;
}

/** No rekeying, no liveness checks, the default retransmission: the lifecycle of tests. */
export const STATIC_LIFECYCLE: LifecyclePolicy = {
  ikeRekeySeconds: 0,
  childRekeySeconds: 0,
  pfs: false,
  dpdSeconds: 0,
  dpdAction: "clear",
  retransmit: { initialTimeoutMs: 1000, factor: 2, retries: 5 },
};

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
  /**
   * Who may join the realm as responder: the listed peers (exact id) and auth.xml's `<role>`
   * rules, chosen by lib/realm's precedence.
   */
  rules: MatchRule[];
  /**
   * NAT traversal as it acts (RFC 7296 §2.23, RFC 3948): `auto` sends honest NAT detection
   * hashes and encapsulates ESP in UDP 4500 only when a NAT is found (raw ESP otherwise);
   * `force` always encapsulates (our source hash never matches, so the peer sees a NAT);
   * `no` never encapsulates and refuses the child SA when a NAT is found.
   */
  natT: NatTraversalMode;
  replayWindow: number;
  /**
   * `<ike fragmentation>`: offer IKE fragmentation (RFC 7383) and fragment large protected
   * messages when the peer supports it too. Absent means yes.
   */
  fragmentation?: boolean;
  /**
   * `<ike fragment_size>`: the largest IP datagram of an IKE fragment in bytes; absent means
   * the engine's `fragmentSize`.
   */
  fragmentSize?: number;
  /** `<pool>`: inner addresses and DNS settings for peers that send a CFG_REQUEST. */
  addressPool?: AddressPoolPolicy;
  /** `<request_address>`: ask the responder for an inner address of these families. */
  requestAddress?: { ipv4: boolean; ipv6: boolean };
  /** Rekeying, liveness and retransmission settings. */
  lifecycle: LifecyclePolicy;
  /** The realm's configuration, for the parts the engine does not interpret. */
  config: RealmConfig;
}

/** Options of {@link realmPolicies}. */
export interface RealmPoliciesOptions {
  /**
   * Whether ESP can run without UDP encapsulation (the appliance opened its raw ESP socket).
   * Without it `nat_t="auto"` acts as `force` and `nat_t="no"` is refused. Default true.
   */
  rawEsp?: boolean;
}

/**
 * Resolves every enabled realm of `config` with its identity from `auth`. Throws `RangeError`
 * for a realm that cannot run, e.g. `nat_t="no"` when raw ESP is not available.
 *
 * @example
 * ```ts
 * const policies = realmPolicies(config, auth, { rawEsp: appliance.rawEspAvailable });
 * ```
 */
export function realmPolicies(
  config: RockhopperConfig,
  auth: AuthConfig,
  options: RealmPoliciesOptions = {},
): RealmPolicy[] {
  const rawEsp = options.rawEsp ?? true;
  return config.realms.filter((r) => r.enabled).map((realm) => {
    const realmAuth = auth.realms.find((a) => a.id === realm.id);
    if (!realmAuth) {
      throw new RangeError(
        `Cannot start realm ${realm.id} (${realm.name}): ${auth.file} has no <realm id="${realm.id}">`,
      );
    }
    if (realm.ike.natT === "no" && !rawEsp) {
      throw new RangeError(
        `Cannot start realm ${realm.id} (${realm.name}): nat_t="no" needs raw ESP (IP protocol 50), but the raw ESP socket is not available (it needs CAP_NET_RAW and an IPv4 listening address); use nat_t="auto" or "force"`,
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
      rules: [
        ...realm.peers.map((p) => exactIdRule(parseIdentity(p.id), p.id)),
        ...(realmAuth.roles ?? []).map((r) => parseMatchRule(r.type, r.match)),
      ],
      natT: realm.ike.natT === "auto" && !rawEsp ? "force" : realm.ike.natT,
      replayWindow: realm.esp.replayWindow,
      ...addressingPolicy(realm),
      fragmentation: realm.ike.fragmentation,
      fragmentSize: realm.ike.fragmentSize,
      lifecycle: {
        ikeRekeySeconds: realm.ike.rekey,
        childRekeySeconds: realm.esp.rekey,
        pfs: realm.esp.pfs,
        dpdSeconds: realm.ike.dpd,
        dpdAction: realm.ike.dpdAction,
        retransmit: {
          initialTimeoutMs: realm.ike.retransmitTimeout * 1000,
          factor: 2,
          retries: realm.ike.retransmitTries,
        },
      },
      config: realm,
    };
  });
}

/** The `<pool>` / `<request_address>` part of a realm policy. */
function addressingPolicy(
  realm: RealmConfig,
): Pick<RealmPolicy, "addressPool" | "requestAddress"> {
  const out: Pick<RealmPolicy, "addressPool" | "requestAddress"> = {};
  if (realm.pool) {
    out.addressPool = {
      prefixes: realm.pool.address,
      exclude: [realm.tunnelInterface.address.split("/")[0]!],
      dns: realm.pool.dns,
      domains: realm.pool.domains,
      subnets: realm.pool.subnets,
    };
  }
  if (realm.requestAddress) {
    const family = realm.requestAddress.family;
    out.requestAddress = { ipv4: family !== "ipv6", ipv6: family !== "ipv4" };
  }
  return out;
}

/**
 * The realm a responder puts a peer with identity `id` in: an exact `<peer>` listing first,
 * then the most specific `<role>` (lib/realm/README.md); undefined when none admits it.
 * Throws DerDecodeError for an ID_DER_ASN1_DN identity that is not valid DER.
 */
export function realmForPeer(
  realms: readonly RealmPolicy[],
  id: { idType: number; data: Uint8Array },
  idr?: { idType: number; data: Uint8Array },
): RealmPolicy | undefined {
  // An EAP client usually proves the value of its IDi as EAP identity (strongSwan's default
  // eap_id): `eap` roles see that value; after EAP the proven identity is checked again.
  const text = formatIdentity(id.idType, id.data);
  const peer = { identity: id, eapIdentity: text.slice(text.indexOf(":") + 1) };
  // The initiator may ask for one of our identities (IDr, RFC 7296 §3.5): when a realm uses
  // it, choose among those realms only; otherwise the answer carries an identity of our own.
  if (idr) {
    const withIdentity = realms.filter((r) => {
      try {
        return identitiesEqual(parseIdentity(r.localId), idr);
      } catch {
        return false;
      }
    });
    if (withIdentity.length > 0) return selectRealm(withIdentity, peer)?.realm;
  }
  return selectRealm(realms, peer)?.realm;
}
