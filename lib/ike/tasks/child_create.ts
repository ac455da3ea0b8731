/**
 * Child SA negotiation (RFC 7296 §1.2, §1.3.1, §1.3.3, §2.9, §2.17): the first child inside
 * IKE_AUTH, and additional or rekeyed children in CREATE_CHILD_SA, where fresh nonces (and,
 * with PFS, a fresh Diffie-Hellman exchange) feed KEYMAT. ESP proposal, traffic selectors with
 * responder-side narrowing, key derivation and installation. A failed child leaves the IKE SA
 * up (RFC 7296 §1.2). A rekey installs the new pair before the old one is deleted.
 */
import type { DhExchange } from "../../crypto/mod.ts";
import { encryptionInfo, integrityInfo } from "../algorithms.ts";
import {
  ExchangeType,
  nameOf,
  NotifyType,
  PayloadType,
  ProtocolId,
  TransformType,
} from "../constants.ts";
import type { ChildSaRecord, IkeSa } from "../ike_sa.ts";
import { deriveChildSaKeys } from "../keys.ts";
import type { IncomingMessage, OutgoingMessage } from "../message.ts";
import type { Proposal, TrafficSelector } from "../payloads/mod.ts";
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
import { randomNonce } from "./_ike_keys.ts";
import { natTraversalRefusal } from "./ike_natd.ts";
import {
  localSelectorsFor,
  narrowToAssigned,
  proposedLocalSelectors,
  remoteSelectorsFor,
} from "./config_request.ts";
import type { NegotiatedChildSa, Task, TaskServices, TaskStatus } from "./task.ts";

/** Where a child is negotiated: inside IKE_AUTH, or in its own CREATE_CHILD_SA exchange. */
export type ChildExchange =
  | { kind: "ike_auth" }
  | { kind: "create_child_sa"; /** The child this one replaces. */ rekey?: ChildSaRecord };

/** Nonces and DH secret that feed KEYMAT (§2.17). */
interface KeyMaterialInputs {
  nonceI: Uint8Array;
  nonceR: Uint8Array;
  sharedSecret?: Uint8Array;
}

/** The DH group of a proposal, if it has a DH transform other than NONE. */
function proposalDhGroup(p: Proposal): number | undefined {
  return p.transforms.find((t) => t.type === TransformType.DiffieHellman && t.id !== 0)?.id;
}

function list(ts: readonly TrafficSelector[]): string {
  return ts.map(formatSelector).join(" ");
}

