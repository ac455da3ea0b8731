/**
 * The control facade: everything the management server (lib/web) and the command-line client
 * may do to a running appliance, in plain values — status snapshots with ESP counters, connect
 * and close, statistics, realm configuration changes (validated by the file loader, written
 * atomically, applied to one realm only) — plus a stream of {@link ControlEvent}s. Every
 * operation takes the caller's {@link AdminScope}: a realm-scoped admin sees and changes only
 * that realm.
 *
 * Configuration changes:
 *   1. read the file the appliance was started with, splice the one `<realm>` change into its
 *      text (lib/config/realm_edit.ts)
 *   2. validate the whole text with the loader and cross-check it with auth.xml (the same
 *      ConfigError text `--check` would print)
 *   3. write it atomically, the old version kept as `<file>.prev`
 *   4. apply: delete that realm's SAs, close its TUN, hand the engine the new policy, reopen
 *      the TUN; other realms and their SAs are not touched
 */
import {
  type AuthConfig,
  checkAuthAgainstConfig,
  ConfigError,
  insertRealm,
  loadAuthConfig,
  locateRealms,
  parseConfig,
  PREVIOUS_SUFFIX,
  readConfigFile,
  type RealmConfig,
  type RealmDocument,
  type RealmEdit,
  removeRealm,
  replaceRealm,
  type RockhopperConfig,
  saveConfigText,
  setRealmAttribute,
  type XmlElement,
} from "../config/mod.ts";
import {
  formatSelector,
  type IkeEngine,
  type IkeSa,
  IkeSaState,
  realmPolicies,
  type RealmPolicy,
} from "../ike/mod.ts";
import { Logger } from "../log/mod.ts";
import type { Endpoint } from "../net/mod.ts";
import { toHex } from "../wire/mod.ts";
import type { RealmRuntime } from "./realm_runtime.ts";

/** Who is asking: "any" (every realm and the global settings) or one realm id. */
export type AdminScope = "any" | number;

/** Machine-readable reasons a control operation is refused. */
export const ControlErrorCode = {
  BadRequest: "bad_request",
  Forbidden: "forbidden",
  NoSuchRealm: "no_such_realm",
  NoSuchPeer: "no_such_peer",
  NoSuchVpn: "no_such_vpn",
  AlreadyConnected: "already_connected",
  ConnectFailed: "connect_failed",
  ConfigInvalid: "config_invalid",
  CannotApply: "cannot_apply",
} as const;
export type ControlErrorCodeName = typeof ControlErrorCode[keyof typeof ControlErrorCode];

/** A control operation was refused or failed; `code` says why. */
export class ControlError extends Error {
  readonly code: ControlErrorCodeName;
  constructor(code: ControlErrorCodeName, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ControlError";
    this.code = code;
  }
}

/**
 * A realm change does not validate. `config` is the loader's error (its message is what
 * `--check` would print for the file with this change); `path` names the element of the
 * submitted realm the error points at (`realm/ike`, `realm/peer[2]`), when it does.
 */
export class RealmConfigError extends ControlError {
  readonly config: ConfigError | undefined;
  readonly path: string | undefined;
  constructor(message: string, options: { config?: ConfigError; path?: string } = {}) {
    super(ControlErrorCode.ConfigInvalid, message, { cause: options.config });
    this.name = "RealmConfigError";
    this.config = options.config;
    this.path = options.path;
  }
}

/** One child SA with its ESP counters (inner bytes, from the SADB's EspSa counters). */
export interface ChildSaStatus {
  spiIn: number;
  spiOut: number;
  espSuite: string;
  localTs: string[];
  remoteTs: string[];
  udpEncapsulation: boolean;
  createdAt: number;
  /** Configured rekey interval in seconds (0 = off). */
  rekeyInterval: number;
  rxBytes: number;
  rxPackets: number;
  txBytes: number;
  txPackets: number;
  /** Inbound packets dropped on this SA (replay, ICV, padding, ...). */
  rxDropped: number;
  /** Outbound packets dropped on this SA (too big, sequence exhausted, no room). */
  txDropped: number;
}

/** One IKE SA ("VPN") as the management side sees it. */
export interface VpnStatus {
  /** The IKE SA's serial number (`ike[#3]` in logs): the handle for close. */
  ikeSa: number;
  realmId: number | undefined;
  realmName: string | undefined;
  state: string;
  initiator: boolean;
  localId: string | undefined;
  peerId: string | undefined;
  local: Endpoint;
  remote: Endpoint;
  natLocal: boolean;
  natRemote: boolean;
  udpEncapsulation: boolean;
  ikeSuite: string | undefined;
  spiI: string;
  spiR: string;
  createdAt: number;
  /** When this facade saw the SA become established. */
  establishedAt: number | undefined;
  /** Configured IKE rekey interval in seconds (0 = off). */
  rekeyInterval: number;
  children: ChildSaStatus[];
}

