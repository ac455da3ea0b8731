/**
 * The IKE engine: the table of IKE SAs by our SPI, the entry point for every IKE datagram,
 * and the place that turns configuration into initiated SAs.
 *
 * Inbound flow:
 *   1. copy + decode the datagram (malformed → counted drop; unknown critical payload in an
 *      IKE_SA_INIT request → UNSUPPORTED_CRITICAL_PAYLOAD answer)
 *   2. IKE_SA_INIT request → new (or half-open) responder SA; otherwise look up by our SPI
 *   3. open the SK payload (ICV failure → counted drop), or verify and store an SKF fragment
 *      until its message is complete (RFC 7383, see fragmentation.ts); update the peer's
 *      endpoint
 *   4. hand the message to the SA's task manager, one message per SA at a time
 */
import type { AuthService } from "../auth/mod.ts";
import type { CryptoProvider } from "../crypto/mod.ts";
import { Counters, Logger } from "../log/mod.ts";
import type { Endpoint } from "../net/mod.ts";
import { bytesEqual, DecodeError, toHex } from "../wire/mod.ts";
import {
  ExchangeType,
  HeaderFlag,
  IKE_MAJOR_VERSION,
  IKE_PORT,
  nameOf,
  NAT_T_PORT,
  NotifyType,
  PayloadType,
} from "./constants.ts";
import { type ChildSaRecord, IkeSa, IkeSaState } from "./ike_sa.ts";
import { IncomingMessage } from "./message.ts";
import { decodeMessage, encodeMessage, UnsupportedCriticalPayloadError } from "./payloads/mod.ts";
import type {
  EncryptedPayload,
  IkeHeader,
  NoncePayload,
  NotifyPayload,
  OpaquePayload,
  Payload,
  TrafficSelector,
} from "./payloads/types.ts";
import { CookieJar } from "./cookie.ts";
import {
  type CookieEvidence,
  DEFAULT_INIT_ADMISSION_LIMITS,
  InitAdmission,
  type InitAdmissionLimits,
} from "./admission.ts";
import { formatSpi } from "./spi.ts";
import { DEFAULT_FRAGMENT_SIZE, FragmentReassembler, ikeMessageBudget } from "./fragmentation.ts";
import { IntegrityError } from "./protection.ts";
import type { RealmPolicy } from "./realm_policy.ts";
import { DEFAULT_RETRANSMIT, type RetransmitPolicy, TaskManager } from "./task_manager.ts";
import { ChildCreateInitiatorTask, ChildCreateResponderTask } from "./tasks/child_create.ts";
import { CreateChildSaResponderTask } from "./tasks/create_child_sa.ts";
import { type IkeRekeyHost, IkeRekeyInitiatorTask } from "./tasks/ike_rekey.ts";
import { IkeAuthAbortTask, IkeAuthInitiatorTask, IkeAuthResponderTask } from "./tasks/ike_auth.ts";
import { AfterAuthTask } from "./tasks/after_auth.ts";
import {
  ConfigInitiatorTask,
  ConfigResponderTask,
  moveAddressing,
  releaseAddressing,
} from "./tasks/config_request.ts";
import { AddressPools } from "./address_pool.ts";
import { IkeCertPreTask } from "./tasks/ike_cert_pre.ts";
import { IkeInitInitiatorTask, IkeInitResponderTask } from "./tasks/ike_init.ts";
import { NatDetectionInitiatorTask, NatDetectionResponderTask } from "./tasks/ike_natd.ts";
import {
  ChildDeleteTask,
  IkeDeleteTask,
  InformationalResponderTask,
  LivenessTask,
} from "./tasks/informational.ts";
import type { ChildSaInstaller, Task, TaskServices, VirtualIpInstaller } from "./tasks/task.ts";

/** Sends IKE datagrams; on the NAT-T port the transport adds the non-ESP marker. */
export interface IkeTransport {
  send(bytes: Uint8Array, to: Endpoint, localPort: number): void;
}

export interface IkeEngineOptions {
  crypto: CryptoProvider;
  auth: AuthService;
  realms: RealmPolicy[];
  childSas: ChildSaInstaller;
  transport: IkeTransport;
  /** The address our sockets are bound to ("0.0.0.0" = all). */
  localAddress: string;
  ikePort?: number;
  natTPort?: number;
  /**
   * When set, the inbound SPI of a child SA that rekeys another one must satisfy
   * `spiAffinity(newSpi, oldSpi)`: the appliance's data-plane workers own inbound SAs by SPI,
   * and a successor handled by the same worker keeps the packets of a flow in order across
   * the switch.
   */
  spiAffinity?: (spi: number, replaces: number) => boolean;
  /** Our addresses for NAT detection when bound to the wildcard address. */
  localAddresses?: () => string[];
  /**
   * Our source address toward a peer we initiate to (a route lookup), for an honest
   * NAT_DETECTION_SOURCE_IP when bound to the wildcard address; undefined keeps `localAddress`.
   */
  localAddressFor?: (remote: Endpoint) => string | undefined;
  retransmit?: RetransmitPolicy;
  /** A responder SA that does not complete IKE_AUTH in this time is dropped. */
  halfOpenTimeoutMs?: number;
  /**
   * Half-open responder SAs from which on an IKE_SA_INIT must carry a COOKIE (RFC 7296 §2.6);
   * default 10, 0 = always demand one.
   */
  cookieThreshold?: number;
  /** New IKE_SA_INITs per second handled without a COOKIE (admission.ts); default 100. */
  initRateLimit?: number;
  /** COOKIE answers per second; IKE_SA_INITs beyond it are dropped; default 5000. */
  cookieRateLimit?: number;
  /** Half-open responder SAs from which on new IKE_SA_INITs are dropped; default 1000. */
  halfOpenLimit?: number;
  /** Milliseconds clock of the admission rate limits (tests); default `performance.now`. */
  now?: () => number;
  /** Puts inner addresses a peer assigned us (CFG_REPLY) on the realm's device. */
  virtualIps?: VirtualIpInstaller;
  /**
   * Largest IP datagram of an IKE fragment (RFC 7383) for realms without `fragmentSize`;
   * default 1280.
   */
  fragmentSize?: number;
}

