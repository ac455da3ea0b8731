/**
 * INFORMATIONAL exchanges (RFC 7296 §1.4): delete of IKE and child SAs, and the empty
 * liveness request that is simply answered.
 */
import { PayloadType, ProtocolId } from "../constants.ts";
import type { ChildSaRecord, IkeSa } from "../ike_sa.ts";
import { IkeSaState } from "../ike_sa.ts";
import type { IncomingMessage, OutgoingMessage } from "../message.ts";
import { formatSpi, spiFromBytes, spiToBytes } from "../spi.ts";
import type { Task, TaskServices, TaskStatus } from "./task.ts";

/** Answers a peer's INFORMATIONAL request. */
export class InformationalResponderTask implements Task {
  readonly name = "informational";
  readonly #sa: IkeSa;
  readonly #services: TaskServices;
  #deletedIn: number[] = [];

  constructor(sa: IkeSa, services: TaskServices) {
    this.#sa = sa;
    this.#services = services;
  }

  async process(message: IncomingMessage): Promise<TaskStatus> {
    const sa = this.#sa;
    for (const del of message.all(PayloadType.Delete)) {
      if (del.protocol === ProtocolId.Ike) {
        sa.log.info(`peer ${sa.remoteId ?? sa.remote.address} deletes the IKE_SA`);
        sa.state = IkeSaState.Deleting;
        return "done";
      }
      if (del.protocol !== ProtocolId.Esp) continue;
      for (const spiBytesOut of del.spis) {
        const spiOut = spiFromBytes(spiBytesOut);
        const index = sa.children.findIndex((c) => c.spiOut === spiOut);
        if (index < 0) continue;
        const [child] = sa.children.splice(index, 1);
        await this.#services.childSas.remove(sa, child!);
        this.#deletedIn.push(child!.spiIn);
        sa.log.info(
          `peer deleted CHILD_SA out ${formatSpi(spiOut)}; deleted in ${formatSpi(child!.spiIn)}`,
        );
      }
    }
    return "done";
  }

  build(message: OutgoingMessage): Promise<TaskStatus> {
    if (this.#deletedIn.length > 0) {
      message.add({
        type: PayloadType.Delete,
        protocol: ProtocolId.Esp,
        spiSize: 4,
        spis: this.#deletedIn.map(spiToBytes),
      });
    }
    return Promise.resolve("done");
  }
}

/** Deletes the IKE SA (and with it every child SA) as initiator of the exchange. */
export class IkeDeleteTask implements Task {
  readonly name = "ike_delete";
  readonly #sa: IkeSa;

  constructor(sa: IkeSa) {
    this.#sa = sa;
  }

  build(message: OutgoingMessage): Promise<TaskStatus> {
    message.add({ type: PayloadType.Delete, protocol: ProtocolId.Ike, spiSize: 0, spis: [] });
    this.#sa.state = IkeSaState.Deleting;
    return Promise.resolve("more");
  }

  process(_message: IncomingMessage): Promise<TaskStatus> {
    return Promise.resolve("done");
  }
}

/**
 * Deletes child SAs we own the replacement of (after a rekey) or no longer want: Delete(ESP)
 * with our inbound SPIs; the peer answers with its own, and both pairs go (RFC 7296 §1.4.1).
 */
export class ChildDeleteTask implements Task {
  readonly name = "child_delete";
  readonly #sa: IkeSa;
  readonly #services: TaskServices;
  readonly #children: ChildSaRecord[];

  constructor(sa: IkeSa, services: TaskServices, children: ChildSaRecord[]) {
    this.#sa = sa;
    this.#services = services;
    this.#children = children;
  }

  build(message: OutgoingMessage): Promise<TaskStatus> {
    const present = this.#children.filter((c) => this.#sa.children.includes(c));
    this.#children.length = 0;
    this.#children.push(...present);
    if (present.length === 0) return Promise.resolve("done");
    message.add({
      type: PayloadType.Delete,
      protocol: ProtocolId.Esp,
      spiSize: 4,
      spis: present.map((c) => spiToBytes(c.spiIn)),
    });
    return Promise.resolve("more");
  }

  async process(_message: IncomingMessage): Promise<TaskStatus> {
    // Whatever the peer lists, these pairs are gone now (§1.4.1: half-closed SAs are removed).
    for (const child of this.#children) {
      const index = this.#sa.children.indexOf(child);
      if (index < 0) continue;
      this.#sa.children.splice(index, 1);
      await this.#services.childSas.remove(this.#sa, child);
      this.#sa.log.info(`CHILD_SA ${formatSpi(child.spiIn)}/${formatSpi(child.spiOut)} deleted`);
    }
    return "done";
  }
}

/** An empty INFORMATIONAL request: a liveness check (RFC 7296 §2.4). */
export class LivenessTask implements Task {
  readonly name = "liveness";

  build(_message: OutgoingMessage): Promise<TaskStatus> {
    return Promise.resolve("more");
  }

  process(_message: IncomingMessage): Promise<TaskStatus> {
    return Promise.resolve("done");
  }
}

/** An INFORMATIONAL request carrying one error notify, e.g. AUTHENTICATION_FAILED. */
export class NotifyErrorTask implements Task {
  readonly name = "notify_error";
  readonly #notifyType: number;

  constructor(notifyType: number) {
    this.#notifyType = notifyType;
  }

  build(message: OutgoingMessage): Promise<TaskStatus> {
    message.notify(this.#notifyType);
    return Promise.resolve("more");
  }

  process(_message: IncomingMessage): Promise<TaskStatus> {
    return Promise.resolve("done");
  }
}
