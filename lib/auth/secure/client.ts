/**
 * The main process's end of the IPC: sends typed requests, matches replies by id, checks each
 * result against its schema, and knows whether the secure process is up. While it is down
 * every request rejects at once with {@link SecureProcessUnavailableError} (an
 * AuthUnavailableError), so new SAs fail fast and cleanly; established ESP SAs do not need it.
 */
import { Logger } from "../../log/mod.ts";
import { IpCommandError } from "../../net/mod.ts";
import { SysRefusedError } from "../../sys_control/mod.ts";
import { AuthUnavailableError } from "../service.ts";
import { encodeFrame } from "./framing.ts";
import {
  type ArgsOf,
  encodeRequest,
  ErrorCode,
  type ErrorCodeName,
  parseResult,
  parseSecureMessage,
  type ReadyInfo,
  type RequestType,
  type ResultOf,
} from "./protocol.ts";

/** Default time a request may take before it is given up. */
export const REQUEST_TIMEOUT_MS = 10_000;

/** The secure process is not running (it died and is being restarted, or never started). */
export class SecureProcessUnavailableError extends AuthUnavailableError {
  constructor(message: string) {
    super(message);
    this.name = "SecureProcessUnavailableError";
  }
}

/** The secure process answered a request with a refusal or an error. */
export class SecureRequestError extends Error {
  readonly code: ErrorCodeName;
  constructor(code: ErrorCodeName, message: string) {
    super(message);
    this.name = "SecureRequestError";
    this.code = code;
  }
}

/** The secure process could not start (its configuration, a user switch, ...). */
export class SecureStartError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SecureStartError";
  }
}

/** Options of {@link SecureClient}. */
export interface SecureClientOptions {
  /** Writes one frame to the secure side; false when there is nothing to write to. */
  send: (frame: Uint8Array) => boolean;
  timeoutMs?: number;
  log?: Logger;
  /** Every frame body received, before parsing (tests check it for secrets). */
  onReceive?: (body: Uint8Array) => void;
  /** Every frame sent (tests check it for secrets). */
  onSend?: (frame: Uint8Array) => void;
}

type ClientState = "starting" | "up" | "down" | "closed";

interface Pending {
  type: RequestType;
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
  timer: ReturnType<typeof setTimeout>;
}

/**
 * Requests over frames, with up/down state.
 *
 * @example
 * ```ts
 * const client = new SecureClient({ send: (frame) => supervisor.send(frame) });
 * supervisor.onBody = (body) => client.receive(body);
 * await client.waitReady();
 * const auth = await client.request("computePskAuth", { realmId: 1, peerId, prf, signedOctets });
 * ```
 */
export class SecureClient {
  readonly #options: SecureClientOptions;
  readonly #log: Logger;
  readonly #pending = new Map<number, Pending>();
  #nextId = 1;
  #state: ClientState = "starting";
  #info: ReadyInfo | undefined;
  #downReason = "it has not started yet";
  #refusedWhileDown = 0;
  /** A `restart` was asked for: the next down is expected. */
  #restarting = false;
  #readyWaiters: { resolve: (info: ReadyInfo) => void; reject: (e: Error) => void }[] = [];
  /** Called on every ready event; `again` after a restart. */
  onReady: ((info: ReadyInfo, again: boolean) => void) | undefined;

  constructor(options: SecureClientOptions) {
    this.#options = options;
    this.#log = options.log ?? new Logger("auth");
  }

  /** True while the secure process answers requests. */
  get up(): boolean {
    return this.#state === "up";
  }

  /** What the secure process said when it last became ready. */
  get info(): ReadyInfo | undefined {
    return this.#info;
  }

  /** Requests sent and not yet answered. */
  get pendingCount(): number {
    return this.#pending.size;
  }