export type IkeEngineEvent =
  | { type: "established"; sa: IkeSa }
  | { type: "rekeyed"; sa: IkeSa; predecessor: IkeSa }
  | { type: "child_rekeyed"; sa: IkeSa; child: ChildSaRecord }
  | { type: "destroyed"; sa: IkeSa; reason: string };

const COUNTER_NAMES = [
  "rxDatagrams",
  "rxMalformed",
  "rxUnknownSpi",
  "rxIntegrityFailed",
  "rxUnsupportedCritical",
  "idPayloadMismatch",
  "established",
  "failed",
  "halfOpenExpired",
  "cookiesSent",
  "cookiesRejected",
  /** IKE_SA_INITs processed because they returned a valid COOKIE. */
  "cookiesAccepted",
  /** IKE_SA_INITs dropped unanswered: COOKIE answers above `cookieRateLimit`. */
  "cookiesDropped",
  /** IKE_SA_INITs above `initRateLimit` that had to return a COOKIE. */
  "initOverRate",
  /** IKE_SA_INITs dropped because `halfOpenLimit` half-open SAs existed. */
  "halfOpenLimited",
  /** The most half-open responder SAs there have been at once (a high-water mark). */
  "halfOpenPeak",
  "ikeRekeys",
  "childRekeys",
  "livenessChecks",
  "deadPeers",
  "txFragments",
  "rxFragments",
  "rxFragmentsForged",
  "rxFragmentsDropped",
  "rxReassembled",
] as const;
export type IkeCounterName = typeof COUNTER_NAMES[number];

interface Entry {
  sa: IkeSa;
  manager: TaskManager;
  lock: Promise<void>;
  halfOpenKey: string | undefined;
  halfOpenTimer: ReturnType<typeof setTimeout> | undefined;
  announced: boolean;
  /** IKE SA rekey and liveness timers. */
  rekeyTimer: ReturnType<typeof setTimeout> | undefined;
  livenessTimer: ReturnType<typeof setTimeout> | undefined;
  /** When the liveness timer was armed, and the ESP packets received by then. */
  livenessArmedAt: number;
  lastEspInbound: number;
  /** Partial fragmented messages (RFC 7383). */
  fragments: FragmentReassembler;
}

/** Soft (rekey) and hard (delete) timers of one child SA. */
interface ChildTimers {
  rekey: ReturnType<typeof setTimeout> | undefined;
  expire: ReturnType<typeof setTimeout> | undefined;
}

/** Up to 10 % earlier, so that two peers with the same policy rarely rekey at once. */
function jitter(seconds: number): number {
  return seconds * (1 - Math.random() * 0.1) * 1000;
}

const ZERO_SPI = new Uint8Array(8);
/** Least time between two log lines about IKE_SA_INITs answered with COOKIEs or dropped. */
const ADMISSION_LOG_INTERVAL_MS = 10_000;
/** Back-off between attempts to bring up a peer that must stay connected. */
const RETRY_MIN_MS = 5_000;
const RETRY_MAX_MS = 60_000;

function halfOpenKey(spiI: Uint8Array, from: Endpoint): string {
  return `${toHex(spiI)}/${from.address}/${from.port}`;
}

function systemAddresses(): string[] {
  try {
    return Deno.networkInterfaces().map((i) => i.address);
  } catch {
    return [];
  }
}

export class IkeEngine {
  readonly counters: Counters<IkeCounterName> = new Counters(COUNTER_NAMES);
  readonly log: Logger = new Logger("ike");
  readonly #options: IkeEngineOptions;
  readonly #services: TaskServices;
  readonly #sas = new Map<string, Entry>();
  readonly #halfOpen = new Map<string, Entry>();
  readonly #listeners = new Set<(event: IkeEngineEvent) => void>();
  readonly #spisInUse = new Set<number>();
  readonly #childTimers = new Map<ChildSaRecord, ChildTimers>();
  /** Realm id → peer ids whose SA died with dpd_action="hold": re-initiated on traffic. */
  readonly #held = new Map<number, Set<string>>();
  readonly #rekeyHost: IkeRekeyHost;
  readonly #cookies = new CookieJar();
  readonly #admission: InitAdmission;
  /** Requests answered with a COOKIE or dropped since the last admission log line. */
  #refusedSinceLog = 0;
  #lastAdmissionLog = -Infinity;
  readonly #retryTimers = new Set<ReturnType<typeof setTimeout>>();
  #stopping = false;
  readonly #ikePort: number;
  #realms: RealmPolicy[];