/** A configured peer of a running realm and whether a VPN to it is up. */
export interface PeerStatus {
  realmId: number;
  realmName: string;
  id: string;
  address: string | undefined;
  port: number;
  auto: "start" | "add";
  state: "established" | "connecting" | "down";
  ikeSa: number | undefined;
}

/** A realm as configured in the file, with its run-time state. */
export interface RealmSummary {
  id: number;
  name: string;
  mode: "l3" | "l2";
  enabled: boolean;
  /** Its TUN device is open and the engine negotiates under it. */
  running: boolean;
  tunnelInterface: string;
  address: string;
  peers: number;
  /** IKE SAs of the realm (any state). */
  vpns: number;
}

/** Data-path counters of one running realm. */
export interface RealmEspStatistics {
  realmId: number;
  realmName: string;
  device: string;
  childSas: number;
  /** TUN → peer loop (rx = read from the TUN, tx = sent to peers). */
  outbound: Record<string, number>;
  /** Peer → TUN path (rx = ESP received, tx = written to the TUN). */
  inbound: Record<string, number>;
}

/** The IKE engine's counters and SA counts. */
export interface IkeStatistics {
  engine: Record<string, number>;
  appliance: Record<string, number>;
  ikeSas: number;
  established: number;
  connecting: number;
}

/** The file's elements as written (comments dropped), limited to the caller's scope. */
export interface ConfigView {
  file: string;
  /** `<admin>` and `<interfaces>` (only for scope "any", when present in the file). */
  admin: XmlElement | undefined;
  interfaces: XmlElement | undefined;
  realms: XmlElement[];
}

/** What a configuration change did. */
export interface RealmChange {
  realmId: number;
  realmName: string;
  change: "updated" | "created" | "deleted" | "enabled" | "disabled" | "unchanged";
  file: string;
  /** Where the previous version was kept (absent when nothing was written). */
  previous: string | undefined;
  /** Cross-check warnings of the new file (never contain a secret). */
  warnings: string[];
}

/** Events of the control facade. */
export type ControlEvent =
  | { type: "vpn_added"; vpn: VpnStatus }
  | { type: "vpn_established"; vpn: VpnStatus }
  | { type: "vpn_deleted"; vpn: VpnStatus; reason: string; wasEstablished: boolean }
  | { type: "vpn_connect_i_error"; vpn: VpnStatus; reason: string }
  | {
    type: "realm_config_updated";
    realmId: number;
    realmName: string;
    change: RealmChange["change"];
    user: string | undefined;
  };

/** What the facade drives: the parts of {@link Appliance} it uses. */
export interface ControlTarget {
  readonly engine: IkeEngine;
  readonly realms: ReadonlyMap<number, RealmRuntime>;
  readonly counters: { snapshot(): Record<string, number> };
  /**
   * The data-plane workers' counters (DataPlanePool.statistics: workers running, crashes,
   * restarts, drops before a packet belongs to a realm); absent or undefined without workers.
   */
  dataPlaneStatistics?(): Record<string, number> | undefined;
  openRealm(policy: RealmPolicy): Promise<void>;
  closeRealm(id: number): Promise<void>;
}

/** Options of {@link ApplianceControl}. */
export interface ApplianceControlOptions {
  /** The rockhopper.xml the appliance was started with (rewritten by realm changes). */
  configPath: string;
  /** auth.xml as loaded at start. */
  auth: AuthConfig;
  /**
   * Loads auth.xml for the cross-check of a change (default: re-read `authPath` when given,
   * else `auth`), so that a change is judged as the next start would judge it.
   */
  loadAuth?: () => Promise<AuthConfig>;
  authPath?: string;
  /** How often new SAs without an engine event are looked for (default 500 ms). */
  scanIntervalMs?: number;
}

/** Who changes the configuration, for events and logs. */
export interface ChangeContext {
  scope: AdminScope;
  user?: string;
}

const DEFAULT_SCAN_INTERVAL_MS = 500;
const MAX_WAIT_MS = 60_000;

interface Tracked {
  established: boolean;
  establishedAt: number | undefined;
}

function sumDrops(counters: Record<string, number>): number {
  let sum = 0;
  for (const [name, value] of Object.entries(counters)) if (name.startsWith("drop")) sum += value;
  return sum;
}

/**
 * The management facade over one running appliance.
 *
 * @example
 * ```ts
 * const control = new ApplianceControl(appliance, { configPath, auth, authPath });
 * const off = control.on((event) => console.log(event.type));
 * const vpns = control.status("any");
 * await control.connect("branch", "fqdn:gw2.example.com", { scope: "any", waitMs: 10_000 });
 * off();
 * control.close();
 * ```
 */
