/**
 * IKE SA rekey in CREATE_CHILD_SA (RFC 7296 §1.3.2, §2.18): a new IKE SA with fresh SPIs,
 * nonces and DH; SKEYSEED = prf(SK_d (old), g^ir (new) | Ni | Nr). The child SAs move to the
 * new IKE SA, and the rekey initiator then deletes the old IKE SA. The new SA's initiator is
 * whoever initiated the rekey.
 */
import type { DhExchange } from "../../crypto/mod.ts";
import { bytesEqual } from "../../wire/mod.ts";
import { nameOf, NotifyType, PayloadType, ProtocolId } from "../constants.ts";
import { IkeSa, IkeSaState } from "../ike_sa.ts";
import type { IncomingMessage, OutgoingMessage } from "../message.ts";
import { describeProposal, ikeProposal, ikeSuiteOfAnswer, selectIkeSuite } from "../suites.ts";
import { activateIkeKeys, randomNonce } from "./_ike_keys.ts";
import type { Task, TaskServices, TaskStatus } from "./task.ts";

/** What the rekey tasks need from the engine besides the usual services. */
export interface IkeRekeyHost {
  /** A fresh, unused 8-byte IKE SPI. */
  newIkeSpi(): Uint8Array;
  /** Registers the new SA (established) in the engine's table. */
  adopt(replacement: IkeSa, predecessor: IkeSa): void;
}

/** The new SA's identity, realm and paths are the old one's. */
function successor(old: IkeSa, initiator: boolean, spiI: Uint8Array, spiR: Uint8Array): IkeSa {
  const sa = new IkeSa({
    initiator,
    crypto: old.crypto,
    log: old.parentLog,
    spiI,
    spiR,
    local: { ...old.local },
    remote: { ...old.remote },
  });
  sa.realm = old.realm;
  sa.peer = old.peer;
  sa.localId = old.localId;
  sa.remoteId = old.remoteId;
  sa.natLocal = old.natLocal;
  sa.natRemote = old.natRemote;
  sa.udpEncapsulation = old.udpEncapsulation;
  sa.fragmentation = old.fragmentation;
  return sa;
}

/** Moves the children over; the old SA keeps none, so deleting it removes no ESP SA. */
function moveChildren(from: IkeSa, to: IkeSa): void {
  to.children.push(...from.children.splice(0));
  to.staleChildren.push(...from.staleChildren.splice(0));
}

export class IkeRekeyInitiatorTask implements Task {
  readonly name = "ike_rekey";
  readonly #sa: IkeSa;
  readonly #services: TaskServices;
  readonly #host: IkeRekeyHost;
  #spiI: Uint8Array | undefined;
  #nonce: Uint8Array | undefined;
  #dh: DhExchange | undefined;

  constructor(sa: IkeSa, services: TaskServices, host: IkeRekeyHost) {
    this.#sa = sa;
    this.#services = services;
    this.#host = host;
  }

