/**
 * IKE_AUTH identities and authentication (RFC 7296 §1.2, §2.15; RFC 7427): shared keys, or
 * certificates with signatures (CERT payloads carry our certificate and chain).
 *
 * InitiatorSignedOctets = RealMessage1 | NonceRData | prf(SK_pi, RestOfInitIDPayload)
 * ResponderSignedOctets = RealMessage2 | NonceIData | prf(SK_pr, RestOfRespIDPayload)
 * AUTH values, signatures and certificate checks come from the AuthService, which holds the
 * keys; this task only assembles octets and payloads.
 *
 * EAP (§2.16) takes several rounds of the same exchange; the EAP conversation itself lives
 * behind the AuthService (the secure process):
 *
 *   I → R  IDi [IDr] SA TSi TSr            (no AUTH: "I want EAP")
 *   R → I  IDr [CERT] AUTH EAP(Request)    (the responder proves itself with its PSK or cert)
 *   I → R  EAP(Response)  ...  R → I  EAP(Success)
 *   I → R  AUTH                            (keyed with the MSK, else SK_pi)
 *   R → I  AUTH SA TSi TSr                 (keyed with the MSK, else SK_pr)
 */
import { AuthUnavailableError, type EapConclusion, isEapMethod, pskAuth } from "../../auth/mod.ts";
import { prf } from "../../crypto/mod.ts";
import { bytesEqual, concatBytes } from "../../wire/mod.ts";
import { AuthMethod, nameOf, NotifyType, PayloadType } from "../constants.ts";
import type { IkeSa } from "../ike_sa.ts";
import { IkeSaState } from "../ike_sa.ts";
import type { IncomingMessage, OutgoingMessage } from "../message.ts";
import { formatIdentity, parseIdentity } from "../payloads/mod.ts";
import type { AuthPayload, IdPayload, OpaquePayload } from "../payloads/mod.ts";
import { realmForPeer } from "../realm_policy.ts";
import { selectRealm } from "../../realm/mod.ts";
import type { Task, TaskServices, TaskStatus } from "./task.ts";

/** IDType | RESERVED | data: the ID payload body that AUTH covers. */
function idBody(id: IdPayload): Uint8Array {
  return concatBytes(new Uint8Array([id.idType, 0, 0, 0]), id.data);
}

function signedOctets(sa: IkeSa, ofInitiator: boolean, id: IdPayload): Uint8Array {
  const keys = sa.keys!;
  const message = ofInitiator ? sa.initRequest! : sa.initResponse!;
  const nonce = ofInitiator ? sa.nonceR! : sa.nonceI!;
  const macedId = prf(sa.crypto, sa.prf!.hash, ofInitiator ? keys.skPi : keys.skPr, idBody(id));
  return concatBytes(message, nonce, macedId);
}

function idPayload(type: IdPayload["type"], text: string): IdPayload {
  const { idType, data } = parseIdentity(text);
  return { type, idType, data };
}

function logEstablished(sa: IkeSa, eapIdentity?: string): void {
  const eap = eapIdentity === undefined ? "" : `, EAP identity "${eapIdentity}"`;
  sa.log.info(
    `IKE_SA established: ${sa.localId} [${sa.local.address}:${sa.local.port}] ↔ ${sa.remoteId} [${sa.remote.address}:${sa.remote.port}], ${
      sa.suite!.name
    }, realm ${sa.realm!.name}${eap}`,
  );
}

/** One EAP conversation of an IKE_AUTH exchange, as the task tracks it. */
interface EapProgress {
  session: number;
  /** The next EAP packet to send. */
  pending: Uint8Array | undefined;
  conclusion: EapConclusion | undefined;
}

/**
 * The AUTH value after EAP for the side named by `ofInitiator` (§2.16): keyed with the MSK
 * (computed where the MSK lives), or for a method without MSK with SK_pi / SK_pr.
 */
