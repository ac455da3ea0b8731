/**
 * EAP conversations inside IKE_AUTH (RFC 7296 §2.16), kept where the passwords are: the
 * secure process (or, for library use, the LocalAuthService). The IKE engine holds only a
 * session number; it gets EAP packets and a verdict back, and AUTH values keyed with the MSK,
 * never the MSK or a password.
 *
 * Sessions are bounded ({@link MAX_EAP_SESSIONS}) and forgotten after
 * {@link EAP_SESSION_IDLE_MS} without use, so a peer that walks away mid-conversation leaks
 * nothing.
 */
import type { AuthConfig, RealmAuthConfig } from "../config/mod.ts";
import type { CryptoProvider } from "../crypto/mod.ts";
import { Logger } from "../log/mod.ts";
import { bytesEqual } from "../wire/mod.ts";
import {
  createEapPeer,
  createEapServer,
  type EapConversation,
  type EapMethodName,
  type EapStep,
} from "./eap/mod.ts";
import { pskAuth } from "./psk.ts";
import {
  type AuthMethodName,
  AuthUnavailableError,
  type EapAuthRequest,
  type EapRound,
  type EapStartRequest,
  type EapVerifyRequest,
  isEapMethod,
} from "./service.ts";

/** Conversations alive at once; a new one beyond this is refused. */
export const MAX_EAP_SESSIONS = 4096;
/** A conversation idle this long is dropped (IKE gives up on a silent peer long before). */
export const EAP_SESSION_IDLE_MS = 120_000;

interface Session {
  conversation: EapConversation;
  realmId: number;
  peerId: string;
  role: "server" | "peer";
  lastUse: number;
  finished: boolean;
  success: boolean;
  msk: Uint8Array | undefined;
}

/** Where the sessions find the realm's configuration and how a peer must authenticate. */
export interface EapSessionsOptions {
  auth: AuthConfig;
  crypto: CryptoProvider;
  /** How `peerId` authenticates in `realmId` (the AuthService's peerMethod). */
  peerMethod(realmId: number, peerId: string): Promise<AuthMethodName | undefined>;
  /** Milliseconds since some epoch; tests inject a clock. */
  now?: () => number;
}

/**
 * The EAP half of an AuthService.
 *
 * @example
 * ```ts
 * const sessions = new EapSessions({ auth, crypto, peerMethod: (r, p) => service.peerMethod(r, p) });
 * const first = await sessions.start({ realmId: 1, role: "server", peerId: "email:a@example.com" });
 * ```
 */
export class EapSessions {
  readonly #options: EapSessionsOptions;
  readonly #sessions = new Map<number, Session>();
  readonly #log = new Logger("auth");
  #nextId = 1;

  constructor(options: EapSessionsOptions) {
    this.#options = options;
  }

  /** Conversations currently held. */
  get size(): number {
    return this.#sessions.size;
  }