export class ApplianceControl {
  readonly log: Logger = new Logger("main", "control");
  readonly #target: ControlTarget;
  readonly #options: ApplianceControlOptions;
  readonly #listeners = new Set<(event: ControlEvent) => void>();
  readonly #tracked = new Map<IkeSa, Tracked>();
  #offEngine: (() => void) | undefined;
  #scanTimer: ReturnType<typeof setInterval> | undefined;
  #configLock: Promise<unknown> = Promise.resolve();

  constructor(target: ControlTarget, options: ApplianceControlOptions) {
    this.#target = target;
    this.#options = options;
  }

  /** The configuration file this facade rewrites. */
  get configPath(): string {
    return this.#options.configPath;
  }

  // ---- events ----

  /** Subscribes to control events; returns the unsubscribe function. */
  on(listener: (event: ControlEvent) => void): () => void {
    this.#listeners.add(listener);
    if (!this.#offEngine) {
      for (const sa of this.#target.engine.list()) this.#track(sa, false);
      this.#offEngine = this.#target.engine.on((event) => {
        if (event.type === "destroyed") this.#onDestroyed(event.sa, event.reason);
        else this.#scan();
      });
      const interval = this.#options.scanIntervalMs ?? DEFAULT_SCAN_INTERVAL_MS;
      this.#scanTimer = setInterval(() => this.#scan(), interval);
    }
    return () => {
      this.#listeners.delete(listener);
      if (this.#listeners.size === 0) this.#stopWatching();
    };
  }

  /** Drops every listener and timer. */
  close(): void {
    this.#listeners.clear();
    this.#stopWatching();
  }

  #stopWatching(): void {
    this.#offEngine?.();
    this.#offEngine = undefined;
    if (this.#scanTimer !== undefined) clearInterval(this.#scanTimer);
    this.#scanTimer = undefined;
    this.#tracked.clear();
  }

  #emit(event: ControlEvent): void {
    for (const listener of [...this.#listeners]) {
      try {
        listener(event);
      } catch (e) {
        this.log.error(`control event listener failed: ${(e as Error).message}`);
      }
    }
  }

