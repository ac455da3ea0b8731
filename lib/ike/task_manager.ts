/**
 * One task manager per IKE SA (strongSwan's task_manager_v2): queues exchanges as initiator,
 * answers requests as responder, owns message IDs (window size 1), retransmission with
 * exponential back-off, the cached last response for retransmitted requests, and the
 * splitting of large protected messages into IKE fragments (RFC 7383).
 */
import type { Endpoint } from "../net/mod.ts";
import { ExchangeType, HeaderFlag, IKE_MAJOR_VERSION, nameOf } from "./constants.ts";
import type { IkeSa } from "./ike_sa.ts";
import { IkeSaState } from "./ike_sa.ts";
import { type IncomingMessage, OutgoingMessage } from "./message.ts";
import { sealMessage } from "./fragmentation.ts";
import { encodeMessage } from "./payloads/mod.ts";
import type { Task, TaskStatus } from "./tasks/task.ts";

export interface RetransmitPolicy {
  /** First timeout in ms. */
  initialTimeoutMs: number;
  /** Back-off factor between tries. */
  factor: number;
  /** Retransmissions after the first send before giving up. */
  retries: number;
}

export const DEFAULT_RETRANSMIT: RetransmitPolicy = {
  initialTimeoutMs: 1000,
  factor: 2,
  retries: 5,
};

/** What the task manager needs from the engine. */
export interface TaskManagerIo {
  send(sa: IkeSa, bytes: Uint8Array, to: Endpoint, localPort: number): void;
  /**
   * Tears the SA down (children removed); `reason` is logged. `peerDead` says the peer stopped
   * answering (retransmissions exhausted), which triggers the realm's dpd_action.
   */
  destroy(sa: IkeSa, reason: string, peerDead?: boolean): Promise<void>;
  /** Responder tasks for an exchange type, or undefined when we do not answer it. */
  responderTasks(sa: IkeSa, exchangeType: number): Task[] | undefined;
  /** Called after an exchange completed (state may have changed). */
  exchangeDone(sa: IkeSa, exchangeType: number): void;
  /**
   * Largest IKE message toward `to` before a protected message is sent in fragments
   * (RFC 7383), or undefined when this SA does not fragment.
   */
  fragmentBudget?(sa: IkeSa, to: Endpoint, localPort: number): number | undefined;
}

interface Exchange {
  type: number;
  tasks: Task[];
}

interface ActiveRequest {
  exchange: Exchange;
  messageId: number;
  /** One datagram, or every fragment of the request: a retransmission repeats them all. */
  datagrams: Uint8Array[];
  to: Endpoint;
  localPort: number;
  tries: number;
  timer: ReturnType<typeof setTimeout> | undefined;
}

export class TaskManager {
  readonly #sa: IkeSa;
  readonly #io: TaskManagerIo;
  readonly #retransmit: RetransmitPolicy;
  readonly #queue: Exchange[] = [];
  #active: ActiveRequest | undefined;
  #nextRequestId = 0;
  #expectedRequestId = 0;
  #cachedResponse: { messageId: number; datagrams: Uint8Array[] } | undefined;
  /** Responder tasks waiting for the next request of a multi-round exchange. */
  #passive: Exchange | undefined;
  #disposed = false;

  constructor(sa: IkeSa, io: TaskManagerIo, retransmit: RetransmitPolicy = DEFAULT_RETRANSMIT) {
    this.#sa = sa;
    this.#io = io;
    this.#retransmit = retransmit;
  }

  /** True while a request of ours awaits its response. */
  get busy(): boolean {
    return this.#active !== undefined;
  }

  /** Queues an exchange we initiate; call {@link initiate} to start it. */
  queue(exchangeType: number, tasks: Task[]): void {
    this.#queue.push({ type: exchangeType, tasks });
  }

