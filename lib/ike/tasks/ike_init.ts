/**
 * IKE_SA_INIT (RFC 7296 §1.2): proposal, key exchange and nonces; derives the IKE SA keys.
 * Handles INVALID_KE_PAYLOAD (retry with the group the responder asks for) and COOKIE.
 */
import { nameOf, NotifyType, PayloadType } from "../constants.ts";
import type { IkeSa } from "../ike_sa.ts";
import { IkeSaState } from "../ike_sa.ts";
import type { IncomingMessage, OutgoingMessage } from "../message.ts";
import {
  describeProposal,
  ikeProposal,
  type IkeSuite,
  ikeSuiteOfAnswer,
  selectIkeSuite,
} from "../suites.ts";
import { activateIkeKeys, randomNonce } from "./_ike_keys.ts";
import type { Task, TaskServices, TaskStatus } from "./task.ts";

/** Activates the negotiated suite and keys; the SA moves on to IKE_AUTH. */
function establishKeys(
  sa: IkeSa,
  services: TaskServices,
  suite: IkeSuite,
  secret: Uint8Array,
): void {
  activateIkeKeys(sa, services, suite, secret);
  sa.state = IkeSaState.Authenticating;
}

export class IkeInitInitiatorTask implements Task {
  readonly name = "ike_init";
  readonly #sa: IkeSa;
  readonly #services: TaskServices;
  readonly #suites: IkeSuite[];
  #group: number;
  #cookies = 0;

  constructor(sa: IkeSa, services: TaskServices) {
    this.#sa = sa;
    this.#services = services;
    this.#suites = sa.realm!.ikeSuites;
    this.#group = this.#suites[0]!.dhGroup;
  }