  /** Starts tracking `sa`; emits vpn_added when `announce`. */
  #track(sa: IkeSa, announce: boolean): Tracked {
    const established = sa.state === IkeSaState.Established;
    const tracked: Tracked = {
      established,
      establishedAt: established ? Date.now() : undefined,
    };
    this.#tracked.set(sa, tracked);
    if (announce) {
      this.#emit({ type: "vpn_added", vpn: this.#vpnStatus(sa) });
      if (established) this.#emit({ type: "vpn_established", vpn: this.#vpnStatus(sa) });
    }
    return tracked;
  }

  /**
   * Looks for SAs the facade has not announced yet, and for established transitions. SAs
   * without a realm (a responder before IKE_AUTH) stay anonymous: nobody may see them.
   */
  #scan(): void {
    if (!this.#offEngine) return;
    for (const sa of this.#target.engine.list()) {
      if (sa.realm === undefined || sa.state === IkeSaState.Destroyed) continue;
      const tracked = this.#tracked.get(sa);
      if (!tracked) {
        this.#track(sa, true);
      } else if (!tracked.established && sa.state === IkeSaState.Established) {
        tracked.established = true;
        tracked.establishedAt = Date.now();
        this.#emit({ type: "vpn_established", vpn: this.#vpnStatus(sa) });
      }
    }
  }

  #onDestroyed(sa: IkeSa, reason: string): void {
    this.#scan();
    if (sa.realm === undefined) return;
    let tracked = this.#tracked.get(sa);
    // Created and gone between two scans (a fast failure): announce it before its end.
    if (!tracked) tracked = this.#track(sa, true);
    this.#tracked.delete(sa);
    const vpn = this.#vpnStatus(sa, tracked);
    if (sa.initiator && !tracked.established) {
      this.#emit({ type: "vpn_connect_i_error", vpn, reason });
    }
    this.#emit({ type: "vpn_deleted", vpn, reason, wasEstablished: tracked.established });
  }

  // ---- status ----

  #allowed(scope: AdminScope, realmId: number | undefined): boolean {
    return scope === "any" || (realmId !== undefined && realmId === scope);
  }

  /** Throws Forbidden unless `scope` covers `realmId`. */
  #checkScope(scope: AdminScope, realmId: number, what: string): void {
    if (!this.#allowed(scope, realmId)) {
      throw new ControlError(
        ControlErrorCode.Forbidden,
        `Cannot ${what}: realm ${realmId} is outside this user's realm ${scope}`,
      );
    }
  }

  #requireAny(scope: AdminScope, what: string): void {
    if (scope !== "any") {
      throw new ControlError(
        ControlErrorCode.Forbidden,
        `Cannot ${what}: only admins of realm "any" may (this user's realm is ${scope})`,
      );
    }
  }

  #vpnStatus(sa: IkeSa, tracked = this.#tracked.get(sa)): VpnStatus {
    const realm = sa.realm;
    const runtime = realm ? this.#target.realms.get(realm.id) : undefined;
    return {
      ikeSa: sa.serial,
      realmId: realm?.id,
      realmName: realm?.name,
      state: sa.state,
      initiator: sa.initiator,
      localId: sa.localId,
      peerId: sa.remoteId ?? sa.peer?.id,
      local: { ...sa.local },
      remote: { ...sa.remote },
      natLocal: sa.natLocal,
      natRemote: sa.natRemote,
      udpEncapsulation: sa.udpEncapsulation,
      ikeSuite: sa.suite?.name,
      spiI: toHex(sa.spiI),
      spiR: toHex(sa.spiR),
      createdAt: sa.createdAt,
      establishedAt: tracked?.establishedAt,
      rekeyInterval: realm?.config.ike.rekey ?? 0,
      children: sa.children.map((child) => {
        const inbound = runtime?.sadb.lookupInbound(child.spiIn)?.sa;
        let outbound;
        if (runtime) {
          for (const [espSa] of runtime.sadb.outbound()) {
            if (espSa.spi === child.spiOut) outbound = espSa;
          }
        }
        const rx = inbound?.counters.snapshot();
        const tx = outbound?.counters.snapshot();
        return {
          spiIn: child.spiIn,
          spiOut: child.spiOut,
          espSuite: child.suite.name,
          localTs: child.localTs.map(formatSelector),
          remoteTs: child.remoteTs.map(formatSelector),
          udpEncapsulation: child.udpEncapsulation,
          createdAt: child.createdAt,
          rekeyInterval: realm?.config.esp.rekey ?? 0,
          rxBytes: rx?.bytes ?? 0,
          rxPackets: rx?.packets ?? 0,
          txBytes: tx?.bytes ?? 0,
          txPackets: tx?.packets ?? 0,
          rxDropped: rx ? sumDrops(rx) : 0,
          txDropped: tx ? sumDrops(tx) : 0,
        };
      }),
    };
  }

  /** The IKE SAs the caller may see, optionally of one realm (id or name). */
  status(scope: AdminScope, realmRef?: string): VpnStatus[] {
    const realmId = realmRef === undefined ? undefined : this.#runningRealm(realmRef).id;
    if (realmId !== undefined) this.#checkScope(scope, realmId, "read the realm's VPNs");
    return this.#target.engine.list()
      .filter((sa) => sa.realm !== undefined && sa.state !== IkeSaState.Destroyed)
      .filter((sa) => this.#allowed(scope, sa.realm!.id))
      .filter((sa) => realmId === undefined || sa.realm!.id === realmId)
      .map((sa) => this.#vpnStatus(sa));
  }

  /** The configured peers of the running realms the caller may see, with their VPN state. */
  peers(scope: AdminScope, realmRef?: string): PeerStatus[] {
    const realmId = realmRef === undefined ? undefined : this.#runningRealm(realmRef).id;
    if (realmId !== undefined) this.#checkScope(scope, realmId, "read the realm's peers");
    const sas = this.#target.engine.list().filter((sa) => sa.state !== IkeSaState.Destroyed);
    const result: PeerStatus[] = [];
    for (const realm of this.#target.engine.realms) {
      if (!this.#allowed(scope, realm.id) || (realmId !== undefined && realm.id !== realmId)) {
        continue;
      }
      for (const peer of realm.peers) {
        const mine = sas.filter((sa) => sa.realm?.id === realm.id && this.#isPeer(sa, peer.id));
        const up = mine.find((sa) => sa.state === IkeSaState.Established);
        const any = up ?? mine[0];
        result.push({
          realmId: realm.id,
          realmName: realm.name,
          id: peer.id,
          address: peer.address,
          port: peer.port,
          auto: peer.auto,
          state: up ? "established" : any ? "connecting" : "down",
          ikeSa: any?.serial,
        });
      }
    }
    return result;
  }

  #isPeer(sa: IkeSa, peerId: string): boolean {
    const id = (sa.remoteId ?? sa.peer?.id)?.toLowerCase();
    return id === peerId.toLowerCase();
  }

  /** The engine's counters (scope "any" only). */
  ikeStatistics(scope: AdminScope): IkeStatistics {
    this.#requireAny(scope, "read the IKE statistics");
    const sas = this.#target.engine.list();
    return {
      engine: this.#target.engine.counters.snapshot(),
      appliance: this.#target.counters.snapshot(),
      ikeSas: sas.length,
      established: sas.filter((sa) => sa.state === IkeSaState.Established).length,
      connecting:
        sas.filter((sa) =>
          sa.state === IkeSaState.Connecting || sa.state === IkeSaState.Authenticating
        ).length,
    };
  }

  /**
   * The data-plane workers' counters (scope "any": they span every realm); undefined without
   * workers or for a realm-scoped caller.
   */
  dataPlaneStatistics(scope: AdminScope): Record<string, number> | undefined {
    if (scope !== "any") return undefined;
    return this.#target.dataPlaneStatistics?.();
  }

  /** Data-path counters of the running realms the caller may see. */
  espStatistics(scope: AdminScope): RealmEspStatistics[] {
    return [...this.#target.realms.values()]
      .filter((r) => this.#allowed(scope, r.policy.id))
      .map((r) => ({
        realmId: r.policy.id,
        realmName: r.policy.name,
        device: r.device.name,
        childSas: r.sadb.inboundCount,
        outbound: r.outboundCounters.snapshot(),
        inbound: r.inboundCounters.snapshot(),
      }));
  }

  // ---- connect and close ----

  #runningRealm(ref: string | number): RealmPolicy {
    const text = String(ref);
    const realm = this.#target.engine.realms.find((r) => String(r.id) === text || r.name === text);
    if (!realm) {
      throw new ControlError(
        ControlErrorCode.NoSuchRealm,
        `Cannot find realm ${text}: no enabled realm has this id or name`,
      );
    }
    return realm;
  }

  /**
   * Initiates an IKE SA toward a configured peer (default: the realm's first peer with an
   * address). With `waitMs`, resolves once it is established, rejects with ConnectFailed when
   * it fails, and resolves with `established: false` when the time runs out first.
   */
  async connect(
    realmRef: string,
    peerId: string | undefined,
    options: { scope: AdminScope; waitMs?: number },
  ): Promise<{ vpn: VpnStatus; established: boolean }> {
    const realm = this.#runningRealm(realmRef);
    this.#checkScope(options.scope, realm.id, "connect");
    const peer = peerId === undefined
      ? realm.peers.find((p) => p.address !== undefined)
      : realm.peers.find((p) => p.id.toLowerCase() === peerId.toLowerCase());
    if (!peer) {
      throw new ControlError(
        ControlErrorCode.NoSuchPeer,
        peerId === undefined
          ? `Cannot connect: realm ${realm.name} has no peer with an address`
          : `Cannot connect: realm ${realm.name} has no peer ${peerId}`,
      );
    }
    if (peer.address === undefined) {
      throw new ControlError(
        ControlErrorCode.NoSuchPeer,
        `Cannot connect: peer ${peer.id} has no address (it only initiates toward us)`,
      );
    }
    const existing = this.#target.engine.list().find((sa) =>
      sa.realm?.id === realm.id && this.#isPeer(sa, peer.id) &&
      sa.state !== IkeSaState.Destroyed && sa.state !== IkeSaState.Deleting
    );
    if (existing) {
      throw new ControlError(
        ControlErrorCode.AlreadyConnected,
        `Cannot connect: IKE_SA #${existing.serial} with ${peer.id} is already ${existing.state.toLowerCase()}`,
      );
    }
    const waitMs = Math.min(Math.max(options.waitMs ?? 0, 0), MAX_WAIT_MS);
    const outcome = waitMs > 0 ? this.#outcomeOf(waitMs) : undefined;
    let sa: IkeSa;
    try {
      sa = this.#target.engine.initiate(realm.id, peer.id);
    } catch (e) {
      outcome?.cancel();
      throw new ControlError(ControlErrorCode.ConnectFailed, (e as Error).message, { cause: e });
    }
    this.#scan();
    if (!outcome) return { vpn: this.#vpnStatus(sa), established: false };
    const result = await outcome.wait(sa);
    if (result.type === "destroyed") {
      throw new ControlError(
        ControlErrorCode.ConnectFailed,
        `Cannot connect to ${peer.id}: IKE_SA #${sa.serial} failed: ${result.reason}`,
      );
    }
    return { vpn: this.#vpnStatus(sa), established: result.type === "established" };
  }

  /** Subscribes before initiating (a fast failure must not be missed). */
  #outcomeOf(waitMs: number) {
    const events: { sa: IkeSa; type: "established" | "destroyed"; reason: string }[] = [];
    let wake: (() => void) | undefined;
    const off = this.#target.engine.on((event) => {
      if (event.type !== "established" && event.type !== "destroyed") return;
      events.push({
        sa: event.sa,
        type: event.type,
        reason: "reason" in event ? event.reason : "",
      });
      wake?.();
    });
    let timer: ReturnType<typeof setTimeout> | undefined;
    return {
      cancel: off,
      wait: async (sa: IkeSa) => {
        const deadline = Date.now() + waitMs;
        try {
          for (;;) {
            const hit = events.find((e) => e.sa === sa);
            if (hit) return hit;
            if (sa.state === IkeSaState.Established) {
              return { sa, type: "established" as const, reason: "" };
            }
            const left = deadline - Date.now();
            if (left <= 0) return { sa, type: "timeout" as const, reason: "" };
            await new Promise<void>((resolve) => {
              wake = resolve;
              timer = setTimeout(resolve, left);
            });
            clearTimeout(timer);
          }
        } finally {
          clearTimeout(timer);
          off();
        }
      },
    };
  }

  /**
   * Deletes the IKE SAs with one peer of a realm (telling the peer), or the one IKE SA with
   * serial `ikeSa`. Resolves to the number of SAs closed.
   */
  async closeVpn(
    options: { scope: AdminScope; realm?: string; peerId?: string; ikeSa?: number },
  ): Promise<number> {
    let sas = this.#target.engine.list().filter((sa) =>
      sa.realm !== undefined && sa.state !== IkeSaState.Destroyed
    );
    let realmId: number | undefined;
    if (options.realm !== undefined) {
      realmId = this.#runningRealm(options.realm).id;
      this.#checkScope(options.scope, realmId, "close a VPN");
      sas = sas.filter((sa) => sa.realm!.id === realmId);
    }
    if (options.ikeSa !== undefined) sas = sas.filter((sa) => sa.serial === options.ikeSa);
    if (options.peerId !== undefined) sas = sas.filter((sa) => this.#isPeer(sa, options.peerId!));
    if (options.ikeSa === undefined && options.peerId === undefined) {
      throw new ControlError(
        ControlErrorCode.BadRequest,
        "Cannot close: name the peer (peer_id) or the IKE SA (ike_sa)",
      );
    }
    const denied = sas.find((sa) => !this.#allowed(options.scope, sa.realm!.id));
    if (denied) this.#checkScope(options.scope, denied.realm!.id, "close a VPN");
    if (sas.length === 0) {
      const what = options.ikeSa !== undefined
        ? `IKE_SA #${options.ikeSa}`
        : `VPN with ${options.peerId}`;
      throw new ControlError(
        ControlErrorCode.NoSuchVpn,
        `Cannot close: there is no ${what}${realmId === undefined ? "" : ` in realm ${realmId}`}`,
      );
    }
    await Promise.all(sas.map((sa) => this.#target.engine.deleteSa(sa)));
    return sas.length;
  }

  /** Deletes every IKE SA the caller may see (optionally of one realm); returns the count. */
  async clearAll(scope: AdminScope, realmRef?: string): Promise<number> {
    const sas = this.status(scope, realmRef);
    const wanted = new Set(sas.map((v) => v.ikeSa));
    const targets = this.#target.engine.list().filter((sa) => wanted.has(sa.serial));
    await Promise.all(targets.map((sa) => this.#target.engine.deleteSa(sa)));
    return targets.length;
  }

  // ---- configuration ----

  async #readDocument(): Promise<RealmDocument> {
    const path = this.#options.configPath;
    try {
      return locateRealms(await readConfigFile(path), path);
    } catch (e) {
      if (e instanceof ConfigError) throw new RealmConfigError(e.message, { config: e });
      throw e;
    }
  }

  /** Parses the current file (what the next start would load). */
  async #readConfig(): Promise<RockhopperConfig> {
    const doc = await this.#readDocument();
    try {
      return parseConfig(doc.text, doc.file);
    } catch (e) {
      if (e instanceof ConfigError) throw new RealmConfigError(e.message, { config: e });
      throw e;
    }
  }

  /** The file's `<admin>`, `<interfaces>` and `<realm>` elements within the caller's scope. */
  async configView(scope: AdminScope, realmRef?: string): Promise<ConfigView> {
    const doc = await this.#readDocument();
    let spans = doc.realms;
    if (realmRef !== undefined) {
      const index = this.#spanIndex(doc, realmRef);
      this.#checkScope(scope, Number(doc.realms[index]!.id), "read the realm");
      spans = [doc.realms[index]!];
    }
    const realms = spans.filter((s) => scope === "any" || Number(s.id) === scope)
      .map((s) => s.element);
    const child = (name: string) =>
      scope === "any" ? doc.root.children.find((c) => c.name === name) : undefined;
    return { file: doc.file, admin: child("admin"), interfaces: child("interfaces"), realms };
  }

  /** The realms of the file within the caller's scope, with their run-time state. */
  async realmSummaries(scope: AdminScope): Promise<RealmSummary[]> {
    const config = await this.#readConfig();
    const sas = this.#target.engine.list().filter((sa) => sa.state !== IkeSaState.Destroyed);
    return config.realms.filter((r) => this.#allowed(scope, r.id)).map((r) => ({
      id: r.id,
      name: r.name,
      mode: r.mode,
      enabled: r.enabled,
      running: this.#target.realms.has(r.id),
      tunnelInterface: r.tunnelInterface.name,
      address: r.tunnelInterface.address,
      peers: r.peers.length,
      vpns: sas.filter((sa) => sa.realm?.id === r.id).length,
    }));
  }

  #spanIndex(doc: RealmDocument, ref: string): number {
    const byId = doc.realms.findIndex((s) => s.id !== undefined && s.id === ref.trim());
    const index = byId >= 0
      ? byId
      : doc.realms.findIndex((s) => s.element.attributes.get("name")?.value.trim() === ref);
    if (index < 0) {
      throw new ControlError(
        ControlErrorCode.NoSuchRealm,
        `Cannot find realm ${ref} in ${doc.file}`,
      );
    }
    return index;
  }

  #serialized<T>(step: () => Promise<T>): Promise<T> {
    const next = this.#configLock.then(step, step);
    this.#configLock = next.catch(() => {});
    return next;
  }

  /** Replaces the realm with the same `id` as `element`; the realm restarts, others do not. */
  updateRealm(element: XmlElement, context: ChangeContext): Promise<RealmChange> {
    return this.#serialized(async () => {
      const id = this.#elementId(element);
      this.#checkScope(context.scope, id, "change the realm");
      const doc = await this.#readDocument();
      const index = doc.realms.findIndex((s) => s.id !== undefined && Number(s.id) === id);
      if (index < 0) {
        throw new ControlError(
          ControlErrorCode.NoSuchRealm,
          `Cannot update realm ${id}: ${doc.file} has no such realm (create it instead)`,
        );
      }
      return await this.#change(doc, replaceRealm(doc, index, element), id, "updated", context);
    });
  }

  /** Adds a realm after the last one (scope "any" only). */
  createRealm(element: XmlElement, context: ChangeContext): Promise<RealmChange> {
    return this.#serialized(async () => {
      this.#requireAny(context.scope, "create a realm");
      const id = this.#elementId(element);
      const doc = await this.#readDocument();
      return await this.#change(doc, insertRealm(doc, element), id, "created", context);
    });
  }

  /** Removes a realm and its SAs (scope "any" only). */
  deleteRealm(realmRef: string, context: ChangeContext): Promise<RealmChange> {
    return this.#serialized(async () => {
      this.#requireAny(context.scope, "delete a realm");
      const doc = await this.#readDocument();
      const index = this.#spanIndex(doc, realmRef);
      const id = Number(doc.realms[index]!.id);
      return await this.#change(doc, removeRealm(doc, index), id, "deleted", context);
    });
  }

  /** Sets `enabled="yes|no"` on a realm and starts or stops it. */
  setRealmEnabled(
    realmRef: string,
    enabled: boolean,
    context: ChangeContext,
  ): Promise<RealmChange> {
    return this.#serialized(async () => {
      const doc = await this.#readDocument();
      const index = this.#spanIndex(doc, realmRef);
      const span = doc.realms[index]!;
      const id = Number(span.id);
      this.#checkScope(context.scope, id, enabled ? "enable the realm" : "disable the realm");
      const current = (span.element.attributes.get("enabled")?.value.trim() ?? "yes") === "yes";
      if (current === enabled && this.#target.realms.has(id) === enabled) {
        const name = span.element.attributes.get("name")?.value.trim() ?? String(id);
        return {
          realmId: id,
          realmName: name,
          change: "unchanged",
          file: doc.file,
          previous: undefined,
          warnings: [],
        };
      }
      const edit = setRealmAttribute(doc, index, "enabled", enabled ? "yes" : "no");
      return await this.#change(doc, edit, id, enabled ? "enabled" : "disabled", context);
    });
  }

  #elementId(element: XmlElement): number {
    if (element.name !== "realm") {
      throw new ControlError(
        ControlErrorCode.BadRequest,
        `Cannot change the configuration: expected one <realm> element, got <${element.name}>`,
      );
    }
    const text = element.attributes.get("id")?.value.trim();
    if (text === undefined || !/^[1-9][0-9]{0,9}$/.test(text)) {
      throw new ControlError(
        ControlErrorCode.BadRequest,
        text === undefined
          ? 'Cannot change the configuration: <realm> has no "id" attribute'
          : `Cannot change the configuration: <realm id> "${text}" is not a realm id`,
      );
    }
    return Number(text);
  }

  async #change(
    doc: RealmDocument,
    edit: RealmEdit,
    realmId: number,
    change: Exclude<RealmChange["change"], "unchanged">,
    context: ChangeContext,
  ): Promise<RealmChange> {
    const file = doc.file;
    // 1. validate the whole new text as the loader would, and cross-check with auth.xml
    const config = this.#validate(edit);
    const auth = await this.#loadAuthForCheck();
    let warnings: string[];
    try {
      warnings = checkAuthAgainstConfig(config, auth);
    } catch (e) {
      if (e instanceof ConfigError) throw new RealmConfigError(e.message, { config: e });
      throw e;
    }
    const realm: RealmConfig | undefined = config.realms.find((r) => r.id === realmId);
    let policy: RealmPolicy | undefined;
    if (realm?.enabled) {
      try {
        policy = realmPolicies({ ...config, realms: [realm] }, auth)[0];
      } catch (e) {
        throw new RealmConfigError((e as Error).message);
      }
    }
    const realmName = realm?.name ??
      doc.realms.find((s) => Number(s.id) === realmId)?.element.attributes.get("name")?.value ??
      String(realmId);
    const running = this.#target.realms.has(realmId);
    if (edit.text === doc.text && running === (policy !== undefined)) {
      return { realmId, realmName, change: "unchanged", file, previous: undefined, warnings };
    }

    // 2. write, old version kept
    try {
      await saveConfigText(file, edit.text);
    } catch (e) {
      const reason = e instanceof Deno.errors.NotCapable
        ? "the program has no write permission for it (Deno --allow-write)"
        : (e as Error).message;
      throw new ControlError(
        ControlErrorCode.CannotApply,
        `Cannot write ${file}: ${reason}; nothing was changed`,
        { cause: e },
      );
    }

    // 3. apply to this realm only; on failure the old file and realm come back
    try {
      await this.#applyRealm(realmId, policy);
    } catch (e) {
      const reason = (e as Error).message;
      this.log.error(`Cannot apply realm ${realmId} (${realmName}): ${reason}; restoring ${file}`);
      await saveConfigText(file, doc.text, { keepPrevious: false }).catch((restoreError) =>
        this.log.error(`Cannot restore ${file}: ${(restoreError as Error).message}`)
      );
      throw new ControlError(
        ControlErrorCode.CannotApply,
        `Cannot apply realm ${realmId} (${realmName}): ${reason}; ${file} was restored`,
        { cause: e },
      );
    }
    const by = context.user === undefined ? "" : ` by ${context.user}`;
    this.log.info(
      `realm ${realmId} (${realmName}) ${change}${by}; previous ${file} kept as ${
        file + PREVIOUS_SUFFIX
      }`,
    );
    this.#emit({ type: "realm_config_updated", realmId, realmName, change, user: context.user });
    return { realmId, realmName, change, file, previous: file + PREVIOUS_SUFFIX, warnings };
  }

  #validate(edit: RealmEdit): RockhopperConfig {
    const file = this.#options.configPath;
    try {
      return parseConfig(edit.text, file);
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      let path: string | undefined;
      if (
        e.file === file && e.line !== undefined && edit.firstLine !== undefined && edit.paths
      ) {
        path = edit.paths[e.line - edit.firstLine];
      }
      throw new RealmConfigError(e.message, { config: e, ...(path ? { path } : {}) });
    }
  }

  async #loadAuthForCheck(): Promise<AuthConfig> {
    try {
      if (this.#options.loadAuth) return await this.#options.loadAuth();
      if (this.#options.authPath) return await loadAuthConfig(this.#options.authPath);
      return this.#options.auth;
    } catch (e) {
      if (e instanceof ConfigError) throw new RealmConfigError(e.message, { config: e });
      throw e;
    }
  }

  async #applyRealm(id: number, policy: RealmPolicy | undefined): Promise<void> {
    const engine = this.#target.engine;
    const before = [...engine.realms];
    const position = before.findIndex((r) => r.id === id);
    const others = before.filter((r) => r.id !== id);
    // No new SA under the old policy from here on; then the old SAs and the device go.
    engine.setRealms(others);
    const doomed = engine.list().filter((sa) => sa.realm?.id === id);
    await Promise.all(doomed.map((sa) => engine.deleteSa(sa)));
    await this.#target.closeRealm(id);
    if (!policy) return;
    const next = [...others];
    next.splice(position < 0 ? next.length : position, 0, policy);
    engine.setRealms(next);
    try {
      await this.#target.openRealm(policy);
    } catch (e) {
      engine.setRealms(others);
      const old = before[position];
      if (old) {
        engine.setRealms(before);
        await this.#target.openRealm(old).catch((reopenError) =>
          this.log.error(`Cannot reopen realm ${id}: ${(reopenError as Error).message}`)
        );
      }
      throw e;
    }
  }
}