  constructor(options: IkeEngineOptions) {
    this.#options = options;
    this.#ikePort = options.ikePort ?? IKE_PORT;
    this.#realms = [...options.realms];
    const limits = DEFAULT_INIT_ADMISSION_LIMITS;
    this.#admission = new InitAdmission({
      cookieThreshold: options.cookieThreshold ?? limits.cookieThreshold,
      initRateLimit: options.initRateLimit ?? limits.initRateLimit,
      cookieRateLimit: options.cookieRateLimit ?? limits.cookieRateLimit,
      halfOpenLimit: options.halfOpenLimit ?? limits.halfOpenLimit,
    }, options.now ? { now: options.now } : {});
    this.#services = {
      crypto: options.crypto,
      auth: options.auth,
      realms: this.#realms,
      childSas: {
        install: async (sa, child) => {
          await options.childSas.install(sa, child);
          this.#scheduleChild(child.record, child.realm.lifecycle.childRekeySeconds);
        },
        remove: (sa, child) => {
          this.#spisInUse.delete(child.spiIn);
          this.#clearChildTimers(child);
          return options.childSas.remove(sa, child);
        },
      },
      localAddresses: options.localAddresses ?? systemAddresses,
      allocateSpi: (replaces) => this.#allocateSpi(replaces),
      natTPort: options.natTPort ?? NAT_T_PORT,
      addressPools: new AddressPools(),
      ...(options.virtualIps ? { virtualIps: options.virtualIps } : {}),
    };
    this.#rekeyHost = {
      newIkeSpi: () => this.#randomSpi(),
      adopt: (sa, predecessor) => this.#adopt(sa, predecessor),
    };
  }

  /** The address pools of realms with a `<pool>`, with their leases. */
  get addressPools(): AddressPools {
    return this.#services.addressPools;
  }

  /** The realms new SAs are negotiated under. */
  get realms(): readonly RealmPolicy[] {
    return this.#realms;
  }

  /**
   * Replaces the realm policies (a configuration change). Established SAs keep the policy they
   * were negotiated under; only new exchanges see the new set.
   */
  setRealms(realms: readonly RealmPolicy[]): void {
    this.#realms = [...realms];
    this.#services.realms = this.#realms;
  }

  /** Subscribes to SA events; returns the unsubscribe function. */
  on(listener: (event: IkeEngineEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** The limits on new IKE_SA_INIT work this engine runs with (admission.ts). */
  get admissionLimits(): Readonly<InitAdmissionLimits> {
    return this.#admission.limits;
  }

  /** Responder SAs that have not completed IKE_AUTH yet (what COOKIEs protect). */
  get halfOpenCount(): number {
    return this.#halfOpen.size;
  }

  /** Current IKE SAs. */
  list(): IkeSa[] {
    return [...this.#sas.values()].map((e) => e.sa);
  }

  /** Starts IKE_SA_INIT toward a configured peer of a realm (by realm id or name). */
  initiate(realmRef: number | string, peerId?: string): IkeSa {
    const realm = this.#realms.find((r) => r.id === realmRef || r.name === realmRef);
    if (!realm) throw new RangeError(`Cannot initiate: no enabled realm ${realmRef}`);
    const peer = peerId === undefined
      ? realm.peers.find((p) => p.address !== undefined)
      : realm.peers.find((p) => p.id.toLowerCase() === peerId.toLowerCase());
    if (!peer?.address) {
      throw new RangeError(
        `Cannot initiate: realm ${realm.name} has no peer ${peerId ?? "with an address"}`,
      );
    }
    const sa = new IkeSa({
      initiator: true,
      crypto: this.#options.crypto,
      log: this.log,
      spiI: this.#randomSpi(),
      spiR: new Uint8Array(8),
      local: {
        address: this.#options.localAddressFor?.({ address: peer.address, port: peer.port }) ??
          this.#options.localAddress,
        port: this.#ikePort,
      },
      remote: { address: peer.address, port: peer.port },
    });
    sa.realm = realm;
    sa.peer = peer;
    const entry = this.#register(sa);
    const s = this.#services;
    entry.manager.queue(ExchangeType.IkeSaInit, [
      new IkeInitInitiatorTask(sa, s),
      new NatDetectionInitiatorTask(sa, s),
      new IkeCertPreTask(sa, s),
    ]);
    entry.manager.queue(ExchangeType.IkeAuth, [
      new IkeAuthInitiatorTask(sa, s),
      new AfterAuthTask(sa, new ConfigInitiatorTask(sa, s)),
      new AfterAuthTask(sa, new ChildCreateInitiatorTask(sa, s)),
    ]);
    sa.log.info(
      `initiating IKE_SA to ${peer.address}:${peer.port} (${peer.id}, realm ${realm.name})`,
    );
    this.#serialize(entry, () => entry.manager.initiate());
    return sa;
  }

  /** Handles one IKE datagram (the non-ESP marker already removed). Never throws. */
  async handleDatagram(data: Uint8Array, from: Endpoint, localPort: number): Promise<void> {
    this.counters.add("rxDatagrams");
    const raw = data.slice();
    let header: IkeHeader;
    let payloads: Payload[];
    try {
      ({ header, payloads } = decodeMessage(raw));
    } catch (e) {
      this.#onUndecodable(e, raw, from, localPort);
      return;
    }
    const isResponse = (header.flags & HeaderFlag.Response) !== 0;
    const fromInitiator = (header.flags & HeaderFlag.Initiator) !== 0;

    if (header.exchangeType === ExchangeType.IkeSaInit && !isResponse) {
      if (!fromInitiator || !bytesEqual(header.responderSpi, ZERO_SPI) || header.messageId !== 0) {
        this.counters.add("rxMalformed");
        return;
      }
      const known = this.#halfOpen.get(halfOpenKey(header.initiatorSpi, from));
      if (!known && !this.#admitInit(header, payloads, from, localPort)) return;
      const entry = known ?? this.#halfOpenFor(header.initiatorSpi, from, localPort);
      const message = new IncomingMessage(header, payloads, raw, from, localPort);
      await this.#serialize(entry, () => entry.manager.handleRequest(message));
      return;
    }

    const ourSpi = fromInitiator ? header.responderSpi : header.initiatorSpi;
    const entry = this.#sas.get(toHex(ourSpi));
    if (
      !entry || entry.sa.initiator === fromInitiator || !this.#otherSpiMatches(entry.sa, header)
    ) {
      this.counters.add("rxUnknownSpi");
      this.log.debug(
        `dropping ${isResponse ? "response" : "request"} for unknown IKE SPI ${
          toHex(ourSpi)
        } from ${from.address}`,
      );
      return;
    }
    const sa = entry.sa;
    const last = payloads[payloads.length - 1];
    if (
      header.exchangeType !== ExchangeType.IkeSaInit &&
      last?.type === PayloadType.EncryptedFragment
    ) {
      const whole = this.#reassemble(entry, header, last as OpaquePayload, raw, from, localPort);
      if (!whole) return;
      payloads = whole;
    } else if (header.exchangeType !== ExchangeType.IkeSaInit) {
      const sk = last as EncryptedPayload | undefined;
      if (sk?.type !== PayloadType.Encrypted || !sa.protection) {
        this.counters.add("rxMalformed");
        return;
      }
      try {
        payloads = sa.protection.open(raw, sk);
      } catch (e) {
        if (e instanceof IntegrityError) this.counters.add("rxIntegrityFailed");
        else this.counters.add("rxMalformed");
        sa.log.debug(`dropping message ${header.messageId}: ${(e as Error).message}`);
        return;
      }
      this.#authenticatedFrom(sa, from, localPort);
    }
    const message = new IncomingMessage(header, payloads, raw, from, localPort);
    await this.#serialize(
      entry,
      () =>
        isResponse ? entry.manager.handleResponse(message) : entry.manager.handleRequest(message),
    );
  }

  /** An authenticated message came in: liveness, and the peer's (possibly new) endpoint. */
  #authenticatedFrom(sa: IkeSa, from: Endpoint, localPort: number): void {
    sa.lastInbound = Date.now();
    if (from.address !== sa.remote.address || from.port !== sa.remote.port) {
      sa.log.debug(`peer moved to ${from.address}:${from.port}`);
      sa.remote = { ...from };
      sa.local = { address: sa.local.address, port: localPort };
    }
  }

  /**
   * One SKF fragment (RFC 7383 §2.6): verified, stored, and once all are in, the message's
   * payloads; undefined while incomplete or when dropped (counted). Fragment 1 of a request
   * we already answered repeats the response.
   */
  #reassemble(
    entry: Entry,
    header: IkeHeader,
    skf: OpaquePayload,
    raw: Uint8Array,
    from: Endpoint,
    localPort: number,
  ): Payload[] | undefined {
    const sa = entry.sa;
    const isResponse = (header.flags & HeaderFlag.Response) !== 0;
    const what = `${nameOf(ExchangeType, header.exchangeType)} ${
      isResponse ? "response" : "request"
    } ${header.messageId}`;
    this.counters.add("rxFragments");
    if (!sa.fragmentation || !sa.protection) {
      this.counters.add("rxFragmentsDropped");
      sa.log.debug(`dropping a fragment of ${what}: fragmentation was not negotiated`);
      return undefined;
    }
    const outcome = entry.fragments.add(header, skf, raw, sa.protection, {
      answered: !isResponse && entry.manager.answered(header.messageId),
    });
    switch (outcome.kind) {
      case "dropped":
        this.counters.add(outcome.forged ? "rxFragmentsForged" : "rxFragmentsDropped");
        sa.log.debug(`dropping a fragment of ${what}: ${outcome.reason}`);
        return undefined;
      case "repeat":
        this.#authenticatedFrom(sa, from, localPort);
        void this.#serialize(entry, () => {
          entry.manager.repeatResponse(header.messageId, from, localPort);
          return Promise.resolve();
        });
        return undefined;
      case "pending":
        this.#authenticatedFrom(sa, from, localPort);
        sa.log.trace(`received fragment ${outcome.number} of ${outcome.total} of ${what}`);
        return undefined;
      case "complete":
        this.#authenticatedFrom(sa, from, localPort);
        this.counters.add("rxReassembled");
        sa.log.debug(
          `reassembled ${what} from ${outcome.fragments} fragments (${outcome.length} bytes)`,
        );
        return outcome.payloads;
    }
  }

  /** Deletes one IKE SA with an INFORMATIONAL Delete (best effort), then tears it down. */
  async deleteSa(sa: IkeSa): Promise<void> {
    const entry = this.#sas.get(toHex(sa.localSpi));
    if (!entry) return;
    if (sa.state !== IkeSaState.Established) {
      await this.#destroy(sa, "closed locally");
      return;
    }
    const gone = new Promise<void>((resolve) => {
      const off = this.on((e) => {
        if (e.type === "destroyed" && e.sa === sa) {
          off();
          resolve();
        }
      });
    });
    entry.manager.queue(ExchangeType.Informational, [new IkeDeleteTask(sa)]);
    this.#serialize(entry, () => entry.manager.initiate());
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, 1000)));
    await Promise.race([gone, timeout]);
    clearTimeout(timer);
    await this.#destroy(sa, "closed locally");
  }

  /**
   * Initiates toward a configured peer and, until an SA with it is up, retries each failed
   * attempt after `firstDelayMs` (default 5 s), doubling up to 60 s. Used for `auto="start"`
   * peers and `dpd_action="restart"`. Stops on shutdown, or when the realm no longer lists
   * the peer.
   */
  keepUp(realmId: number, peerId: string, firstDelayMs = RETRY_MIN_MS): void {
    this.#attempt(realmId, peerId, firstDelayMs);
  }

  #attempt(realmId: number, peerId: string, delayMs: number): void {
    if (this.#stopping) return;
    const realm = this.#realms.find((r) => r.id === realmId);
    if (!realm?.peers.some((p) => p.id.toLowerCase() === peerId.toLowerCase())) return;
    let sa: IkeSa;
    try {
      sa = this.initiate(realmId, peerId);
    } catch (e) {
      this.log.error((e as Error).message);
      return;
    }
    const off = this.on((event) => {
      if (event.sa !== sa || (event.type !== "established" && event.type !== "destroyed")) return;
      off();
      if (event.type === "established" || this.#stopping) return;
      sa.log.info(`retrying ${peerId} in ${Math.round(delayMs / 1000)} s`);
      const timer = setTimeout(() => {
        this.#retryTimers.delete(timer);
        this.#attempt(realmId, peerId, Math.min(delayMs * 2, RETRY_MAX_MS));
      }, delayMs);
      this.#retryTimers.add(timer);
    });
  }

  /** Deletes every SA (used on shutdown). */
  async shutdown(): Promise<void> {
    this.#stopping = true;
    for (const timer of this.#retryTimers) clearTimeout(timer);
    this.#retryTimers.clear();
    this.#held.clear();
    await Promise.all(this.list().map((sa) => this.deleteSa(sa)));
  }

  /** Starts a rekey of an established IKE SA (CREATE_CHILD_SA, RFC 7296 §1.3.2). */
  rekeyIkeSa(sa: IkeSa): void {
    const entry = this.#sas.get(toHex(sa.localSpi));
    if (!entry || sa.state !== IkeSaState.Established || sa.rekeying || sa.replacedBy) return;
    sa.log.info(`rekeying IKE_SA with ${sa.remoteId}`);
    entry.manager.queue(ExchangeType.CreateChildSa, [
      new IkeRekeyInitiatorTask(sa, this.#services, this.#rekeyHost),
    ]);
    this.#serialize(entry, () => entry.manager.initiate());
  }

  /** Starts a rekey of one child SA (CREATE_CHILD_SA with REKEY_SA, RFC 7296 §1.3.3). */
  rekeyChildSa(sa: IkeSa, child: ChildSaRecord): void {
    const entry = this.#sas.get(toHex(sa.localSpi));
    if (!entry || sa.state !== IkeSaState.Established || child.rekeying) return;
    if (!sa.children.includes(child)) return;
    sa.log.info(`rekeying CHILD_SA ${formatSpi(child.spiIn)}`);
    entry.manager.queue(ExchangeType.CreateChildSa, [
      new ChildCreateInitiatorTask(sa, this.#services, { kind: "create_child_sa", rekey: child }),
    ]);
    this.#serialize(entry, () => entry.manager.initiate());
  }

  /**
   * Traffic for a realm with no SA: re-initiates toward peers whose SA died under
   * dpd_action="hold" (the appliance calls this from the data path's no-route hook).
   */
  acquire(realmId: number): void {
    const held = this.#held.get(realmId);
    if (!held || held.size === 0) return;
    this.#held.delete(realmId);
    for (const peerId of held) {
      this.log.info(`traffic for held peer ${peerId}: initiating`);
      try {
        this.initiate(realmId, peerId);
      } catch (e) {
        this.log.warn((e as Error).message);
      }
    }
  }

  #onUndecodable(e: unknown, raw: Uint8Array, from: Endpoint, localPort: number): void {
    if (e instanceof UnsupportedCriticalPayloadError) {
      this.counters.add("rxUnsupportedCritical");
      // Answer only unauthenticated IKE_SA_INIT requests; everything else is dropped.
      if (
        raw.length >= 28 && raw[18] === ExchangeType.IkeSaInit &&
        (raw[19]! & HeaderFlag.Response) === 0
      ) {
        const response = encodeMessage({
          initiatorSpi: raw.slice(0, 8),
          responderSpi: new Uint8Array(8),
          majorVersion: IKE_MAJOR_VERSION,
          minorVersion: 0,
          exchangeType: ExchangeType.IkeSaInit,
          flags: HeaderFlag.Response,
          messageId: 0,
        }, [{
          type: PayloadType.Notify,
          protocol: 0,
          spi: new Uint8Array(0),
          notifyType: NotifyType.UnsupportedCriticalPayload,
          data: new Uint8Array([e.payloadType]),
        }]);
        this.#options.transport.send(response, from, localPort);
      }
      return;
    }
    this.counters.add("rxMalformed");
    if (e instanceof DecodeError) {
      this.log.debug(`dropping malformed datagram from ${from.address}:${from.port}: ${e.message}`);
    } else {
      this.log.warn(`dropping datagram from ${from.address}:${from.port}: ${(e as Error).message}`);
    }
  }

  #otherSpiMatches(sa: IkeSa, header: IkeHeader): boolean {
    if (sa.initiator) {
      // Before IKE_SA_INIT completes our copy of SPIr is zero.
      return bytesEqual(sa.spiR, ZERO_SPI) || bytesEqual(sa.spiR, header.responderSpi);
    }
    return bytesEqual(sa.spiI, header.initiatorSpi);
  }

  /**
   * Admission of an IKE_SA_INIT from an unknown initiator (admission.ts): true = go on and
   * create the half-open SA. Otherwise it was answered with a stateless COOKIE (RFC 7296 §2.6)
   * or dropped, and nothing was kept.
   */
  #admitInit(
    header: IkeHeader,
    payloads: Payload[],
    from: Endpoint,
    localPort: number,
  ): boolean {
    const nonce = payloads.find((p) => p.type === PayloadType.Nonce) as NoncePayload | undefined;
    const first = payloads[0] as NotifyPayload | undefined;
    let evidence: CookieEvidence = "none";
    if (nonce && first?.type === PayloadType.Notify && first.notifyType === NotifyType.Cookie) {
      evidence = this.#cookies.verify(first.data, nonce.nonce, from.address, header.initiatorSpi)
        ? "valid"
        : "invalid";
      if (evidence === "invalid") this.counters.add("cookiesRejected");
    }
    const verdict = this.#admission.decide(this.#halfOpen.size, evidence);
    if (verdict.action === "process") {
      if (verdict.reason === "cookie") this.counters.add("cookiesAccepted");
      return true;
    }
    if (verdict.action === "drop") {
      this.counters.add(
        verdict.reason === "half_open_limit" ? "halfOpenLimited" : "cookiesDropped",
      );
      this.#refused(verdict.reason);
      return false;
    }
    if (verdict.reason === "rate") this.counters.add("initOverRate");
    this.#refused(verdict.reason);
    if (!nonce) {
      // No nonce, no cookie to compute: the request is malformed anyway (RFC 7296 §1.2).
      this.counters.add("rxMalformed");
      return false;
    }
    this.counters.add("cookiesSent");
    const response = encodeMessage({
      initiatorSpi: header.initiatorSpi,
      responderSpi: new Uint8Array(8),
      majorVersion: IKE_MAJOR_VERSION,
      minorVersion: 0,
      exchangeType: ExchangeType.IkeSaInit,
      flags: HeaderFlag.Response,
      messageId: 0,
    }, [{
      type: PayloadType.Notify,
      protocol: 0,
      spi: new Uint8Array(0),
      notifyType: NotifyType.Cookie,
      data: this.#cookies.issue(nonce.nonce, from.address, header.initiatorSpi),
    }]);
    this.#options.transport.send(response, from, localPort);
    return false;
  }

  /** One log line per interval while IKE_SA_INITs are being refused, not one per request. */
  #refused(reason: string): void {
    this.#refusedSinceLog++;
    const now = Date.now();
    if (now - this.#lastAdmissionLog < ADMISSION_LOG_INTERVAL_MS) return;
    const c = this.counters;
    this.log.warn(
      `IKE_SA_INIT under load (${reason}): ${this.#refusedSinceLog} request(s) refused since the last report; half-open SAs ${this.#halfOpen.size}, COOKIEs sent ${
        c.get("cookiesSent")
      }, accepted ${c.get("cookiesAccepted")}, dropped ${
        c.get("cookiesDropped") + c.get("halfOpenLimited")
      }`,
    );
    this.#refusedSinceLog = 0;
    this.#lastAdmissionLog = now;
  }

  #halfOpenFor(spiI: Uint8Array, from: Endpoint, localPort: number): Entry {
    const key = halfOpenKey(spiI, from);
    const existing = this.#halfOpen.get(key);
    if (existing) return existing;
    const sa = new IkeSa({
      initiator: false,
      crypto: this.#options.crypto,
      log: this.log,
      spiI: spiI.slice(),
      spiR: this.#randomSpi(),
      local: { address: this.#options.localAddress, port: localPort },
      remote: { ...from },
    });
    const entry = this.#register(sa);
    entry.halfOpenKey = key;
    this.#halfOpen.set(key, entry);
    const peak = this.counters.get("halfOpenPeak");
    if (this.#halfOpen.size > peak) this.counters.add("halfOpenPeak", this.#halfOpen.size - peak);
    entry.halfOpenTimer = setTimeout(() => {
      entry.halfOpenTimer = undefined;
      if (sa.state !== IkeSaState.Established && sa.state !== IkeSaState.Destroyed) {
        this.counters.add("halfOpenExpired");
        void this.#destroy(sa, "IKE_AUTH did not complete in time");
      }
    }, this.#options.halfOpenTimeoutMs ?? 30_000);
    sa.log.debug(`new responder SA for ${from.address}:${from.port}`);
    return entry;
  }

  #register(sa: IkeSa): Entry {
    const entry: Entry = {
      sa,
      manager: new TaskManager(sa, {
        send: (_sa, bytes, to, localPort) => {
          if (bytes[16] === PayloadType.EncryptedFragment) this.counters.add("txFragments");
          this.#options.transport.send(bytes, to, localPort);
        },
        fragmentBudget: (s, to, localPort) => this.#fragmentBudget(s, to, localPort),
        destroy: (s, reason, peerDead) => this.#destroy(s, reason, peerDead),
        responderTasks: (s, type) => this.#responderTasks(s, type),
        exchangeDone: (s) => this.#exchangeDone(s),
      }, this.#options.retransmit ?? DEFAULT_RETRANSMIT),
      lock: Promise.resolve(),
      halfOpenKey: undefined,
      halfOpenTimer: undefined,
      announced: false,
      rekeyTimer: undefined,
      livenessTimer: undefined,
      livenessArmedAt: 0,
      lastEspInbound: 0,
      fragments: new FragmentReassembler(),
    };
    this.#sas.set(toHex(sa.localSpi), entry);
    return entry;
  }

  /**
   * IKE message bytes toward `to` above which a protected message goes in fragments: only
   * when both ends agreed in IKE_SA_INIT and the SA's realm (once known) allows it.
   */
  #fragmentBudget(sa: IkeSa, to: Endpoint, localPort: number): number | undefined {
    if (!sa.fragmentation || sa.realm?.fragmentation === false) return undefined;
    const size = sa.realm?.fragmentSize ?? this.#options.fragmentSize ?? DEFAULT_FRAGMENT_SIZE;
    return ikeMessageBudget(size, to, localPort === this.#services.natTPort);
  }

  #responderTasks(sa: IkeSa, exchangeType: number): Task[] | undefined {
    const s = this.#services;
    switch (exchangeType) {
      case ExchangeType.IkeSaInit:
        return sa.state === IkeSaState.Connecting
          ? [
            new IkeInitResponderTask(sa, s),
            new NatDetectionResponderTask(sa, s),
            new IkeCertPreTask(sa, s),
          ]
          : undefined;
      case ExchangeType.IkeAuth:
        return sa.state === IkeSaState.Authenticating
          ? [
            new IkeAuthResponderTask(sa, s),
            new AfterAuthTask(sa, new ConfigResponderTask(sa, s)),
            new AfterAuthTask(sa, new ChildCreateResponderTask(sa, s)),
          ]
          : undefined;
      case ExchangeType.Informational:
        if (sa.state === IkeSaState.Authenticating) return [new IkeAuthAbortTask(sa)];
        return sa.state === IkeSaState.Established
          ? [new InformationalResponderTask(sa, s)]
          : undefined;
      case ExchangeType.CreateChildSa:
        return sa.state === IkeSaState.Established && !sa.replacedBy
          ? [new CreateChildSaResponderTask(sa, s, this.#rekeyHost)]
          : undefined;
      default:
        return undefined;
    }
  }

  #exchangeDone(sa: IkeSa): void {
    const entry = this.#sas.get(toHex(sa.localSpi));
    if (!entry || sa.state !== IkeSaState.Established) return;
    if (!entry.announced) {
      entry.announced = true;
      this.#clearHalfOpen(entry);
      this.counters.add("established");
      if (sa.initialContact) this.#dropReplaced(sa);
      this.#scheduleIkeTimers(entry);
      this.#emit({ type: "established", sa });
      if (sa.initiator && sa.addressing.failed) {
        // We asked for an inner address and got none: the SA is of no use (config_request.ts).
        entry.manager.queue(ExchangeType.Informational, [new IkeDeleteTask(sa)]);
      }
    }
    const s = this.#services;
    if (sa.staleChildren.length > 0) {
      // Our rekey installed the new pair; now the old one goes (make-before-break).
      this.counters.add("childRekeys", sa.staleChildren.length);
      for (const child of sa.staleChildren) this.#emit({ type: "child_rekeyed", sa, child });
      entry.manager.queue(ExchangeType.Informational, [
        new ChildDeleteTask(sa, s, sa.staleChildren.splice(0)),
      ]);
    }
    if (sa.replacedBy && sa.rekeying) {
      // We rekeyed this IKE SA: delete the old one (its children live on in the new SA).
      sa.rekeying = false;
      entry.manager.queue(ExchangeType.Informational, [new IkeDeleteTask(sa)]);
    }
  }

  /** Registers the IKE SA that replaces `predecessor` after a rekey. */
  #adopt(sa: IkeSa, predecessor: IkeSa): void {
    const entry = this.#register(sa);
    entry.announced = true;
    moveAddressing(predecessor, sa);
    this.counters.add("ikeRekeys");
    this.#stopIkeTimers(this.#sas.get(toHex(predecessor.localSpi)));
    this.#scheduleIkeTimers(entry);
    this.#emit({ type: "rekeyed", sa, predecessor });
  }

  /** Starts the IKE SA rekey and liveness timers of an established SA. */
  #scheduleIkeTimers(entry: Entry): void {
    const lifecycle = entry.sa.realm?.lifecycle;
    if (!lifecycle) return;
    if (lifecycle.ikeRekeySeconds > 0) {
      entry.rekeyTimer = setTimeout(() => {
        entry.rekeyTimer = undefined;
        this.rekeyIkeSa(entry.sa);
      }, jitter(lifecycle.ikeRekeySeconds));
    }
    this.#scheduleLiveness(entry);
  }

  #scheduleLiveness(entry: Entry): void {
    const seconds = entry.sa.realm?.lifecycle.dpdSeconds ?? 0;
    if (seconds <= 0) return;
    entry.livenessArmedAt = Date.now();
    entry.lastEspInbound = this.#espInbound(entry.sa);
    entry.livenessTimer = setTimeout(() => {
      entry.livenessTimer = undefined;
      this.#checkLiveness(entry, seconds * 1000);
    }, seconds * 1000);
  }

  /** RFC 7296 §2.4: only when nothing arrived for the interval do we ask the peer. */
  #checkLiveness(entry: Entry, intervalMs: number): void {
    const sa = entry.sa;
    if (this.#sas.get(toHex(sa.localSpi)) !== entry || sa.state !== IkeSaState.Established) return;
    const idle = sa.lastInbound < entry.livenessArmedAt &&
      this.#espInbound(sa) === entry.lastEspInbound;
    if (idle && !entry.manager.busy) {
      this.counters.add("livenessChecks");
      sa.log.debug(`no traffic from ${sa.remoteId} for ${intervalMs / 1000} s: liveness check`);
      entry.manager.queue(ExchangeType.Informational, [new LivenessTask()]);
      this.#serialize(entry, () => entry.manager.initiate());
    }
    this.#scheduleLiveness(entry);
  }

  /** ESP packets received on all children of `sa`. */
  #espInbound(sa: IkeSa): number {
    const count = this.#options.childSas.inboundPackets;
    return count ? sa.children.reduce((n, c) => n + count.call(this.#options.childSas, c), 0) : 0;
  }

  #stopIkeTimers(entry: Entry | undefined): void {
    if (!entry) return;
    if (entry.rekeyTimer !== undefined) clearTimeout(entry.rekeyTimer);
    if (entry.livenessTimer !== undefined) clearTimeout(entry.livenessTimer);
    entry.rekeyTimer = undefined;
    entry.livenessTimer = undefined;
  }

  /** Soft lifetime: rekey; hard lifetime (10 % later): delete if the rekey did not happen. */
  #scheduleChild(child: ChildSaRecord, seconds: number): void {
    if (seconds <= 0) return;
    const timers: ChildTimers = { rekey: undefined, expire: undefined };
    timers.rekey = setTimeout(() => {
      timers.rekey = undefined;
      const sa = this.#ownerOf(child);
      if (sa && !child.rekeying) this.rekeyChildSa(sa, child);
    }, jitter(seconds));
    timers.expire = setTimeout(() => {
      timers.expire = undefined;
      const sa = this.#ownerOf(child);
      if (!sa) return;
      sa.log.warn(`CHILD_SA ${formatSpi(child.spiIn)} reached its hard lifetime: deleting it`);
      const entry = this.#sas.get(toHex(sa.localSpi))!;
      entry.manager.queue(ExchangeType.Informational, [
        new ChildDeleteTask(sa, this.#services, [child]),
      ]);
      this.#serialize(entry, () => entry.manager.initiate());
    }, seconds * 1100);
    this.#childTimers.set(child, timers);
  }

  #clearChildTimers(child: ChildSaRecord): void {
    const timers = this.#childTimers.get(child);
    if (!timers) return;
    if (timers.rekey !== undefined) clearTimeout(timers.rekey);
    if (timers.expire !== undefined) clearTimeout(timers.expire);
    this.#childTimers.delete(child);
  }

  /** The live IKE SA that currently owns `child` (children move on an IKE rekey). */
  #ownerOf(child: ChildSaRecord): IkeSa | undefined {
    for (const { sa } of this.#sas.values()) {
      if (sa.state === IkeSaState.Established && !sa.replacedBy && sa.children.includes(child)) {
        return sa;
      }
    }
    return undefined;
  }

  /**
   * INITIAL_CONTACT (RFC 7296 §2.4): the peer has no other SA with us, so every older SA
   * between the same identities is stale; remove them without telling the peer.
   */
  #dropReplaced(sa: IkeSa): void {
    for (const other of this.list()) {
      if (
        other !== sa && other.realm?.id === sa.realm?.id && other.remoteId === sa.remoteId &&
        other.localId === sa.localId && other.state !== IkeSaState.Destroyed
      ) {
        void this.#destroy(other, `replaced by IKE_SA #${sa.serial} (peer sent INITIAL_CONTACT)`);
      }
    }
  }

  #clearHalfOpen(entry: Entry): void {
    if (entry.halfOpenTimer !== undefined) clearTimeout(entry.halfOpenTimer);
    entry.halfOpenTimer = undefined;
    if (entry.halfOpenKey) this.#halfOpen.delete(entry.halfOpenKey);
    entry.halfOpenKey = undefined;
  }

  async #destroy(sa: IkeSa, reason: string, peerDead = false): Promise<void> {
    const key = toHex(sa.localSpi);
    const entry = this.#sas.get(key);
    if (!entry || entry.sa !== sa) return;
    this.#sas.delete(key);
    this.#clearHalfOpen(entry);
    this.#stopIkeTimers(entry);
    entry.manager.dispose();
    const remoteTs = sa.children.flatMap((c) => c.remoteTs);
    for (const child of sa.children.splice(0)) {
      try {
        await this.#services.childSas.remove(sa, child);
      } catch (e) {
        sa.log.warn(
          `Cannot remove CHILD_SA 0x${child.spiIn.toString(16)}: ${(e as Error).message}`,
        );
      }
    }
    await releaseAddressing(sa, this.#services);
    const established = entry.announced;
    sa.destroy();
    if (!established) this.counters.add("failed");
    const line = `IKE_SA ${sa.spiText} with ${sa.remoteId ?? sa.remote.address} ${
      established ? "deleted" : "failed"
    }: ${reason}`;
    if (established || reason === "closed locally") sa.log.info(line);
    else sa.log.warn(line);
    this.#emit({ type: "destroyed", sa, reason });
    if (peerDead && established && !sa.replacedBy) this.#onDeadPeer(sa, remoteTs);
  }

  /** The realm's dpd_action for a peer that stopped answering (RFC 7296 §2.4). */
  #onDeadPeer(sa: IkeSa, remoteTs: readonly TrafficSelector[]): void {
    this.counters.add("deadPeers");
    const realm = sa.realm;
    const peer = sa.peer;
    if (!realm || !peer) return;
    const action = realm.lifecycle.dpdAction;
    if (action === "clear") return;
    if (!peer.address) {
      sa.log.info(`dpd_action=${action} needs an address for ${peer.id}; the SA stays cleared`);
      return;
    }
    if (action === "restart") {
      sa.log.info(`dpd_action=restart: initiating to ${peer.id} again`);
      this.keepUp(realm.id, peer.id);
      return;
    }
    sa.log.info(`dpd_action=hold: initiating to ${peer.id} again when traffic needs it`);
    const held = this.#held.get(realm.id) ?? new Set<string>();
    held.add(peer.id);
    this.#held.set(realm.id, held);
    this.#options.childSas.holdRoutes?.(realm.id, remoteTs).catch((e) =>
      sa.log.warn(`Cannot hold routes for ${peer.id}: ${(e as Error).message}`)
    );
  }

  #serialize(entry: Entry, step: () => Promise<void>): Promise<void> {
    const next = entry.lock.then(step).catch((e) => {
      entry.sa.log.error(`internal error: ${(e as Error).stack ?? e}`);
    });
    entry.lock = next;
    return next;
  }

  #emit(event: IkeEngineEvent): void {
    for (const l of this.#listeners) {
      try {
        l(event);
      } catch (e) {
        this.log.error(`event listener failed: ${(e as Error).message}`);
      }
    }
  }

  #randomSpi(): Uint8Array {
    const spi = new Uint8Array(8);
    do this.#options.crypto.randomBytes(spi); while (
      bytesEqual(spi, ZERO_SPI) || this.#sas.has(toHex(spi))
    );
    return spi;
  }

  #allocateSpi(replaces?: number): number {
    const b = new Uint8Array(4);
    const affinity = replaces === undefined ? undefined : this.#options.spiAffinity;
    let spi: number;
    do {
      this.#options.crypto.randomBytes(b);
      spi = ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0;
    } while (
      spi < 256 || this.#spisInUse.has(spi) || (affinity !== undefined && !affinity(spi, replaces!))
    );
    this.#spisInUse.add(spi);
    return spi;
  }
}