function eapAuthValue(
  sa: IkeSa,
  services: TaskServices,
  eap: EapProgress,
  ofInitiator: boolean,
  id: IdPayload,
): Promise<Uint8Array> {
  const octets = signedOctets(sa, ofInitiator, id);
  if (eap.conclusion?.hasMsk) {
    return services.auth.eapAuth({ session: eap.session, prf: sa.prf!.hash, signedOctets: octets });
  }
  const key = ofInitiator ? sa.keys!.skPi : sa.keys!.skPr;
  return Promise.resolve(pskAuth(sa.crypto, sa.prf!.hash, key, octets));
}

async function verifyEapAuth(
  sa: IkeSa,
  services: TaskServices,
  eap: EapProgress,
  id: IdPayload,
  auth: AuthPayload,
): Promise<boolean> {
  if (auth.method !== AuthMethod.SharedKeyMic) return false;
  if (eap.conclusion?.hasMsk) {
    return await services.auth.eapVerifyAuth({
      session: eap.session,
      prf: sa.prf!.hash,
      signedOctets: signedOctets(sa, !sa.initiator, id),
      auth: auth.data,
    });
  }
  return bytesEqual(await eapAuthValue(sa, services, eap, !sa.initiator, id), auth.data);
}

function eapText(conclusion: EapConclusion): string {
  return conclusion.identity === undefined ? "EAP" : `EAP identity "${conclusion.identity}"`;
}

/**
 * Adds our CERT payloads (method cert) and AUTH for identity `id` to `message`. Throws
 * AuthUnavailableError when the realm has no key for this peer.
 */
async function addOwnAuth(
  sa: IkeSa,
  services: TaskServices,
  message: OutgoingMessage,
  id: IdPayload,
  peerId: string,
): Promise<void> {
  const realm = sa.realm!;
  const octets = signedOctets(sa, sa.initiator, id);
  if ((await services.auth.localMethod(realm.id)) === "cert") {
    for (const body of await services.auth.localCertificates(realm.id)) {
      message.add({ type: PayloadType.Certificate, critical: false, body });
    }
    const { method, data } = await services.auth.signAuth({
      realmId: realm.id,
      signedOctets: octets,
      peerHashAlgorithms: sa.peerHashAlgorithms,
    });
    message.add({ type: PayloadType.Authentication, method, data });
    return;
  }
  const data = await services.auth.computePskAuth({
    realmId: realm.id,
    peerId,
    prf: sa.prf!.hash,
    signedOctets: octets,
  });
  message.add({ type: PayloadType.Authentication, method: AuthMethod.SharedKeyMic, data });
}

/**
 * Checks the peer's AUTH (and certificate) for identity `id`; returns why it fails, or
 * undefined when it verifies. The method must be the one configured for this peer.
 */
async function verifyPeerAuth(
  sa: IkeSa,
  services: TaskServices,
  message: IncomingMessage,
  id: IdPayload,
  auth: AuthPayload,
  peerId: string,
): Promise<string | undefined> {
  const realm = sa.realm!;
  const expected = await services.auth.peerMethod(realm.id, peerId);
  if (isEapMethod(expected)) {
    return `${peerId} sent AUTH, but realm ${realm.name} expects it to authenticate with ${expected}`;
  }
  const octets = signedOctets(sa, !sa.initiator, id);
  if (auth.method === AuthMethod.SharedKeyMic) {
    if (expected !== "psk" || !(await services.auth.hasPsk(realm.id, peerId))) {
      return expected === "cert"
        ? `${peerId} uses a shared key; realm ${realm.name} expects a certificate (auth="cert")`
        : `realm ${realm.name} has no shared key for ${peerId}: add <peer id="${peerId}" psk="..."/> to auth.xml`;
    }
    const ok = await services.auth.verifyPskAuth({
      realmId: realm.id,
      peerId,
      prf: sa.prf!.hash,
      signedOctets: octets,
      auth: auth.data,
    });
    return ok ? undefined : `AUTH from ${peerId} does not verify (different PSK?)`;
  }
  if (expected !== "cert") {
    return `${peerId} uses auth method ${
      nameOf(AuthMethod, auth.method)
    }; realm ${realm.name} expects psk (set auth="cert" on its <peer> in auth.xml to accept certificates)`;
  }
  const certificates = message.all(PayloadType.Certificate).map((c) => (c as OpaquePayload).body);
  const result = await services.auth.verifyCertificateAuth({
    realmId: realm.id,
    peerId,
    idType: id.idType,
    idData: id.data,
    certificates,
    method: auth.method,
    data: auth.data,
    signedOctets: octets,
  });
  if (!result.ok) return result.reason;
  sa.log.info(`${peerId} authenticated with certificate ${result.subject}`);
  return undefined;
}

