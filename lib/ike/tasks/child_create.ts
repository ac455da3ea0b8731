/**
 * The first child SA, negotiated inside IKE_AUTH (RFC 7296 §1.2, §2.9, §2.17): ESP proposal,
 * traffic selectors with responder-side narrowing, key derivation and installation.
 * A failed child leaves the IKE SA up (RFC 7296 §1.2).
 */
import { encryptionInfo, integrityInfo } from "../algorithms.ts";
import { nameOf, NotifyType, PayloadType } from "../constants.ts";
import type { ChildSaRecord, IkeSa } from "../ike_sa.ts";
import { deriveChildSaKeys } from "../keys.ts";
import type { IncomingMessage, OutgoingMessage } from "../message.ts";
import type { TrafficSelector } from "../payloads/mod.ts";
import {
  describeProposal,
  espProposal,
  type EspSuite,
  espSuiteOfAnswer,
  selectEspSuite,
} from "../suites.ts";
import { formatSpi, spiFromBytes, spiToBytes } from "../spi.ts";
import { formatSelector, isCoveredBy, narrowSelectors } from "../traffic_selectors.ts";
import { toHex } from "../../wire/mod.ts";
import type { NegotiatedChildSa, Task, TaskServices, TaskStatus } from "./task.ts";

function list(ts: readonly TrafficSelector[]): string {
  return ts.map(formatSelector).join(" ");
}

/** Derives keys for `record` and hands the pair to the installer. */
async function installChild(
  sa: IkeSa,
  services: TaskServices,
  record: ChildSaRecord,
): Promise<void> {
  const suite = record.suite;
  const encryption = encryptionInfo(suite.encrId, suite.encrKeyBits)!;
  const integrity = integrityInfo(suite.integId);
  const keys = deriveChildSaKeys(services.crypto, {
    prf: sa.prf!,
    skD: sa.keys!.skD,
    encryption,
    integrity,
    nonceI: sa.nonceI!,
    nonceR: sa.nonceR!,
  });
  const i = { encryptionKey: keys.encrI, integrityKey: keys.integI };
  const r = { encryptionKey: keys.encrR, integrityKey: keys.integR };
  const child: NegotiatedChildSa = {
    realm: sa.realm!,
    record,
    suite,
    inbound: sa.initiator ? r : i,
    outbound: sa.initiator ? i : r,
    local: { address: sa.local.address, port: services.natTPort },
    remote: sa.remote,
  };
  sa.log.private(
    `child SA in ${formatSpi(record.spiIn)} key ${toHex(child.inbound.encryptionKey)}, out ${
      formatSpi(record.spiOut)
    } key ${toHex(child.outbound.encryptionKey)}`,
  );
  await services.childSas.install(sa, child);
  for (const k of [keys.encrI, keys.integI, keys.encrR, keys.integR]) k.fill(0);
  sa.children.push(record);
  sa.log.info(
    `CHILD_SA installed: ${suite.name}, SPIs in ${formatSpi(record.spiIn)} out ${
      formatSpi(record.spiOut)
    }, ${list(record.localTs)} === ${list(record.remoteTs)}${
      record.udpEncapsulation ? ", UDP-encapsulated" : ""
    }`,
  );
}

export class ChildCreateInitiatorTask implements Task {
  readonly name = "child_create";
  readonly #sa: IkeSa;
  readonly #services: TaskServices;
  #spiIn = 0;

  constructor(sa: IkeSa, services: TaskServices) {
    this.#sa = sa;
    this.#services = services;
  }

