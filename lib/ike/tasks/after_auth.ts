/**
 * The IKE_AUTH companions (configuration payload, first child SA) when authentication takes
 * several rounds (EAP, RFC 7296 §2.16): their payloads ride in the first request and the last
 * response only, as strongSwan's child_create and ike_config do.
 *
 * Initiator: build once (first request); process only the response that completes
 * authentication (the SA is established by then: ike_auth runs first).
 * Responder: a first request with AUTH is a single round — pass through. Without AUTH, keep
 * that request and process it right before building the last response, once the peer is
 * authenticated (and its realm final).
 */
import { PayloadType } from "../constants.ts";
import type { IkeSa } from "../ike_sa.ts";
import { IkeSaState } from "../ike_sa.ts";
import type { IncomingMessage, OutgoingMessage } from "../message.ts";
import type { Task, TaskStatus } from "./task.ts";

export class AfterAuthTask implements Task {
  readonly #sa: IkeSa;
  readonly #inner: Task;
  #built = false;
  #deferred: IncomingMessage | undefined;

  constructor(sa: IkeSa, inner: Task) {
    this.#sa = sa;
    this.#inner = inner;
  }

  get name(): string {
    return this.#inner.name;
  }

  build(message: OutgoingMessage): Promise<TaskStatus> {
    if (this.#sa.initiator) {
      if (this.#built) return Promise.resolve("more");
      this.#built = true;
      return this.#inner.build(message);
    }
    if (!this.#deferred) return this.#inner.build(message);
    if (this.#sa.state !== IkeSaState.Established) return Promise.resolve("more");
    return this.#buildDeferred(message, this.#deferred);
  }

  async #buildDeferred(message: OutgoingMessage, request: IncomingMessage): Promise<TaskStatus> {
    const processed = await this.#inner.process(request);
    const built = await this.#inner.build(message);
    return processed === "failed" ? "failed" : built;
  }

  process(message: IncomingMessage): Promise<TaskStatus> {
    if (this.#sa.initiator) {
      return this.#sa.state === IkeSaState.Established
        ? this.#inner.process(message)
        : Promise.resolve("more");
    }
    if (this.#deferred) return Promise.resolve("more");
    if (message.get(PayloadType.Authentication)) return this.#inner.process(message);
    this.#deferred = message;
    return Promise.resolve("more");
  }
}