  build(message: OutgoingMessage): Promise<TaskStatus> {
    const sa = this.#sa;
    if (sa.cookie) message.notify(NotifyType.Cookie, sa.cookie);
    // A retry after COOKIE repeats the request unchanged (RFC 7296 §2.6); after
    // INVALID_KE_PAYLOAD only the KE changes (§1.2).
    if (sa.dh?.group !== this.#group) sa.dh = this.#services.crypto.createDh(this.#group);
    sa.nonceI ??= randomNonce(this.#services);
    // Suites with the group of our KE first, so the responder can pick without a round trip.
    const ordered = [
      ...this.#suites.filter((s) => s.dhGroup === this.#group),
      ...this.#suites.filter((s) => s.dhGroup !== this.#group),
    ];
    message.add({
      type: PayloadType.SecurityAssociation,
      proposals: ordered.map((s, i) => ikeProposal(s, i + 1)),
    });
    message.add({ type: PayloadType.KeyExchange, dhGroup: this.#group, keyData: sa.dh.publicKey });
    message.add({ type: PayloadType.Nonce, nonce: sa.nonceI });
    if (sa.realm!.fragmentation !== false) message.notify(NotifyType.IkeFragmentationSupported);
    return Promise.resolve("more");
  }

  process(message: IncomingMessage): Promise<TaskStatus> {
    const sa = this.#sa;
    const cookie = message.notifies(NotifyType.Cookie)[0];
    if (cookie) {
      if (++this.#cookies > 3) {
        sa.log.error(`${sa.remote.address} keeps demanding a new COOKIE; giving up`);
        return Promise.resolve("failed");
      }
      sa.cookie = cookie.data;
      sa.log.info("responder asked for a COOKIE; repeating IKE_SA_INIT");
      return Promise.resolve("restart");
    }
    const invalidKe = message.notifies(NotifyType.InvalidKePayload)[0];
    if (invalidKe) {
      const group = invalidKe.data.length === 2
        ? (invalidKe.data[0]! << 8) | invalidKe.data[1]!
        : -1;
      if (group === this.#group || !this.#suites.some((s) => s.dhGroup === group)) {
        sa.log.error(
          `responder wants DH group ${group}, which realm ${sa.realm!.name} does not offer`,
        );
        return Promise.resolve("failed");
      }
      sa.log.info(`responder asked for DH group ${group} (INVALID_KE_PAYLOAD); retrying`);
      this.#group = group;
      return Promise.resolve("restart");
    }
    const error = message.errorNotify();
    if (error) {
      const offered = this.#suites.map((s) => s.name).join(" ");
      sa.log.error(
        `IKE_SA_INIT refused by ${sa.remote.address}: ${
          nameOf(NotifyType, error.notifyType)
        }; we offered ${offered}`,
      );
      return Promise.resolve("failed");
    }
    const saPayload = message.get(PayloadType.SecurityAssociation);
    const ke = message.get(PayloadType.KeyExchange);
    const nonce = message.get(PayloadType.Nonce);
    if (!saPayload || !ke || !nonce) {
      sa.log.error("IKE_SA_INIT response lacks SA, KE or Nonce");
      return Promise.resolve("failed");
    }
    const answer = saPayload.proposals.length === 1 ? saPayload.proposals[0]! : undefined;
    const suite = answer && ikeSuiteOfAnswer(answer, this.#suites);
    if (!suite || suite.dhGroup !== ke.dhGroup || ke.dhGroup !== this.#group) {
      sa.log.error(
        `IKE_SA_INIT response chose ${
          answer ? describeProposal(answer) : "several proposals"
        }, which we did not offer`,
      );
      return Promise.resolve("failed");
    }
    sa.spiR = message.header.responderSpi.slice();
    sa.nonceR = nonce.nonce;
    sa.initResponse = message.raw;
    let secret: Uint8Array;
    try {
      secret = sa.dh!.computeSecret(ke.keyData);
    } catch (e) {
      sa.log.error(`IKE_SA_INIT response has an unusable KE: ${(e as Error).message}`);
      return Promise.resolve("failed");
    }
    sa.fragmentation = sa.realm!.fragmentation !== false &&
      message.notifies(NotifyType.IkeFragmentationSupported).length > 0;
    establishKeys(sa, this.#services, suite, secret);
    sa.log.info(`IKE_SA_INIT done with ${sa.remote.address}: ${suite.name}`);
    return Promise.resolve("done");
  }
}

export class IkeInitResponderTask implements Task {
  readonly name = "ike_init";
  readonly #sa: IkeSa;
  readonly #services: TaskServices;
  #suite: IkeSuite | undefined;
  #proposalNumber = 1;
  #failure: { type: number; data: Uint8Array } | undefined;

  constructor(sa: IkeSa, services: TaskServices) {
    this.#sa = sa;
    this.#services = services;
  }

  process(message: IncomingMessage): Promise<TaskStatus> {
    const sa = this.#sa;
    const saPayload = message.get(PayloadType.SecurityAssociation);
    const ke = message.get(PayloadType.KeyExchange);
    const nonce = message.get(PayloadType.Nonce);
    if (!saPayload || !ke || !nonce) {
      sa.log.warn(`IKE_SA_INIT from ${message.from.address} lacks SA, KE or Nonce`);
      this.#failure = { type: NotifyType.InvalidSyntax, data: new Uint8Array(0) };
      return Promise.resolve("failed");
    }
    const candidates = uniqueSuites(this.#services.realms.flatMap((r) => r.ikeSuites));
    const withGroup = candidates.filter((s) => s.dhGroup === ke.dhGroup);
    const selection = selectIkeSuite(saPayload.proposals, withGroup) ??
      selectIkeSuite(saPayload.proposals, candidates);
    if (!selection) {
      sa.log.warn(
        `NO_PROPOSAL_CHOSEN for ${message.from.address}: peer offered ${
          saPayload.proposals.map(describeProposal).join(", ")
        }; our realms accept ${candidates.map((s) => s.name).join(" ")}`,
      );
      this.#failure = { type: NotifyType.NoProposalChosen, data: new Uint8Array(0) };
      return Promise.resolve("failed");
    }
    if (selection.suite.dhGroup !== ke.dhGroup) {
      const g = selection.suite.dhGroup;
      sa.log.info(`asking ${message.from.address} for DH group ${g} instead of ${ke.dhGroup}`);
      this.#failure = {
        type: NotifyType.InvalidKePayload,
        data: new Uint8Array([g >> 8, g & 0xff]),
      };
      return Promise.resolve("failed");
    }
    const dh = this.#services.crypto.createDh(ke.dhGroup);
    let secret: Uint8Array;
    try {
      secret = dh.computeSecret(ke.keyData);
    } catch (e) {
      sa.log.warn(
        `IKE_SA_INIT from ${message.from.address} has an unusable KE: ${(e as Error).message}`,
      );
      this.#failure = { type: NotifyType.InvalidSyntax, data: new Uint8Array(0) };
      return Promise.resolve("failed");
    }
    sa.dh = dh;
    sa.nonceI = nonce.nonce;
    sa.nonceR = randomNonce(this.#services);
    sa.initRequest = message.raw;
    // The realm is known only in IKE_AUTH: agree when any realm may fragment (RFC 7383 §2.3).
    sa.fragmentation = message.notifies(NotifyType.IkeFragmentationSupported).length > 0 &&
      this.#services.realms.some((r) => r.fragmentation !== false);
    this.#suite = selection.suite;
    this.#proposalNumber = selection.proposalNumber;
    establishKeys(sa, this.#services, selection.suite, secret);
    return Promise.resolve("done");
  }

  build(message: OutgoingMessage): Promise<TaskStatus> {
    if (this.#failure) {
      message.fail(this.#failure.type, this.#failure.data);
      return Promise.resolve("failed");
    }
    const sa = this.#sa;
    message.add({
      type: PayloadType.SecurityAssociation,
      proposals: [ikeProposal(this.#suite!, this.#proposalNumber)],
    });
    message.add({
      type: PayloadType.KeyExchange,
      dhGroup: sa.dh!.group,
      keyData: sa.dh!.publicKey,
    });
    message.add({ type: PayloadType.Nonce, nonce: sa.nonceR! });
    if (sa.fragmentation) message.notify(NotifyType.IkeFragmentationSupported);
    return Promise.resolve("done");
  }
}

function uniqueSuites(suites: IkeSuite[]): IkeSuite[] {
  return suites.filter((s, i) => suites.findIndex((t) => t.name === s.name) === i);
}