  build(message: OutgoingMessage): Promise<TaskStatus> {
    const realm = this.#sa.realm!;
    this.#spiIn = this.#services.allocateSpi();
    message.add({
      type: PayloadType.SecurityAssociation,
      proposals: realm.espSuites.map((s, i) => espProposal(s, i + 1, spiToBytes(this.#spiIn))),
    });
    message.add({ type: PayloadType.TsInitiator, selectors: realm.localTs });
    message.add({ type: PayloadType.TsResponder, selectors: realm.remoteTs });
    return Promise.resolve("more");
  }

  async process(message: IncomingMessage): Promise<TaskStatus> {
    const sa = this.#sa;
    const realm = sa.realm!;
    const error = message.errorNotify();
    if (error) {
      sa.log.error(
        `CHILD_SA refused by ${sa.remoteId}: ${nameOf(NotifyType, error.notifyType)}; we proposed ${
          realm.espSuites.map((s) => s.name).join(" ")
        } with ${list(realm.localTs)} === ${list(realm.remoteTs)}`,
      );
      return "done";
    }
    const saPayload = message.get(PayloadType.SecurityAssociation);
    const tsi = message.get(PayloadType.TsInitiator);
    const tsr = message.get(PayloadType.TsResponder);
    if (!saPayload || !tsi || !tsr) {
      sa.log.error("IKE_AUTH response has no child SA (SA, TSi or TSr missing)");
      return "done";
    }
    const answer = saPayload.proposals.length === 1 ? saPayload.proposals[0]! : undefined;
    const suite: EspSuite | undefined = answer && espSuiteOfAnswer(answer, realm.espSuites);
    if (!answer || !suite) {
      sa.log.error(
        `CHILD_SA answer ${
          answer ? describeProposal(answer) : "(several proposals)"
        } was not offered`,
      );
      return "done";
    }
    const coveredI = tsi.selectors.every((t) => isCoveredBy(t, realm.localTs));
    const coveredR = tsr.selectors.every((t) => isCoveredBy(t, realm.remoteTs));
    if (!coveredI || !coveredR || tsi.selectors.length === 0 || tsr.selectors.length === 0) {
      sa.log.error(
        `CHILD_SA answer selectors ${list(tsi.selectors)} === ${
          list(tsr.selectors)
        } exceed what we proposed`,
      );
      return "done";
    }
    await installChild(sa, this.#services, {
      spiIn: this.#spiIn,
      spiOut: spiFromBytes(answer.spi),
      suite,
      localTs: tsi.selectors,
      remoteTs: tsr.selectors,
      udpEncapsulation: sa.udpEncapsulation,
      createdAt: Date.now(),
    });
    return "done";
  }
}

export class ChildCreateResponderTask implements Task {
  readonly name = "child_create";
  readonly #sa: IkeSa;
  readonly #services: TaskServices;
  #failure: number | undefined;
  #record: ChildSaRecord | undefined;
  #proposalNumber = 1;
  #wanted = false;

  constructor(sa: IkeSa, services: TaskServices) {
    this.#sa = sa;
    this.#services = services;
  }

  process(message: IncomingMessage): Promise<TaskStatus> {
    return Promise.resolve(this.#process(message));
  }

  #process(message: IncomingMessage): TaskStatus {
    const sa = this.#sa;
    const realm = sa.realm!;
    const saPayload = message.get(PayloadType.SecurityAssociation);
    const tsi = message.get(PayloadType.TsInitiator);
    const tsr = message.get(PayloadType.TsResponder);
    if (!saPayload && !tsi && !tsr) return "done"; // childless IKE SA (RFC 6023)
    this.#wanted = true;
    if (!saPayload || !tsi || !tsr) {
      sa.log.warn("IKE_AUTH request has SA, TSi, TSr only in part");
      this.#failure = NotifyType.InvalidSyntax;
      return "done";
    }
    const selection = selectEspSuite(saPayload.proposals, realm.espSuites);
    if (!selection) {
      sa.log.warn(
        `NO_PROPOSAL_CHOSEN for CHILD_SA of ${sa.remoteId}: peer offered ${
          saPayload.proposals.map(describeProposal).join(", ")
        }; realm ${realm.name} accepts ${realm.espSuites.map((s) => s.name).join(" ")}`,
      );
      this.#failure = NotifyType.NoProposalChosen;
      return "done";
    }
    // The initiator's TSi is its side = our remote; its TSr is our local.
    const remoteTs = narrowSelectors(tsi.selectors, realm.remoteTs);
    const localTs = narrowSelectors(tsr.selectors, realm.localTs);
    if (remoteTs.length === 0 || localTs.length === 0) {
      sa.log.warn(
        `TS_UNACCEPTABLE for ${sa.remoteId}: peer proposed ${list(tsi.selectors)} === ${
          list(tsr.selectors)
        }; realm ${realm.name} allows ${list(realm.remoteTs)} === ${list(realm.localTs)}`,
      );
      this.#failure = NotifyType.TsUnacceptable;
      return "done";
    }
    if (!sa.udpEncapsulation) {
      sa.log.warn(
        `CHILD_SA for ${sa.remoteId} needs raw ESP, which this release does not implement yet`,
      );
      this.#failure = NotifyType.NoProposalChosen;
      return "done";
    }
    this.#proposalNumber = selection.proposalNumber;
    this.#record = {
      spiIn: this.#services.allocateSpi(),
      spiOut: spiFromBytes(selection.peerSpi),
      suite: selection.suite,
      localTs,
      remoteTs,
      udpEncapsulation: sa.udpEncapsulation,
      createdAt: Date.now(),
    };
    return "done";
  }

  async build(message: OutgoingMessage): Promise<TaskStatus> {
    if (!this.#wanted) return "done";
    if (this.#failure !== undefined) {
      message.notify(this.#failure);
      return "done";
    }
    const record = this.#record!;
    try {
      await installChild(this.#sa, this.#services, record);
    } catch (e) {
      this.#sa.log.error(`Cannot install CHILD_SA: ${(e as Error).message}`);
      message.notify(NotifyType.TemporaryFailure);
      return "done";
    }
    message.add({
      type: PayloadType.SecurityAssociation,
      proposals: [espProposal(record.suite, this.#proposalNumber, spiToBytes(record.spiIn))],
    });
    message.add({ type: PayloadType.TsInitiator, selectors: record.remoteTs });
    message.add({ type: PayloadType.TsResponder, selectors: record.localTs });
    return "done";
  }
}