  build(message: OutgoingMessage): Promise<TaskStatus> {
    const suite = this.#sa.suite!;
    this.#spiI = this.#host.newIkeSpi();
    this.#nonce = randomNonce(this.#services);
    this.#dh = this.#services.crypto.createDh(suite.dhGroup);
    this.#sa.rekeying = true;
    message.add({
      type: PayloadType.SecurityAssociation,
      proposals: [ikeProposal(suite, 1, this.#spiI)],
    });
    message.add({ type: PayloadType.Nonce, nonce: this.#nonce });
    message.add({
      type: PayloadType.KeyExchange,
      dhGroup: suite.dhGroup,
      keyData: this.#dh.publicKey,
    });
    return Promise.resolve("more");
  }

  process(message: IncomingMessage): Promise<TaskStatus> {
    const old = this.#sa;
    const fail = (why: string): Promise<TaskStatus> => {
      old.log.error(`IKE_SA rekey failed: ${why}`);
      old.rekeying = false;
      return Promise.resolve("done"); // the old SA stays usable
    };
    const error = message.errorNotify();
    if (error) return fail(`${old.remoteId} answered ${nameOf(NotifyType, error.notifyType)}`);
    const answer = message.get(PayloadType.SecurityAssociation)?.proposals;
    const nonce = message.get(PayloadType.Nonce);
    const ke = message.get(PayloadType.KeyExchange);
    const proposal = answer?.length === 1 ? answer[0]! : undefined;
    if (!proposal || !nonce || !ke) return fail("response lacks SA, Nonce or KE");
    const suite = ikeSuiteOfAnswer(proposal, [old.suite!]);
    if (!suite || proposal.spi.length !== 8 || ke.dhGroup !== suite.dhGroup) {
      return fail(`response chose ${describeProposal(proposal)}, which we did not offer`);
    }
    let secret: Uint8Array;
    try {
      secret = this.#dh!.computeSecret(ke.keyData);
    } catch (e) {
      return fail(`unusable KE: ${(e as Error).message}`);
    }
    const sa = successor(old, true, this.#spiI!, proposal.spi.slice());
    sa.nonceI = this.#nonce!;
    sa.nonceR = nonce.nonce;
    activateIkeKeys(sa, this.#services, suite, secret, old.keys!.skD);
    sa.state = IkeSaState.Established;
    moveChildren(old, sa);
    this.#host.adopt(sa, old);
    old.log.info(`IKE_SA rekeyed as #${sa.serial}; deleting the old one`);
    old.replacedBy = sa;
    return Promise.resolve("done");
  }
}

export class IkeRekeyResponderTask implements Task {
  readonly name = "ike_rekey";
  readonly #sa: IkeSa;
  readonly #services: TaskServices;
  readonly #host: IkeRekeyHost;
  #failure: { type: number; data?: Uint8Array } | undefined;
  #replacement: IkeSa | undefined;
  #proposalNumber = 1;

  constructor(sa: IkeSa, services: TaskServices, host: IkeRekeyHost) {
    this.#sa = sa;
    this.#services = services;
    this.#host = host;
  }

  process(message: IncomingMessage): Promise<TaskStatus> {
    const old = this.#sa;
    const proposals = message.get(PayloadType.SecurityAssociation)?.proposals ?? [];
    const nonce = message.get(PayloadType.Nonce);
    const ke = message.get(PayloadType.KeyExchange);
    if (
      !nonce || !ke || proposals.some((p) => p.protocol !== ProtocolId.Ike || p.spi.length !== 8)
    ) {
      this.#failure = { type: NotifyType.InvalidSyntax };
      return Promise.resolve("done");
    }
    if (old.rekeying) {
      // Simultaneous IKE rekey (§2.8.2): keep it simple and let the peer retry later.
      this.#failure = { type: NotifyType.TemporaryFailure };
      return Promise.resolve("done");
    }
    const ours = old.realm!.ikeSuites;
    const selection = selectIkeSuite(proposals, ours.filter((s) => s.dhGroup === ke.dhGroup)) ??
      selectIkeSuite(proposals, ours);
    if (!selection) {
      old.log.warn(
        `IKE_SA rekey from ${old.remoteId}: NO_PROPOSAL_CHOSEN, peer offered ${
          proposals.map(describeProposal).join(", ")
        }`,
      );
      this.#failure = { type: NotifyType.NoProposalChosen };
      return Promise.resolve("done");
    }
    if (selection.suite.dhGroup !== ke.dhGroup) {
      const g = selection.suite.dhGroup;
      this.#failure = {
        type: NotifyType.InvalidKePayload,
        data: new Uint8Array([g >> 8, g & 0xff]),
      };
      return Promise.resolve("done");
    }
    const peerProposal = proposals.find((p) => p.number === selection.proposalNumber)!;
    const dh = this.#services.crypto.createDh(ke.dhGroup);
    let secret: Uint8Array;
    try {
      secret = dh.computeSecret(ke.keyData);
    } catch (e) {
      old.log.warn(`IKE_SA rekey KE is unusable: ${(e as Error).message}`);
      this.#failure = { type: NotifyType.InvalidSyntax };
      return Promise.resolve("done");
    }
    let spiR = this.#host.newIkeSpi();
    while (bytesEqual(spiR, peerProposal.spi)) spiR = this.#host.newIkeSpi();
    const sa = successor(old, false, peerProposal.spi.slice(), spiR);
    sa.nonceI = nonce.nonce;
    sa.nonceR = randomNonce(this.#services);
    sa.dh = dh;
    activateIkeKeys(sa, this.#services, selection.suite, secret, old.keys!.skD);
    sa.state = IkeSaState.Established;
    this.#replacement = sa;
    this.#proposalNumber = selection.proposalNumber;
    return Promise.resolve("done");
  }

  build(message: OutgoingMessage): Promise<TaskStatus> {
    if (this.#failure) {
      message.notify(this.#failure.type, this.#failure.data);
      return Promise.resolve("done");
    }
    const sa = this.#replacement!;
    const old = this.#sa;
    message.add({
      type: PayloadType.SecurityAssociation,
      proposals: [ikeProposal(sa.suite!, this.#proposalNumber, sa.spiR)],
    });
    message.add({ type: PayloadType.Nonce, nonce: sa.nonceR! });
    message.add({
      type: PayloadType.KeyExchange,
      dhGroup: sa.dh!.group,
      keyData: sa.dh!.publicKey,
    });
    moveChildren(old, sa);
    this.#host.adopt(sa, old);
    old.replacedBy = sa;
    old.log.info(`IKE_SA rekeyed by ${old.remoteId} as #${sa.serial}`);
    return Promise.resolve("done");
  }
}