  #now(): number {
    return this.#options.now?.() ?? Date.now();
  }

  #realm(realmId: number): RealmAuthConfig {
    const realm = this.#options.auth.realms.find((r) => r.id === realmId);
    if (!realm) throw new AuthUnavailableError(`Cannot start EAP: no realm ${realmId} in auth.xml`);
    return realm;
  }

  #sweep(): void {
    const limit = this.#now() - EAP_SESSION_IDLE_MS;
    for (const [id, session] of this.#sessions) {
      if (session.lastUse < limit) this.#drop(id, session);
    }
  }

  #drop(id: number, session: Session): void {
    session.conversation.dispose();
    session.msk?.fill(0);
    this.#sessions.delete(id);
  }

  async start(request: EapStartRequest): Promise<EapRound> {
    this.#sweep();
    if (this.#sessions.size >= MAX_EAP_SESSIONS) {
      throw new AuthUnavailableError(
        `Cannot start EAP: ${MAX_EAP_SESSIONS} conversations are already running`,
      );
    }
    const realm = this.#realm(request.realmId);
    let conversation: EapConversation;
    if (request.role === "server") {
      const method = await this.#options.peerMethod(request.realmId, request.peerId);
      if (!isEapMethod(method)) {
        throw new AuthUnavailableError(
          `Cannot start EAP: realm ${realm.id} does not authenticate ${request.peerId} with EAP (auth="${
            method ?? "none"
          }")`,
        );
      }
      const users = new Map((realm.eapUsers ?? []).map((u) => [u.name.toLowerCase(), u.password]));
      conversation = createEapServer(methodName(method), {
        credentials: (identity) => users.get(identity.toLowerCase()),
      });
    } else {
      const my = realm.myAuth;
      if (!isEapMethod(my.method) || my.password === undefined) {
        throw new AuthUnavailableError(
          `Cannot start EAP: realm ${realm.id} has no <my_auth method="eap-..."> with a password`,
        );
      }
      conversation = createEapPeer(methodName(my.method), {
        identity: my.eapIdentity ?? my.id.slice(my.id.indexOf(":") + 1),
        password: my.password,
      });
    }
    const id = this.#nextId++;
    const session: Session = {
      conversation,
      realmId: request.realmId,
      peerId: request.peerId,
      role: request.role,
      lastUse: this.#now(),
      finished: false,
      success: false,
      msk: undefined,
    };
    this.#sessions.set(id, session);
    return this.#round(id, session, conversation.start());
  }

  process(sessionId: number, packet: Uint8Array): Promise<EapRound> {
    const session = this.#live(sessionId);
    if (session.finished) {
      return Promise.reject(
        new AuthUnavailableError(`Cannot process EAP: conversation ${sessionId} is over`),
      );
    }
    session.lastUse = this.#now();
    return Promise.resolve(this.#round(sessionId, session, session.conversation.handle(packet)));
  }

  #live(sessionId: number): Session {
    const session = this.#sessions.get(sessionId);
    if (!session) {
      throw new AuthUnavailableError(`No EAP conversation ${sessionId} (expired or never started)`);
    }
    return session;
  }

  #round(id: number, session: Session, step: EapStep): EapRound {
    const round: EapRound = { session: id };
    if (step.send) round.send = step.send;
    const done = step.done;
    if (done) {
      session.finished = true;
      session.success = done.success;
      session.msk = done.success ? done.msk : undefined;
      round.done = { success: done.success, hasMsk: session.msk !== undefined };
      if (done.identity !== undefined) round.done.identity = done.identity;
      if (done.error) round.done.reason = done.error.message;
      const who = done.identity === undefined ? "" : ` identity "${done.identity}"`;
      const method = session.conversation.method;
      if (done.success) {
        this.#log.info(`EAP-${method.toUpperCase()} ${session.role}${who} succeeded`);
      } else {
        this.#log.warn(
          `EAP-${method.toUpperCase()} ${session.role}${who} failed: ${
            done.error?.message ?? "unknown"
          }`,
        );
      }
    }
    return round;
  }

  #msk(sessionId: number): Uint8Array {
    const session = this.#live(sessionId);
    if (!session.success || !session.msk) {
      throw new AuthUnavailableError(
        `Cannot compute EAP AUTH: conversation ${sessionId} has ${
          session.success ? "no MSK" : "not succeeded"
        }`,
      );
    }
    session.lastUse = this.#now();
    return session.msk;
  }

  auth(request: EapAuthRequest): Promise<Uint8Array> {
    try {
      const msk = this.#msk(request.session);
      return Promise.resolve(pskAuth(this.#options.crypto, request.prf, msk, request.signedOctets));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  async verifyAuth(request: EapVerifyRequest): Promise<boolean> {
    return bytesEqual(await this.auth(request), request.auth);
  }

  end(sessionId: number): Promise<void> {
    const session = this.#sessions.get(sessionId);
    if (session) this.#drop(sessionId, session);
    return Promise.resolve();
  }
}

function methodName(method: "eap-md5" | "eap-mschapv2"): EapMethodName {
  return method === "eap-md5" ? "md5" : "mschapv2";
}