  /**
   * Resolves with the ready information once the secure process is up; rejects with a
   * {@link SecureStartError} when it reports a failure or goes down first, or after `timeoutMs`.
   */
  waitReady(timeoutMs = 60_000): Promise<ReadyInfo> {
    if (this.#state === "up" && this.#info) return Promise.resolve(this.#info);
    if (this.#state === "closed") return Promise.reject(new SecureStartError("closed"));
    const { promise, resolve, reject } = Promise.withResolvers<ReadyInfo>();
    const timer = setTimeout(() => {
      this.#readyWaiters = this.#readyWaiters.filter((w) => w.resolve !== resolve);
      reject(new SecureStartError(`the secure process was not ready within ${timeoutMs} ms`));
    }, timeoutMs);
    this.#readyWaiters.push({
      resolve: (info) => {
        clearTimeout(timer);
        resolve(info);
      },
      reject: (e) => {
        clearTimeout(timer);
        reject(e);
      },
    });
    return promise;
  }

  /**
   * Sends a request; resolves with its checked result. Rejects at once with
   * {@link SecureProcessUnavailableError} while the secure process is down.
   */
  request<K extends RequestType>(type: K, args: ArgsOf<K>): Promise<ResultOf<K>> {
    if (this.#state !== "up") {
      return Promise.reject(this.#unavailable(type));
    }
    const id = this.#nextId;
    this.#nextId = this.#nextId >= 0xffff_ffff ? 1 : this.#nextId + 1;
    let frame: Uint8Array;
    try {
      frame = encodeFrame(encodeRequest(id, type, args));
    } catch (e) {
      return Promise.reject(e);
    }
    const { promise, resolve, reject } = Promise.withResolvers<unknown>();
    const timeoutMs = this.#options.timeoutMs ?? REQUEST_TIMEOUT_MS;
    const timer = setTimeout(() => {
      this.#pending.delete(id);
      this.#log.warn(`the secure process did not answer ${type} within ${timeoutMs} ms`);
      reject(
        new SecureProcessUnavailableError(
          `Cannot ${type}: the secure process did not answer within ${timeoutMs} ms`,
        ),
      );
    }, timeoutMs);
    this.#pending.set(id, { type, resolve, reject, timer });
    this.#options.onSend?.(frame);
    if (!this.#options.send(frame)) {
      clearTimeout(timer);
      this.#pending.delete(id);
      return Promise.reject(this.#unavailable(type));
    }
    return promise as Promise<ResultOf<K>>;
  }

  /**
   * Asks the secure process to exit and start afresh (it re-reads rockhopper.xml and
   * auth.xml); resolves when the new one is ready. Requests made meanwhile are refused.
   */
  async restart(timeoutMs = 30_000): Promise<ReadyInfo> {
    const next = this.#nextReady(timeoutMs);
    this.#restarting = true;
    try {
      await this.request("restart", {});
    } catch (e) {
      this.#restarting = false;
      next.cancel();
      throw e;
    }
    return await next.promise;
  }

  /** Takes one frame body from the secure side (a reply or an event). */
  receive(body: Uint8Array): void {
    this.#options.onReceive?.(body);
    let message;
    try {
      message = parseSecureMessage(body);
    } catch (e) {
      this.#log.error(
        `ignored a malformed message from the secure process: ${(e as Error).message}`,
      );
      return;
    }
    switch (message.kind) {
      case "ready":
        this.#onReady(message.info);
        return;
      case "failed":
        // At the first start the caller reports it (SecureStartError); later it is news.
        if (this.#info) this.#log.error(`the secure process cannot start: ${message.message}`);
        this.#goDown(message.message, true);
        return;
      case "down":
        this.#goDown(message.reason, false);
        return;
      case "reply":
        break;
    }
    if (message.id === null) {
      this.#log.warn(
        `the secure process refused a request it could not read: ${
          message.ok ? "(no detail)" : message.message
        }`,
      );
      return;
    }
    const pending = this.#pending.get(message.id);
    if (!pending) {
      this.#log.debug(`ignored a reply for unknown request ${message.id}`);
      return;
    }
    this.#pending.delete(message.id);
    clearTimeout(pending.timer);
    if (!message.ok) {
      pending.reject(errorFor(pending.type, message.code, message.message));
      return;
    }
    try {
      pending.resolve(parseResult(pending.type, message.result));
    } catch (e) {
      this.#log.error(`malformed reply to ${pending.type}: ${(e as Error).message}`);
      pending.reject(
        new SecureRequestError(
          ErrorCode.Malformed,
          `Cannot ${pending.type}: malformed reply (${(e as Error).message})`,
        ),
      );
    }
  }

  /** Stops: every pending and later request rejects. */
  close(): void {
    this.#goDown("rockhopper is stopping", false);
    this.#state = "closed";
  }

  /** The next ready event (after a restart), or a rejection after `timeoutMs`. */
  #nextReady(timeoutMs: number): { promise: Promise<ReadyInfo>; cancel(): void } {
    const { promise, resolve, reject } = Promise.withResolvers<ReadyInfo>();
    const previous = this.onReady;
    const timer = setTimeout(() => {
      this.onReady = previous;
      reject(new SecureStartError(`the secure process was not back within ${timeoutMs} ms`));
    }, timeoutMs);
    this.onReady = (info, again) => {
      this.onReady = previous;
      clearTimeout(timer);
      previous?.(info, again);
      resolve(info);
    };
    return {
      promise,
      cancel: () => {
        clearTimeout(timer);
        this.onReady = previous;
      },
    };
  }

