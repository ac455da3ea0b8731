/**
 * CREATE_CHILD_SA as responder, until rekeying lands (issue 4): every request is answered
 * with NO_ADDITIONAL_SAS (RFC 7296 §1.3), which leaves existing SAs untouched.
 */
import { NotifyType } from "../constants.ts";
import type { IkeSa } from "../ike_sa.ts";
import type { IncomingMessage, OutgoingMessage } from "../message.ts";
import type { Task, TaskStatus } from "./task.ts";

export class NoAdditionalSasTask implements Task {
  readonly name = "create_child_sa";
  readonly #sa: IkeSa;

  constructor(sa: IkeSa) {
    this.#sa = sa;
  }

  process(_message: IncomingMessage): Promise<TaskStatus> {
    this.#sa.log.info(
      "peer asked for CREATE_CHILD_SA; answering NO_ADDITIONAL_SAS (rekeying is not implemented yet)",
    );
    return Promise.resolve("done");
  }

  build(message: OutgoingMessage): Promise<TaskStatus> {
    message.notify(NotifyType.NoAdditionalSas);
    return Promise.resolve("done");
  }
}