  /** Starts the next queued exchange unless one is active. */
  async initiate(): Promise<void> {
    if (this.#active || this.#disposed) return;
    const exchange = this.#queue.shift();
    if (!exchange) return;
    const sa = this.#sa;
    const message = new OutgoingMessage(exchange.type, false);
    for (const task of exchange.tasks) {
      const status = await this.#run(() => task.build(message), task);
      if (status === "failed") {
        await this.#io.destroy(sa, `${task.name} could not build its request`);
        return;
      }
    }
    const messageId = exchange.type === ExchangeType.IkeSaInit ? 0 : this.#nextRequestId;
    const to = { ...sa.remote };
    const datagrams = this.#encode(message, messageId, to, sa.local.port);
    if (exchange.type === ExchangeType.IkeSaInit) sa.initRequest = datagrams[0];
    this.#nextRequestId = messageId + 1;
    this.#active = {
      exchange,
      messageId,
      datagrams,
      to,
      localPort: sa.local.port,
      tries: 0,
      timer: undefined,
    };
    sa.log.debug(
      `sending ${
        nameOf(ExchangeType, exchange.type)
      } request ${messageId} to ${to.address}:${to.port}${fragmentsText(datagrams)}`,
    );
    this.#transmit();
  }

  #transmit(): void {
    const active = this.#active!;
    for (const d of active.datagrams) this.#io.send(this.#sa, d, active.to, active.localPort);
    const policy = this.#policy();
    const timeout = policy.initialTimeoutMs * policy.factor ** active.tries;
    active.timer = setTimeout(() => this.#onTimeout(), timeout);
  }