/** Derives keys for `record` and hands the pair to the installer. */
async function installChild(
  sa: IkeSa,
  services: TaskServices,
  record: ChildSaRecord,
  inputs: KeyMaterialInputs,
): Promise<void> {
  const suite = record.suite;
  const encryption = encryptionInfo(suite.encrId, suite.encrKeyBits)!;
  const integrity = integrityInfo(suite.integId);
  const keys = deriveChildSaKeys(services.crypto, {
    prf: sa.prf!,
    skD: sa.keys!.skD,
    encryption,
    integrity,
    nonceI: inputs.nonceI,
    nonceR: inputs.nonceR,
    ...(inputs.sharedSecret ? { sharedSecret: inputs.sharedSecret } : {}),
  });
  inputs.sharedSecret?.fill(0);
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
  readonly name: string;
  readonly #sa: IkeSa;
  readonly #services: TaskServices;
  readonly #exchange: ChildExchange;
  #spiIn = 0;
  #nonce: Uint8Array | undefined;
  #dh: DhExchange | undefined;
  #proposed: { local: TrafficSelector[]; remote: TrafficSelector[] } | undefined;

  constructor(sa: IkeSa, services: TaskServices, exchange: ChildExchange = { kind: "ike_auth" }) {
    this.#sa = sa;
    this.#services = services;
    this.#exchange = exchange;
    this.name = exchange.kind === "ike_auth"
      ? "child_create"
      : exchange.rekey
      ? "child_rekey"
      : "child_create";
  }

  /**
   * Our selectors as proposed (fixed at the first call): the replaced child's on a rekey, else
   * the realm's, with our side any address or the assigned one when we ask for an inner address.
   */
  #selectors(): { local: TrafficSelector[]; remote: TrafficSelector[] } {
    const old = this.#exchange.kind === "create_child_sa" ? this.#exchange.rekey : undefined;
    const realm = this.#sa.realm!;
    this.#proposed ??= old
      ? { local: old.localTs, remote: old.remoteTs }
      : { local: [...proposedLocalSelectors(this.#sa, realm.localTs)], remote: realm.remoteTs };
    return this.#proposed;
  }

  build(message: OutgoingMessage): Promise<TaskStatus> {
    const sa = this.#sa;
    const realm = sa.realm!;
    const separate = this.#exchange.kind === "create_child_sa";
    const old = separate ? this.#exchange.rekey : undefined;
    if (old) {
      if (!sa.children.includes(old)) return Promise.resolve("done"); // gone meanwhile
      old.rekeying = true;
      message.notify(NotifyType.RekeySa, new Uint8Array(0), ProtocolId.Esp, spiToBytes(old.spiIn));
    }
    this.#spiIn = this.#services.allocateSpi(old?.spiIn);
    const pfsGroup = separate && realm.lifecycle.pfs ? sa.suite!.dhGroup : undefined;
    message.add({
      type: PayloadType.SecurityAssociation,
      proposals: realm.espSuites.map((s, i) =>
        espProposal(s, i + 1, spiToBytes(this.#spiIn), pfsGroup)
      ),
    });
    if (separate) {
      this.#nonce = randomNonce(this.#services);
      message.add({ type: PayloadType.Nonce, nonce: this.#nonce });
      if (pfsGroup !== undefined) {
        this.#dh = this.#services.crypto.createDh(pfsGroup);
        message.add({
          type: PayloadType.KeyExchange,
          dhGroup: pfsGroup,
          keyData: this.#dh.publicKey,
        });
      }
    }
    const { local, remote } = this.#selectors();
    message.add({ type: PayloadType.TsInitiator, selectors: local });
    message.add({ type: PayloadType.TsResponder, selectors: remote });
    return Promise.resolve(separate ? "more" : "more");
  }

  async process(message: IncomingMessage): Promise<TaskStatus> {
    const sa = this.#sa;
    const realm = sa.realm!;
    const old = this.#exchange.kind === "create_child_sa" ? this.#exchange.rekey : undefined;
    const what = old ? `rekey of CHILD_SA ${formatSpi(old.spiIn)}` : "CHILD_SA";
    const { local, remote } = this.#selectors();
    const giveUp = (): TaskStatus => {
      if (old) old.rekeying = false;
      return "done";
    };
    const error = message.errorNotify();
    if (error) {
      sa.log.error(
        `${what} refused by ${sa.remoteId}: ${nameOf(NotifyType, error.notifyType)}; we proposed ${
          realm.espSuites.map((s) => s.name).join(" ")
        } with ${list(local)} === ${list(remote)}`,
      );
      return giveUp();
    }
    const saPayload = message.get(PayloadType.SecurityAssociation);
    const tsi = message.get(PayloadType.TsInitiator);
    const tsr = message.get(PayloadType.TsResponder);
    if (!saPayload || !tsi || !tsr) {
      sa.log.error(
        `${
          nameOf(ExchangeType, message.exchangeType)
        } response has no child SA (SA, TSi or TSr missing)`,
      );
      return giveUp();
    }
    const answer = saPayload.proposals.length === 1 ? saPayload.proposals[0]! : undefined;
    const suite: EspSuite | undefined = answer && espSuiteOfAnswer(answer, realm.espSuites);
    if (!answer || !suite) {
      sa.log.error(
        `${what}: answer ${
          answer ? describeProposal(answer) : "(several proposals)"
        } was not offered`,
      );
      return giveUp();
    }
    const coveredI = tsi.selectors.every((t) => isCoveredBy(t, local));
    const coveredR = tsr.selectors.every((t) => isCoveredBy(t, remote));
    if (!coveredI || !coveredR || tsi.selectors.length === 0 || tsr.selectors.length === 0) {
      sa.log.error(
        `${what}: answer selectors ${list(tsi.selectors)} === ${
          list(tsr.selectors)
        } exceed what we proposed`,
      );
      return giveUp();
    }
    let inputs: KeyMaterialInputs = { nonceI: sa.nonceI!, nonceR: sa.nonceR! };
    if (this.#exchange.kind === "create_child_sa") {
      const nonce = message.get(PayloadType.Nonce);
      if (!nonce) {
        sa.log.error(`${what}: response has no Nonce`);
        return giveUp();
      }
      inputs = { nonceI: this.#nonce!, nonceR: nonce.nonce };
      const group = proposalDhGroup(answer);
      if (this.#dh && group !== undefined) {
        const ke = message.get(PayloadType.KeyExchange);
        if (!ke || ke.dhGroup !== group || group !== this.#dh.group) {
          sa.log.error(`${what}: response lacks the KE payload for DH group ${group}`);
          return giveUp();
        }
        try {
          inputs.sharedSecret = this.#dh.computeSecret(ke.keyData);
        } catch (e) {
          sa.log.error(`${what}: unusable KE: ${(e as Error).message}`);
          return giveUp();
        }
      }
    }
    const localTs = narrowToAssigned(sa, tsi.selectors);
    if (localTs.length === 0) {
      sa.log.error(`${what}: answer TSi ${list(tsi.selectors)} lacks our assigned inner address`);
      return giveUp();
    }
    await installChild(sa, this.#services, {
      spiIn: this.#spiIn,
      spiOut: spiFromBytes(answer.spi),
      suite,
      localTs,
      remoteTs: tsr.selectors,
      udpEncapsulation: sa.udpEncapsulation,
      createdAt: Date.now(),
    }, inputs);
    if (old) {
      sa.staleChildren.push(old);
      sa.log.info(`CHILD_SA ${formatSpi(old.spiIn)} rekeyed; deleting the old pair`);
    }
    return "done";
  }
}

export class ChildCreateResponderTask implements Task {
  readonly name = "child_create";
  readonly #sa: IkeSa;
  readonly #services: TaskServices;
  readonly #exchange: ChildExchange;
  #failure: { type: number; data?: Uint8Array } | undefined;
  #record: ChildSaRecord | undefined;
  #proposalNumber = 1;
  #dhGroup: number | undefined;
  #dh: DhExchange | undefined;
  #inputs: KeyMaterialInputs | undefined;
  #nonce: Uint8Array | undefined;
  #replaces: ChildSaRecord | undefined;
  #wanted = false;

  constructor(sa: IkeSa, services: TaskServices, exchange: ChildExchange = { kind: "ike_auth" }) {
    this.#sa = sa;
    this.#services = services;
    this.#exchange = exchange;
  }

  process(message: IncomingMessage): Promise<TaskStatus> {
    return Promise.resolve(this.#process(message));
  }

  #process(message: IncomingMessage): TaskStatus {
    const sa = this.#sa;
    const realm = sa.realm!;
    const separate = this.#exchange.kind === "create_child_sa";
    const saPayload = message.get(PayloadType.SecurityAssociation);
    const tsi = message.get(PayloadType.TsInitiator);
    const tsr = message.get(PayloadType.TsResponder);
    if (!separate && !saPayload && !tsi && !tsr) return "done"; // childless IKE SA (RFC 6023)
    if (!separate && sa.addressing.failed) return "done"; // INTERNAL_ADDRESS_FAILURE (§3.10.1)
    this.#wanted = true;
    const nonce = message.get(PayloadType.Nonce);
    if (!saPayload || !tsi || !tsr || (separate && !nonce)) {
      sa.log.warn(
        `${nameOf(ExchangeType, message.exchangeType)} request has SA, TSi, TSr only in part`,
      );
      this.#failure = { type: NotifyType.InvalidSyntax };
      return "done";
    }
    let rekeyed: ChildSaRecord | undefined;
    const rekeyNotify = message.notifies(NotifyType.RekeySa)[0];
    if (separate && rekeyNotify) {
      // The SPI the peer expects inbound: our outbound SPI of the child it rekeys.
      const spi = rekeyNotify.spi.length === 4 ? spiFromBytes(rekeyNotify.spi) : -1;
      rekeyed = sa.children.find((c) => c.spiOut === spi);
      if (!rekeyed) {
        sa.log.info(`peer rekeys CHILD_SA ${formatSpi(spi)}, which we do not have`);
        this.#failure = { type: NotifyType.ChildSaNotFound };
        return "done";
      }
    }
    const selection = selectEspSuite(saPayload.proposals, realm.espSuites);
    if (!selection) {
      sa.log.warn(
        `NO_PROPOSAL_CHOSEN for CHILD_SA of ${sa.remoteId}: peer offered ${
          saPayload.proposals.map(describeProposal).join(", ")
        }; realm ${realm.name} accepts ${realm.espSuites.map((s) => s.name).join(" ")}`,
      );
      this.#failure = { type: NotifyType.NoProposalChosen };
      return "done";
    }
    // The initiator's TSi is its side = our remote; its TSr is our local.
    const remoteTs = narrowSelectors(tsi.selectors, remoteSelectorsFor(sa, realm.remoteTs));
    const localTs = narrowSelectors(tsr.selectors, localSelectorsFor(sa, realm.localTs));
    if (remoteTs.length === 0 || localTs.length === 0) {
      sa.log.warn(
        `TS_UNACCEPTABLE for ${sa.remoteId}: peer proposed ${list(tsi.selectors)} === ${
          list(tsr.selectors)
        }; realm ${realm.name} allows ${list(realm.remoteTs)} === ${list(realm.localTs)}`,
      );
      this.#failure = { type: NotifyType.TsUnacceptable };
      return "done";
    }
    const natRefusal = natTraversalRefusal(sa);
    if (natRefusal !== undefined) {
      sa.log.warn(`CHILD_SA for ${sa.remoteId} refused: ${natRefusal}`);
      this.#failure = { type: NotifyType.NoProposalChosen };
      return "done";
    }
    this.#inputs = { nonceI: sa.nonceI!, nonceR: sa.nonceR! };
    if (separate) {
      this.#nonce = randomNonce(this.#services);
      this.#inputs = { nonceI: nonce!.nonce, nonceR: this.#nonce };
      const chosen = saPayload.proposals.find((p) => p.number === selection.proposalNumber)!;
      const group = proposalDhGroup(chosen);
      const ke = message.get(PayloadType.KeyExchange);
      if (group !== undefined) {
        if (!ke || ke.dhGroup !== group) {
          this.#failure = {
            type: NotifyType.InvalidKePayload,
            data: new Uint8Array([group >> 8, group & 0xff]),
          };
          return "done";
        }
        try {
          this.#dh = this.#services.crypto.createDh(group);
          this.#inputs.sharedSecret = this.#dh.computeSecret(ke.keyData);
        } catch (e) {
          sa.log.warn(
            `CREATE_CHILD_SA KE from ${sa.remoteId} is unusable: ${(e as Error).message}`,
          );
          this.#failure = { type: NotifyType.InvalidSyntax };
          return "done";
        }
        this.#dhGroup = group;
      }
    }
    if (rekeyed) rekeyed.rekeying = true;
    this.#replaces = rekeyed;
    this.#proposalNumber = selection.proposalNumber;
    this.#record = {
      spiIn: this.#services.allocateSpi(rekeyed?.spiIn),
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
      message.notify(this.#failure.type, this.#failure.data);
      return "done";
    }
    const record = this.#record!;
    try {
      if (this.#replaces) record.replaces = this.#replaces;
      await installChild(this.#sa, this.#services, record, this.#inputs!);
    } catch (e) {
      this.#sa.log.error(`Cannot install CHILD_SA: ${(e as Error).message}`);
      message.notify(NotifyType.TemporaryFailure);
      return "done";
    }
    message.add({
      type: PayloadType.SecurityAssociation,
      proposals: [
        espProposal(record.suite, this.#proposalNumber, spiToBytes(record.spiIn), this.#dhGroup),
      ],
    });
    if (this.#nonce) message.add({ type: PayloadType.Nonce, nonce: this.#nonce });
    if (this.#dh) {
      message.add({
        type: PayloadType.KeyExchange,
        dhGroup: this.#dh.group,
        keyData: this.#dh.publicKey,
      });
    }
    message.add({ type: PayloadType.TsInitiator, selectors: record.remoteTs });
    message.add({ type: PayloadType.TsResponder, selectors: record.localTs });
    return "done";
  }
}
