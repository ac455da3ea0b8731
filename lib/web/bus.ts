/**
 * Bus sessions: per session a bounded queue of event records, one long-poll reader at a time,
 * the session's log level and statistics interval; the hub fans control events and log
 * records out to the sessions allowed to see them and expires idle sessions.
 *
 * Event flow:
 *   1. control facade event / log record / statistics tick
 *   2. → every session whose admin scope covers the realm (log records: scope "any" and the
 *      session's level) → its queue (oldest dropped beyond the limit, counted as lost)
 *   3. → a pending GET /bus/read is answered at once with everything queued
 */
import type { AdminScope, ApplianceControl, ControlEvent } from "../appliance/mod.ts";
import type { WebUserGrant } from "../auth/mod.ts";
import { addLogSink, LogLevel, type LogLevelName, type LogRecord } from "../log/mod.ts";
import {
  type BusRecord,
  logAttributes,
  SERVICE_VPN,
  vpnTotals,
  writeDataPlane,
  writeEspRealm,
  writeIkeStatistics,
  writeVpn,
} from "./records.ts";

/** Tunables of the hub; lib/web/README.md documents the defaults. */
export interface BusOptions {
  /** How long a read waits for an event before the timeout answer. */
  readTimeoutMs: number;
  /** A session without any request (and no pending read) for this long is closed. */
  idleMs: number;
  /** Records kept per session; older ones are dropped and reported as `events_lost`. */
  queueLimit: number;
  /** Records in one read answer; the rest stay queued for the next read. */
  maxRecordsPerRead: number;
  /** Default statistics interval of new sessions; 0 = off. */
  statsIntervalMs: number;
  /** Open sessions at most (all users together). */
  maxSessions: number;
  /** Log records kept for `event_log_control history`. */
  logHistory: number;
}

export const DEFAULT_BUS_OPTIONS: BusOptions = {
  readTimeoutMs: 30_000,
  idleMs: 5 * 60_000,
  queueLimit: 1000,
  maxRecordsPerRead: 200,
  statsIntervalMs: 2_000,
  maxSessions: 64,
  logHistory: 500,
};

/** A session keeps "listening" this long after its last read ended (between two polls). */
const LISTENING_GRACE_MS = 5_000;

/** Session ids: 128 random bits as hex. */
function newSessionId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/** Levels a session may ask for: never `private` (key material stays in the local log). */
export type SessionLogLevel = Exclude<LogLevelName, "private"> | "off";

/** True when `scope` may see something of realm `realmId` (undefined: global things). */
export function scopeCovers(scope: AdminScope, realmId: number | undefined): boolean {
  return scope === "any" || (realmId !== undefined && realmId === scope);
}

/** One bus session. */
export class BusSession {
  readonly id: string = newSessionId();
  readonly grant: WebUserGrant;
  readonly source: string;
  readonly openedAt: number = Date.now();
  lastActive: number = Date.now();
  logLevel: SessionLogLevel = "off";
  #statsIntervalMs = 0;
  #statsTimer: ReturnType<typeof setInterval> | undefined;
  #serial = 0;
  #seq = 0;
  #queue: BusRecord[] = [];
  #lost = 0;
  #reader: ((records: BusRecord[]) => void) | undefined;
  #lastReadEnd = 0;
  #closed = false;
  readonly #options: BusOptions;
  readonly #onStats: (session: BusSession) => void;

  constructor(
    grant: WebUserGrant,
    source: string,
    options: BusOptions,
    onStats: (session: BusSession) => void,
  ) {
    this.grant = grant;
    this.source = source;
    this.#options = options;
    this.#onStats = onStats;
  }

  get scope(): AdminScope {
    return this.grant.realm;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Records waiting for a read. */
  get queued(): number {
    return this.#queue.length;
  }

  /** A read is pending, or one ended moments ago (the client is between two polls). */
  get listening(): boolean {
    return this.#reader !== undefined || Date.now() - this.#lastReadEnd < LISTENING_GRACE_MS;
  }

  get statsIntervalMs(): number {
    return this.#statsIntervalMs;
  }

  /** `serial_no` of the next response. */
  nextSerial(): number {
    return this.#serial++;
  }

  /** Sets the statistics interval (0 = off). */
  setStatsInterval(ms: number): void {
    if (this.#statsTimer !== undefined) clearInterval(this.#statsTimer);
    this.#statsTimer = undefined;
    this.#statsIntervalMs = ms;
    if (ms > 0 && !this.#closed) {
      this.#statsTimer = setInterval(() => {
        if (this.listening) this.#onStats(this);
      }, ms);
    }
  }

