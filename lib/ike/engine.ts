/**
 * The IKE engine: the table of IKE SAs by our SPI, the entry point for every IKE datagram,
 * and the place that turns configuration into initiated SAs.
 *
 * Inbound flow:
 *   1. copy + decode the datagram (malformed → counted drop; unknown critical payload in an
 *      IKE_SA_INIT request → UNSUPPORTED_CRITICAL_PAYLOAD answer)
 *   2. IKE_SA_INIT request → new (or half-open) responder SA; otherwise look up by our SPI
 *   3. open the SK payload (ICV failure → counted drop); update the peer's endpoint
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
  NAT_T_PORT,
  NotifyType,
  PayloadType,
} from "./constants.ts";
import { IkeSa, IkeSaState } from "./ike_sa.ts";
import { IncomingMessage } from "./message.ts";
import { decodeMessage, encodeMessage, UnsupportedCriticalPayloadError } from "./payloads/mod.ts";
import type { EncryptedPayload, IkeHeader, Payload } from "./payloads/types.ts";
import { IntegrityError } from "./protection.ts";
import type { RealmPolicy } from "./realm_policy.ts";
import { DEFAULT_RETRANSMIT, type RetransmitPolicy, TaskManager } from "./task_manager.ts";
import { ChildCreateInitiatorTask, ChildCreateResponderTask } from "./tasks/child_create.ts";
import { NoAdditionalSasTask } from "./tasks/create_child_sa.ts";
import { IkeAuthInitiatorTask, IkeAuthResponderTask } from "./tasks/ike_auth.ts";
import { IkeInitInitiatorTask, IkeInitResponderTask } from "./tasks/ike_init.ts";
import { NatDetectionInitiatorTask, NatDetectionResponderTask } from "./tasks/ike_natd.ts";
import { IkeDeleteTask, InformationalResponderTask } from "./tasks/informational.ts";
import type { ChildSaInstaller, Task, TaskServices } from "./tasks/task.ts";

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
  /** Our addresses for NAT detection when bound to the wildcard address. */
  localAddresses?: () => string[];
  retransmit?: RetransmitPolicy;
  /** A responder SA that does not complete IKE_AUTH in this time is dropped. */
  halfOpenTimeoutMs?: number;
}

export type IkeEngineEvent =
  | { type: "established"; sa: IkeSa }
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
] as const;
export type IkeCounterName = typeof COUNTER_NAMES[number];

interface Entry {
  sa: IkeSa;
  manager: TaskManager;
  lock: Promise<void>;
  halfOpenKey: string | undefined;
  halfOpenTimer: ReturnType<typeof setTimeout> | undefined;
  announced: boolean;
}