  #onTimeout(): void {
    const active = this.#active;
    if (!active || this.#disposed) return;
    active.timer = undefined;
    if (active.tries >= this.#policy().retries) {
      const name = nameOf(ExchangeType, active.exchange.type);
      this.#active = undefined;
      void this.#io.destroy(
        this.#sa,
        `${active.to.address}:${active.to.port} did not answer ${name} after ${active.tries} retransmissions`,
        true,
      );
      return;
    }
    active.tries++;
    this.#sa.log.debug(`retransmit ${active.tries} of request ${active.messageId}`);
    this.#transmit();
  }

  /** The realm's retransmission policy once the realm is known, else the engine default. */
  #policy(): RetransmitPolicy {
    return this.#sa.realm?.lifecycle.retransmit ?? this.#retransmit;
  }

  /** Processes a response to our active request. */
  async handleResponse(message: IncomingMessage): Promise<void> {
    const active = this.#active;
    const sa = this.#sa;
    if (!active || message.messageId !== active.messageId) {
      sa.log.debug(`dropping response ${message.messageId}: no such request outstanding`);
      return;
    }
    if (active.timer !== undefined) clearTimeout(active.timer);
    this.#active = undefined;
    const exchange = active.exchange;
    const unfinished: Task[] = [];
    for (const task of exchange.tasks) {
      const status = await this.#run(() => task.process(message), task);
      if (status === "failed") {
        await this.#io.destroy(sa, `${task.name} failed`);
        return;
      }
      if (status === "restart") {
        this.#queue.unshift(exchange);
        this.#nextRequestId = active.messageId;
        await this.initiate();
        return;
      }
      if (status === "more") unfinished.push(task);
    }
    if (unfinished.length > 0) {
      // Another round of the same exchange (IKE_AUTH with EAP, RFC 7296 §2.16).
      this.#queue.unshift({ type: exchange.type, tasks: unfinished });
      await this.initiate();
      return;
    }
    this.#io.exchangeDone(sa, exchange.type);
    if (sa.state === IkeSaState.Deleting) {
      await this.#io.destroy(sa, "delete acknowledged by the peer");
      return;
    }
    await this.initiate();
  }

  /** Answers a request from the peer (or repeats the cached answer to a retransmission). */
  async handleRequest(message: IncomingMessage): Promise<void> {
    const sa = this.#sa;
    const id = message.messageId;
    if (this.repeatResponse(id, message.from, message.localPort)) return;
    if (id !== this.#expectedRequestId) {
      sa.log.debug(`dropping request ${id}: expected ${this.#expectedRequestId}`);
      return;
    }
    const passive = this.#passive?.type === message.exchangeType ? this.#passive : undefined;
    this.#passive = undefined;
    const tasks = passive?.tasks ?? this.#io.responderTasks(sa, message.exchangeType);
    if (!tasks) {
      sa.log.debug(
        `dropping ${nameOf(ExchangeType, message.exchangeType)} request in state ${sa.state}`,
      );
      return;
    }
    const response = new OutgoingMessage(message.exchangeType, true);
    let failed: Task | undefined;
    for (const task of tasks) {
      if ((await this.#run(() => task.process(message), task)) === "failed") {
        failed = task;
        break;
      }
    }
    const unfinished: Task[] = [];
    for (const task of failed ? [failed] : tasks) {
      const status = await this.#run(() => task.build(response), task);
      if (status === "failed") failed ??= task;
      if (status === "more") unfinished.push(task);
    }
    const datagrams = this.#encode(response, id, message.from, message.localPort);
    if (message.exchangeType === ExchangeType.IkeSaInit) sa.initResponse = datagrams[0];
    this.#cachedResponse = { messageId: id, datagrams };
    this.#expectedRequestId = id + 1;
    if (datagrams.length > 1) {
      sa.log.debug(
        `sending ${nameOf(ExchangeType, message.exchangeType)} response ${id}${
          fragmentsText(datagrams)
        }`,
      );
    }
    for (const d of datagrams) this.#io.send(sa, d, message.from, message.localPort);
    if (failed) {
      await this.#io.destroy(sa, `${failed.name} failed`);
      return;
    }
    if (unfinished.length > 0) {
      // The peer's next request continues this exchange with the same tasks (EAP rounds).
      this.#passive = { type: message.exchangeType, tasks: unfinished };
      return;
    }
    this.#io.exchangeDone(sa, message.exchangeType);
    if (sa.state === IkeSaState.Deleting) await this.#io.destroy(sa, "deleted by peer");
  }

  async #run(step: () => Promise<TaskStatus>, task: Task): Promise<TaskStatus> {
    try {
      return await step();
    } catch (e) {
      this.#sa.log.error(`task ${task.name} failed: ${(e as Error).message}`);
      return "failed";
    }
  }

  /** True when the request with `messageId` has been answered and the answer is cached. */
  answered(messageId: number): boolean {
    return this.#cachedResponse?.messageId === messageId;
  }

  /**
   * Sends the cached response (all its fragments) again when `messageId` is the request it
   * answered; false otherwise.
   */
  repeatResponse(messageId: number, to: Endpoint, localPort: number): boolean {
    const cached = this.#cachedResponse;
    if (cached?.messageId !== messageId) return false;
    this.#sa.log.debug(`request ${messageId} retransmitted; repeating our response`);
    for (const d of cached.datagrams) this.#io.send(this.#sa, d, to, localPort);
    return true;
  }

  #encode(
    message: OutgoingMessage,
    messageId: number,
    to: Endpoint,
    localPort: number,
  ): Uint8Array[] {
    const sa = this.#sa;
    const flags = (sa.initiator ? HeaderFlag.Initiator : 0) |
      (message.isResponse ? HeaderFlag.Response : 0);
    const header = {
      initiatorSpi: sa.spiI,
      responderSpi: sa.spiR,
      majorVersion: IKE_MAJOR_VERSION,
      minorVersion: 0,
      exchangeType: message.exchangeType,
      flags,
      messageId,
    };
    if (message.exchangeType === ExchangeType.IkeSaInit || !sa.protection) {
      return [encodeMessage(header, message.payloads)];
    }
    const budget = this.#io.fragmentBudget?.(sa, to, localPort);
    return sealMessage(sa.protection, header, message.payloads, budget);
  }

  /** Stops timers; the SA is going away. */
  dispose(): void {
    this.#disposed = true;
    if (this.#active?.timer !== undefined) clearTimeout(this.#active.timer);
    this.#active = undefined;
    this.#passive = undefined;
    this.#queue.length = 0;
  }
}

function fragmentsText(datagrams: readonly Uint8Array[]): string {
  if (datagrams.length === 1) return "";
  const bytes = datagrams.reduce((n, d) => n + d.length, 0);
  return ` in ${datagrams.length} fragments (${bytes} bytes)`;
}