export class IkeAuthInitiatorTask implements Task {
  readonly name = "ike_auth";
  readonly #sa: IkeSa;
  readonly #services: TaskServices;
  #idi: IdPayload | undefined;
  #idr: IdPayload | undefined;
  #eap: EapProgress | undefined;

  constructor(sa: IkeSa, services: TaskServices) {
    this.#sa = sa;
    this.#services = services;
  }

  async build(message: OutgoingMessage): Promise<TaskStatus> {
    if (this.#eap) return await this.#buildEapRound(message, this.#eap);
    const sa = this.#sa;
    const realm = sa.realm!;
    const peer = sa.peer!;
    const idi = idPayload(PayloadType.IdInitiator, realm.localId);
    this.#idi = idi;
    sa.localId = realm.localId;
    message.add(idi);
    message.add(idPayload(PayloadType.IdResponder, peer.id));
    if ((await this.#services.auth.peerMethod(realm.id, peer.id)) === "cert") {
      const request = await this.#services.auth.certificateRequest(realm.id);
      if (request) {
        message.add({ type: PayloadType.CertificateRequest, critical: false, body: request });
      }
    }
    const method = await this.#services.auth.localMethod(realm.id);
    try {
      if (isEapMethod(method)) {
        // §2.16: no AUTH payload says we authenticate with EAP.
        const round = await this.#services.auth.eapStart({
          realmId: realm.id,
          role: "peer",
          peerId: peer.id,
        });
        this.#eap = { session: round.session, pending: round.send, conclusion: undefined };
        sa.log.debug(`authenticating with ${method} as EAP client`);
      } else {
        await addOwnAuth(sa, this.#services, message, idi, peer.id);
      }
    } catch (e) {
      if (!(e instanceof AuthUnavailableError)) throw e;
      sa.log.error(
        `${e.message}: add <peer id="${peer.id}" psk="..."/> (or a certificate, or EAP credentials) to realm ${realm.id} in auth.xml`,
      );
      return "failed";
    }
    message.notify(NotifyType.InitialContact);
    return "more";
  }

  async #buildEapRound(message: OutgoingMessage, eap: EapProgress): Promise<TaskStatus> {
    if (eap.pending) {
      message.add({ type: PayloadType.Eap, critical: false, body: eap.pending });
      eap.pending = undefined;
      return "more";
    }
    const data = await eapAuthValue(this.#sa, this.#services, eap, true, this.#idi!);
    message.add({ type: PayloadType.Authentication, method: AuthMethod.SharedKeyMic, data });
    return "more";
  }

  async process(message: IncomingMessage): Promise<TaskStatus> {
    const sa = this.#sa;
    const peer = sa.peer!;
    const error = message.errorNotify();
    if (error && !message.get(PayloadType.Authentication)) {
      const name = nameOf(NotifyType, error.notifyType);
      sa.log.error(
        error.notifyType === NotifyType.AuthenticationFailed
          ? this.#eap
            ? `${peer.id} refused our EAP authentication (AUTHENTICATION_FAILED): check our EAP identity and password in auth.xml`
            : `${peer.id} refused our authentication (AUTHENTICATION_FAILED): check the PSK or certificate for it in auth.xml and our identity ${sa.localId}`
          : `IKE_AUTH refused by ${peer.id}: ${name}`,
      );
      await this.#endEap();
      return "failed";
    }
    if (!this.#idr) {
      const status = await this.#processResponderAuth(message);
      if (status !== "more") return status;
    } else if (!this.#eap?.conclusion) {
      return await this.#processEap(message, this.#eap!);
    } else {
      return await this.#processFinalAuth(message, this.#eap);
    }
    // The responder proved itself; its first EAP Request rides along.
    return await this.#processEap(message, this.#eap!);
  }

  /** The responder's IDr and AUTH (first response); "more" when EAP follows. */
  async #processResponderAuth(message: IncomingMessage): Promise<TaskStatus> {
    const sa = this.#sa;
    const peer = sa.peer!;
    const idr = message.get(PayloadType.IdResponder);
    const auth = message.get(PayloadType.Authentication);
    if (!idr || !auth) {
      sa.log.error("IKE_AUTH response lacks IDr or AUTH");
      await this.#endEap();
      return "failed";
    }
    const remoteId = formatIdentity(idr.idType, idr.data);
    if (remoteId.toLowerCase() !== peer.id.toLowerCase()) {
      sa.log.error(
        `AUTHENTICATION_FAILED: responder identifies as ${remoteId}, expected ${peer.id}`,
      );
      await this.#endEap();
      return "failed";
    }
    const failure = await verifyPeerAuth(sa, this.#services, message, idr, auth, peer.id);
    if (failure) {
      sa.log.error(`AUTHENTICATION_FAILED: ${failure}`);
      await this.#endEap();
      return "failed";
    }
    this.#idr = idr;
    sa.remoteId = remoteId;
    if (this.#eap) return "more";
    sa.state = IkeSaState.Established;
    logEstablished(sa);
    return "done";
  }

  async #processEap(message: IncomingMessage, eap: EapProgress): Promise<TaskStatus> {
    const sa = this.#sa;
    const payload = message.get(PayloadType.Eap);
    if (!payload) {
      sa.log.error(`IKE_AUTH response from ${sa.peer!.id} carries no EAP payload`);
      await this.#endEap();
      return "failed";
    }
    const round = await this.#services.auth.eapProcess(eap.session, payload.body);
    eap.pending = round.send;
    if (!round.done) {
      if (!round.send) {
        sa.log.error("EAP: nothing to answer the gateway's EAP packet with");
        await this.#endEap();
        return "failed";
      }
      return "more";
    }
    if (!round.done.success) {
      sa.log.error(
        `AUTHENTICATION_FAILED: ${eapText(round.done)} refused by ${sa.peer!.id}: ${
          round.done.reason ?? "EAP-Failure"
        } (check the EAP identity and password in auth.xml)`,
      );
      await this.#endEap();
      return "failed";
    }
    eap.conclusion = round.done;
    sa.log.info(`${eapText(round.done)} accepted by ${sa.peer!.id}; sending AUTH`);
    return "more";
  }

  async #processFinalAuth(message: IncomingMessage, eap: EapProgress): Promise<TaskStatus> {
    const sa = this.#sa;
    const auth = message.get(PayloadType.Authentication);
    const verified = auth !== undefined &&
      (await verifyEapAuth(sa, this.#services, eap, this.#idr!, auth));
    await this.#endEap();
    if (!verified) {
      sa.log.error(
        `AUTHENTICATION_FAILED: ${sa.peer!.id}'s AUTH after EAP ${
          auth ? "does not verify" : "is missing"
        }`,
      );
      return "failed";
    }
    sa.state = IkeSaState.Established;
    logEstablished(sa, eap.conclusion?.identity);
    return "done";
  }

  async #endEap(): Promise<void> {
    if (this.#eap) await this.#services.auth.eapEnd(this.#eap.session).catch(() => {});
  }
}

export class IkeAuthResponderTask implements Task {
  readonly name = "ike_auth";
  readonly #sa: IkeSa;
  readonly #services: TaskServices;
  #failure: number | undefined;
  #idi: IdPayload | undefined;
  #idr: IdPayload | undefined;
  #eap: EapProgress | undefined;
  /** EAP failed: the response carries EAP-Failure and the SA goes. */
  #eapFailed = false;
  /** The initiator's AUTH after EAP verified: this round completes the exchange. */
  #eapAuthenticated = false;

  constructor(sa: IkeSa, services: TaskServices) {
    this.#sa = sa;
    this.#services = services;
  }

  #fail(reason: string): TaskStatus {
    this.#sa.log.warn(`AUTHENTICATION_FAILED for ${this.#sa.remote.address}: ${reason}`);
    this.#failure = NotifyType.AuthenticationFailed;
    if (this.#eap) void this.#services.auth.eapEnd(this.#eap.session).catch(() => {});
    return "failed";
  }

  async process(message: IncomingMessage): Promise<TaskStatus> {
    if (this.#eap) return await this.#processEapRound(message, this.#eap);
    const sa = this.#sa;
    const idi = message.get(PayloadType.IdInitiator);
    const auth = message.get(PayloadType.Authentication);
    if (!idi) {
      this.#failure = NotifyType.InvalidSyntax;
      sa.log.warn("IKE_AUTH request lacks IDi");
      return "failed";
    }
    this.#idi = idi;
    const peerId = formatIdentity(idi.idType, idi.data);
    sa.remoteId = peerId;
    sa.initialContact = message.notifies(NotifyType.InitialContact).length > 0;
    let realm;
    try {
      realm = realmForPeer(
        this.#services.realms,
        idi,
        message.get(PayloadType.IdResponder),
      );
    } catch (e) {
      return this.#fail(`unreadable identity from ${sa.remote.address}: ${(e as Error).message}`);
    }
    if (!realm) {
      return this.#fail(
        `no realm admits peer ${peerId}: add <peer id="${peerId}"/> to a realm in rockhopper.xml and its psk (or auth="cert" / auth="eap-mschapv2") to auth.xml, or a matching <role>`,
      );
    }
    sa.realm = realm;
    sa.peer = realm.peers.find((p) => p.id.toLowerCase() === peerId.toLowerCase());
    if (!realm.ikeSuites.some((s) => s.name === sa.suite!.name)) {
      return this.#fail(
        `realm ${realm.name} does not accept ${sa.suite!.name} (it accepts ${
          realm.ikeSuites.map((s) => s.name).join(" ")
        })`,
      );
    }
    if (!auth) return await this.#startEap(peerId);
    const failure = await verifyPeerAuth(sa, this.#services, message, idi, auth, peerId);
    return failure ? this.#fail(failure) : "done";
  }

  /** §2.16: IDi without AUTH asks for EAP; the realm must have it configured for this peer. */
  async #startEap(peerId: string): Promise<TaskStatus> {
    const realm = this.#sa.realm!;
    const method = await this.#services.auth.peerMethod(realm.id, peerId);
    if (!isEapMethod(method)) {
      return this.#fail(
        `${peerId} wants EAP (IKE_AUTH without AUTH), but realm ${realm.name} expects ${
          method ?? "no method"
        } for it: set auth="eap-mschapv2" (or "eap-md5") on its <peer> or <role> in auth.xml`,
      );
    }
    try {
      const round = await this.#services.auth.eapStart({
        realmId: realm.id,
        role: "server",
        peerId,
      });
      this.#eap = { session: round.session, pending: round.send, conclusion: undefined };
    } catch (e) {
      if (!(e instanceof AuthUnavailableError)) throw e;
      return this.#fail(e.message);
    }
    this.#sa.log.debug(`authenticating ${peerId} with ${method} as EAP server`);
    return "more";
  }

  async #processEapRound(message: IncomingMessage, eap: EapProgress): Promise<TaskStatus> {
    const sa = this.#sa;
    if (!eap.conclusion) {
      const payload = message.get(PayloadType.Eap);
      if (!payload) return this.#fail(`${sa.remoteId} sent no EAP payload during EAP`);
      const round = await this.#services.auth.eapProcess(eap.session, payload.body);
      eap.pending = round.send;
      if (round.done) {
        eap.conclusion = round.done;
        if (!round.done.success) {
          sa.log.warn(
            `AUTHENTICATION_FAILED for ${sa.remote.address}: ${
              eapText(round.done)
            } of ${sa.remoteId}: ${round.done.reason ?? "EAP-Failure"}`,
          );
          this.#eapFailed = true;
          await this.#services.auth.eapEnd(eap.session).catch(() => {});
        }
      } else if (!round.send) {
        return this.#fail("EAP server has nothing to send");
      }
      return "more";
    }
    const auth = message.get(PayloadType.Authentication);
    if (!auth) return this.#fail(`${sa.remoteId} sent no AUTH after EAP-Success`);
    if (!(await verifyEapAuth(sa, this.#services, eap, this.#idi!, auth))) {
      return this.#fail(`AUTH of ${sa.remoteId} after ${eapText(eap.conclusion)} does not verify`);
    }
    const failure = this.#checkEapRealm(eap.conclusion);
    if (failure) return this.#fail(failure);
    this.#eapAuthenticated = true;
    return "done";
  }

  /**
   * Realms may admit by EAP identity (`<role type="eap">`): the identity the peer proved must
   * not belong to a different realm than the one its IDi chose.
   */
  #checkEapRealm(conclusion: EapConclusion): string | undefined {
    const sa = this.#sa;
    if (conclusion.identity === undefined) return undefined;
    const chosen = selectRealm(this.#services.realms, {
      identity: this.#idi!,
      eapIdentity: conclusion.identity,
    })?.realm;
    if (chosen && chosen.id !== sa.realm!.id) {
      return `${
        eapText(conclusion)
      } belongs to realm ${chosen.name}, but ${sa.remoteId} was admitted to realm ${
        sa.realm!.name
      }`;
    }
    return undefined;
  }

  async build(message: OutgoingMessage): Promise<TaskStatus> {
    const sa = this.#sa;
    if (this.#failure !== undefined) {
      message.fail(this.#failure);
      return "failed";
    }
    const eap = this.#eap;
    if (eap && !this.#idr) {
      // First response: our identity and AUTH, then the first EAP Request.
      const idr = this.#addIdentity(message);
      await addOwnAuth(sa, this.#services, message, idr, sa.remoteId!);
      message.add({ type: PayloadType.Eap, critical: false, body: eap.pending! });
      eap.pending = undefined;
      return "more";
    }
    if (eap && !this.#eapAuthenticated) {
      if (eap.pending) {
        message.add({ type: PayloadType.Eap, critical: false, body: eap.pending });
        eap.pending = undefined;
      }
      return this.#eapFailed ? "failed" : "more";
    }
    if (eap) {
      const data = await eapAuthValue(sa, this.#services, eap, false, this.#idr!);
      await this.#services.auth.eapEnd(eap.session).catch(() => {});
      message.add({ type: PayloadType.Authentication, method: AuthMethod.SharedKeyMic, data });
      sa.state = IkeSaState.Established;
      logEstablished(sa, eap.conclusion?.identity);
      return "done";
    }
    const idr = this.#addIdentity(message);
    await addOwnAuth(sa, this.#services, message, idr, sa.remoteId!);
    sa.state = IkeSaState.Established;
    logEstablished(sa);
    return "done";
  }

  #addIdentity(message: OutgoingMessage): IdPayload {
    const realm = this.#sa.realm!;
    const idr = idPayload(PayloadType.IdResponder, realm.localId);
    this.#idr = idr;
    this.#sa.localId = realm.localId;
    message.add(idr);
    return idr;
  }
}

/**
 * An INFORMATIONAL request while IKE_AUTH is still running: an initiator that rejects our
 * AUTH, or whose EAP method failed, says so with AUTHENTICATION_FAILED in a separate
 * INFORMATIONAL exchange (RFC 7296 §2.21.2; strongSwan does after an MSCHAPv2 failure). We
 * answer it and drop the half-open SA instead of waiting for the half-open timeout.
 */
export class IkeAuthAbortTask implements Task {
  readonly name = "ike_auth_abort";
  readonly #sa: IkeSa;

  constructor(sa: IkeSa) {
    this.#sa = sa;
  }

  process(message: IncomingMessage): Promise<TaskStatus> {
    const sa = this.#sa;
    const error = message.errorNotify();
    const why = error
      ? nameOf(NotifyType, error.notifyType)
      : message.get(PayloadType.Delete)
      ? "DELETE"
      : undefined;
    if (why === undefined) return Promise.resolve("done");
    sa.log.warn(
      `${
        sa.remoteId ?? sa.remote.address
      } ended IKE_AUTH with ${why}: it refused our AUTH or its EAP authentication failed`,
    );
    sa.state = IkeSaState.Deleting;
    return Promise.resolve("done");
  }

  build(_message: OutgoingMessage): Promise<TaskStatus> {
    return Promise.resolve("done");
  }
}