const ZERO_SPI = new Uint8Array(8);

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
  readonly #ikePort: number;
  #realms: RealmPolicy[];

  constructor(options: IkeEngineOptions) {
    this.#options = options;
    this.#ikePort = options.ikePort ?? IKE_PORT;
    this.#realms = [...options.realms];
    this.#services = {
      crypto: options.crypto,
      auth: options.auth,
      realms: this.#realms,
      childSas: {
        install: (sa, child) => options.childSas.install(sa, child),
        remove: (sa, child) => {
          this.#spisInUse.delete(child.spiIn);
          return options.childSas.remove(sa, child);
        },
      },
      localAddresses: options.localAddresses ?? systemAddresses,
      allocateSpi: () => this.#allocateSpi(),
      natTPort: options.natTPort ?? NAT_T_PORT,
    };
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
      local: { address: this.#options.localAddress, port: this.#ikePort },
      remote: { address: peer.address, port: peer.port },
    });
    sa.realm = realm;
    sa.peer = peer;
    const entry = this.#register(sa);
    const s = this.#services;
    entry.manager.queue(ExchangeType.IkeSaInit, [
      new IkeInitInitiatorTask(sa, s),
      new NatDetectionInitiatorTask(sa, s),
    ]);
    entry.manager.queue(ExchangeType.IkeAuth, [
      new IkeAuthInitiatorTask(sa, s),
      new ChildCreateInitiatorTask(sa, s),
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
      const entry = this.#halfOpenFor(header.initiatorSpi, from, localPort);
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
    if (header.exchangeType !== ExchangeType.IkeSaInit) {
      const sk = payloads[payloads.length - 1] as EncryptedPayload | undefined;
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
      if (from.address !== sa.remote.address || from.port !== sa.remote.port) {
        sa.log.debug(`peer moved to ${from.address}:${from.port}`);
        sa.remote = { ...from };
        sa.local = { address: sa.local.address, port: localPort };
      }
    }
    const message = new IncomingMessage(header, payloads, raw, from, localPort);
    await this.#serialize(
      entry,
      () =>
        isResponse ? entry.manager.handleResponse(message) : entry.manager.handleRequest(message),
    );
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

  /** Deletes every SA (used on shutdown). */
  async shutdown(): Promise<void> {
    await Promise.all(this.list().map((sa) => this.deleteSa(sa)));
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

  #halfOpenFor(spiI: Uint8Array, from: Endpoint, localPort: number): Entry {
    const key = `${toHex(spiI)}/${from.address}/${from.port}`;
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
        send: (_sa, bytes, to, localPort) => this.#options.transport.send(bytes, to, localPort),
        destroy: (s, reason) => this.#destroy(s, reason),
        responderTasks: (s, type) => this.#responderTasks(s, type),
        exchangeDone: (s) => this.#exchangeDone(s),
      }, this.#options.retransmit ?? DEFAULT_RETRANSMIT),
      lock: Promise.resolve(),
      halfOpenKey: undefined,
      halfOpenTimer: undefined,
      announced: false,
    };
    this.#sas.set(toHex(sa.localSpi), entry);
    return entry;
  }

  #responderTasks(sa: IkeSa, exchangeType: number): Task[] | undefined {
    const s = this.#services;
    switch (exchangeType) {
      case ExchangeType.IkeSaInit:
        return sa.state === IkeSaState.Connecting
          ? [new IkeInitResponderTask(sa, s), new NatDetectionResponderTask(sa, s)]
          : undefined;
      case ExchangeType.IkeAuth:
        return sa.state === IkeSaState.Authenticating
          ? [new IkeAuthResponderTask(sa, s), new ChildCreateResponderTask(sa, s)]
          : undefined;
      case ExchangeType.Informational:
        return sa.state === IkeSaState.Established
          ? [new InformationalResponderTask(sa, s)]
          : undefined;
      case ExchangeType.CreateChildSa:
        return sa.state === IkeSaState.Established ? [new NoAdditionalSasTask(sa)] : undefined;
      default:
        return undefined;
    }
  }

  #exchangeDone(sa: IkeSa): void {
    const entry = this.#sas.get(toHex(sa.localSpi));
    if (!entry || entry.announced || sa.state !== IkeSaState.Established) return;
    entry.announced = true;
    this.#clearHalfOpen(entry);
    this.counters.add("established");
    if (sa.initialContact) this.#dropReplaced(sa);
    this.#emit({ type: "established", sa });
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

  async #destroy(sa: IkeSa, reason: string): Promise<void> {
    const key = toHex(sa.localSpi);
    const entry = this.#sas.get(key);
    if (!entry || entry.sa !== sa) return;
    this.#sas.delete(key);
    this.#clearHalfOpen(entry);
    entry.manager.dispose();
    for (const child of sa.children.splice(0)) {
      try {
        await this.#services.childSas.remove(sa, child);
      } catch (e) {
        sa.log.warn(
          `Cannot remove CHILD_SA 0x${child.spiIn.toString(16)}: ${(e as Error).message}`,
        );
      }
    }
    const established = entry.announced;
    sa.destroy();
    if (!established) this.counters.add("failed");
    const line = `IKE_SA ${sa.spiText} with ${sa.remoteId ?? sa.remote.address} ${
      established ? "deleted" : "failed"
    }: ${reason}`;
    if (established || reason === "closed locally") sa.log.info(line);
    else sa.log.warn(line);
    this.#emit({ type: "destroyed", sa, reason });
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

  #allocateSpi(): number {
    const b = new Uint8Array(4);
    let spi: number;
    do {
      this.#options.crypto.randomBytes(b);
      spi = ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0;
    } while (spi < 256 || this.#spisInUse.has(spi));
    this.#spisInUse.add(spi);
    return spi;
  }
}