  /** Queues an event record (with `seq` and `time`) and wakes a pending read. */
  enqueue(record: BusRecord): void {
    if (this.#closed) return;
    this.#queue.push({
      ...record,
      attributes: { seq: this.#seq++, time: new Date().toISOString(), ...record.attributes },
    });
    if (this.#queue.length > this.#options.queueLimit) {
      this.#queue.shift();
      this.#lost++;
    }
    const reader = this.#reader;
    if (reader) {
      this.#reader = undefined;
      reader(this.#take());
    }
  }

  #take(): BusRecord[] {
    const records = this.#queue.splice(0, this.#options.maxRecordsPerRead);
    if (this.#lost > 0) {
      records.unshift({
        service: SERVICE_VPN,
        action: "events_lost",
        attributes: { time: new Date().toISOString(), count: this.#lost },
      });
      this.#lost = 0;
    }
    return records;
  }

  /**
   * The long poll: queued records at once, else the first records to arrive, else [] after
   * `timeoutMs`. A newer read answers an older pending one with [] (a client that lost its
   * connection may poll again at once).
   */
  read(timeoutMs: number, signal?: AbortSignal): Promise<BusRecord[]> {
    this.lastActive = Date.now();
    if (this.#reader) {
      const older = this.#reader;
      this.#reader = undefined;
      older([]);
    }
    if (this.#closed) return Promise.resolve([]);
    if (this.#queue.length > 0 || this.#lost > 0) {
      this.#lastReadEnd = Date.now();
      return Promise.resolve(this.#take());
    }
    return new Promise((resolve) => {
      let timer: ReturnType<typeof setTimeout> | undefined = undefined;
      const finish = (records: BusRecord[]) => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        if (this.#reader === finish) this.#reader = undefined;
        this.#lastReadEnd = Date.now();
        this.lastActive = Date.now();
        resolve(records);
      };
      const onAbort = () => finish([]);
      this.#reader = finish;
      timer = setTimeout(() => {
        if (this.#reader === finish) this.#reader = undefined;
        finish([]);
      }, timeoutMs);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  /** Idle: no request for `idleMs` and no pending read. */
  idle(now: number): boolean {
    return this.#reader === undefined && now - this.lastActive > this.#options.idleMs;
  }

  /** Ends the session; a pending read is answered with []. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.setStatsInterval(0);
    this.#queue = [];
    const reader = this.#reader;
    this.#reader = undefined;
    reader?.([]);
  }
}

/** The session table and the fan-out of events, log records and statistics. */
export class BusHub {
  readonly options: BusOptions;
  readonly #control: ApplianceControl;
  readonly #sessions = new Map<string, BusSession>();
  readonly #history: LogRecord[] = [];
  readonly #removeSink: () => void;
  #offControl: (() => void) | undefined;
  readonly #sweeper: ReturnType<typeof setInterval>;

  constructor(control: ApplianceControl, options: Partial<BusOptions> = {}) {
    this.options = { ...DEFAULT_BUS_OPTIONS, ...options };
    this.#control = control;
    this.#removeSink = addLogSink((record) => this.#onLog(record));
    const sweepEvery = Math.max(50, Math.min(30_000, Math.floor(this.options.idleMs / 2)));
    this.#sweeper = setInterval(() => this.#sweep(), sweepEvery);
  }

  /** Open sessions. */
  get size(): number {
    return this.#sessions.size;
  }

  /** Opens a session, or returns undefined when {@link BusOptions.maxSessions} are open. */
  open(grant: WebUserGrant, source: string): BusSession | undefined {
    this.#sweep();
    if (this.#sessions.size >= this.options.maxSessions) return undefined;
    const session = new BusSession(grant, source, this.options, (s) => this.#statistics(s));
    session.setStatsInterval(this.options.statsIntervalMs);
    this.#sessions.set(session.id, session);
    if (!this.#offControl) this.#offControl = this.#control.on((e) => this.#onControl(e));
    return session;
  }

  /** The open session with this id. */
  get(id: string): BusSession | undefined {
    const session = this.#sessions.get(id);
    if (session && session.idle(Date.now())) {
      this.close(id);
      return undefined;
    }
    return session;
  }

  /** Closes one session. */
  close(id: string): void {
    const session = this.#sessions.get(id);
    if (!session) return;
    this.#sessions.delete(id);
    session.close();
    if (this.#sessions.size === 0) {
      this.#offControl?.();
      this.#offControl = undefined;
    }
  }

  /** Closes every session and stops listening (server shutdown). */
  stop(): void {
    for (const id of [...this.#sessions.keys()]) this.close(id);
    clearInterval(this.#sweeper);
    this.#removeSink();
  }

  /** Queues up to `count` recent log records at `level` or more severe into `session`. */
  replayLog(session: BusSession, count: number): number {
    if (session.logLevel === "off" || count <= 0) return 0;
    const threshold = LogLevel[session.logLevel];
    const records = this.#history.filter((r) => LogLevel[r.level] <= threshold).slice(-count);
    for (const r of records) {
      session.enqueue({
        service: SERVICE_VPN,
        action: "log_record",
        attributes: logAttributes(r),
      });
    }
    return records.length;
  }

  #sweep(): void {
    const now = Date.now();
    for (const [id, session] of this.#sessions) if (session.idle(now)) this.close(id);
  }

  #onLog(record: LogRecord): void {
    if (record.level === "private") return;
    // Routine server chatter would feed a session's own polling back to it.
    if (record.subsystem === "web" && LogLevel[record.level] > LogLevel.info) return;
    this.#history.push(record);
    if (this.#history.length > this.options.logHistory) this.#history.shift();
    for (const session of this.#sessions.values()) {
      if (session.scope !== "any" || session.logLevel === "off") continue;
      if (LogLevel[record.level] > LogLevel[session.logLevel]) continue;
      session.enqueue({
        service: SERVICE_VPN,
        action: "log_record",
        attributes: logAttributes(record),
      });
    }
  }

  #onControl(event: ControlEvent): void {
    const now = Date.now();
    let realmId: number | undefined;
    let record: BusRecord;
    switch (event.type) {
      case "vpn_added":
      case "vpn_established":
        realmId = event.vpn.realmId;
        record = {
          service: SERVICE_VPN,
          action: event.type,
          attributes: { ike_sa: event.vpn.ikeSa, realm_id: realmId },
          body: (w) => writeVpn(w, event.vpn, now),
        };
        break;
      case "vpn_deleted":
        realmId = event.vpn.realmId;
        record = {
          service: SERVICE_VPN,
          action: event.type,
          attributes: {
            ike_sa: event.vpn.ikeSa,
            realm_id: realmId,
            reason: event.reason,
            was_established: event.wasEstablished,
          },
          body: (w) => writeVpn(w, event.vpn, now),
        };
        break;
      case "vpn_connect_i_error":
        realmId = event.vpn.realmId;
        record = {
          service: SERVICE_VPN,
          action: event.type,
          attributes: { ike_sa: event.vpn.ikeSa, realm_id: realmId, reason: event.reason },
          body: (w) => writeVpn(w, event.vpn, now),
        };
        break;
      case "realm_config_updated":
        realmId = event.realmId;
        record = {
          service: SERVICE_VPN,
          action: event.type,
          attributes: {
            realm_id: event.realmId,
            realm_name: event.realmName,
            change: event.change,
            user: event.user,
          },
        };
        break;
    }
    for (const session of this.#sessions.values()) {
      if (scopeCovers(session.scope, realmId)) session.enqueue(record);
    }
  }

  #statistics(session: BusSession): void {
    const scope = session.scope;
    const vpns = this.#control.status(scope);
    const esp = this.#control.espStatistics(scope);
    const ike = scope === "any" ? this.#control.ikeStatistics(scope) : undefined;
    const dataPlane = this.#control.dataPlaneStatistics(scope);
    session.enqueue({
      service: SERVICE_VPN,
      action: "statistics",
      attributes: { interval: session.statsIntervalMs / 1000 },
      body: (w) => {
        for (const vpn of vpns) {
          w.empty("vpn", {
            ike_sa: vpn.ikeSa,
            realm_id: vpn.realmId,
            peer_id: vpn.peerId,
            state: vpn.state,
            ...vpnTotals(vpn),
          });
        }
        for (const realm of esp) writeEspRealm(w, realm);
        if (dataPlane) writeDataPlane(w, dataPlane);
        if (ike) writeIkeStatistics(w, ike);
      },
    });
  }
}
