/**
 * CREATE_CHILD_SA as responder (RFC 7296 §1.3): one request type, three meanings, told apart by
 * its payloads — an IKE proposal rekeys the IKE SA, REKEY_SA rekeys a child, anything else
 * asks for an additional child SA.
 */
import { PayloadType, ProtocolId } from "../constants.ts";
import type { IkeSa } from "../ike_sa.ts";
import type { IncomingMessage, OutgoingMessage } from "../message.ts";
import { ChildCreateResponderTask } from "./child_create.ts";
import { type IkeRekeyHost, IkeRekeyResponderTask } from "./ike_rekey.ts";
import type { Task, TaskServices, TaskStatus } from "./task.ts";

export class CreateChildSaResponderTask implements Task {
  readonly name = "create_child_sa";
  readonly #sa: IkeSa;
  readonly #services: TaskServices;
  readonly #host: IkeRekeyHost;
  #inner: Task | undefined;

  constructor(sa: IkeSa, services: TaskServices, host: IkeRekeyHost) {
    this.#sa = sa;
    this.#services = services;
    this.#host = host;
  }

  process(message: IncomingMessage): Promise<TaskStatus> {
    const proposals = message.get(PayloadType.SecurityAssociation)?.proposals ?? [];
    this.#inner = proposals[0]?.protocol === ProtocolId.Ike
      ? new IkeRekeyResponderTask(this.#sa, this.#services, this.#host)
      : new ChildCreateResponderTask(this.#sa, this.#services, { kind: "create_child_sa" });
    return this.#inner.process(message);
  }

  build(message: OutgoingMessage): Promise<TaskStatus> {
    return this.#inner!.build(message);
  }
}