  #onReady(info: ReadyInfo): void {
    const again = this.#info !== undefined;
    this.#info = info;
    this.#state = "up";
    if (this.#refusedWhileDown > 0) {
      this.#log.info(
        `${this.#refusedWhileDown} request(s) were refused while the secure process was down`,
      );
    }
    this.#refusedWhileDown = 0;
    const waiters = this.#readyWaiters;
    this.#readyWaiters = [];
    for (const w of waiters) w.resolve(info);
    this.onReady?.(info, again);
  }

  #goDown(reason: string, failed: boolean): void {
    if (this.#state === "closed") return;
    const wasUp = this.#state === "up";
    this.#state = "down";
    this.#downReason = this.#restarting && !failed
      ? "it is restarting to load a changed configuration"
      : reason;
    this.#restarting = false;
    for (const [id, pending] of this.#pending) {
      clearTimeout(pending.timer);
      this.#pending.delete(id);
      pending.reject(
        new SecureProcessUnavailableError(
          `Cannot ${pending.type}: the secure process went down before answering (${reason})`,
        ),
      );
    }
    const waiters = this.#readyWaiters;
    this.#readyWaiters = [];
    for (const w of waiters) w.reject(new SecureStartError(reason));
    if (wasUp && !failed) this.#log.debug(`secure process down: ${this.#downReason}`);
  }

  #unavailable(type: RequestType): SecureProcessUnavailableError {
    if (this.#refusedWhileDown++ === 0 && this.#state !== "closed") {
      this.#log.warn(
        `refusing ${type} and every new SA while the secure process is down (${this.#downReason})`,
      );
    }
    return new SecureProcessUnavailableError(
      `Cannot ${type}: the secure process is not running (${this.#downReason}); new SAs are refused until it is back`,
    );
  }
}

/** The error a failed reply becomes: the same classes the in-process services throw. */
function errorFor(type: RequestType, code: ErrorCodeName, message: string): Error {
  switch (code) {
    case ErrorCode.Unavailable:
      return new AuthUnavailableError(message);
    case ErrorCode.Refused:
      return new SysRefusedError(message);
    case ErrorCode.CommandFailed:
      return new IpCommandError(message, {
        argv: [],
        stderr: message,
        exitCode: null,
        timedOut: false,
      });
    default:
      return new SecureRequestError(
        code,
        `Cannot ${type}: the secure process refused it (${code}): ${message}`,
      );
  }
}
