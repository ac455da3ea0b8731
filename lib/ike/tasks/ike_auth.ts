/**
 * IKE_AUTH identities and authentication (RFC 7296 §1.2, §2.15; RFC 7427): shared keys, or
 * certificates with signatures (CERT payloads carry our certificate and chain).
 *
 * InitiatorSignedOctets = RealMessage1 | NonceRData | prf(SK_pi, RestOfInitIDPayload)
 * ResponderSignedOctets = RealMessage2 | NonceIData | prf(SK_pr, RestOfRespIDPayload)
 * AUTH values, signatures and certificate checks come from the AuthService, which holds the
 * keys; this task only assembles octets and payloads.
 */
import { AuthUnavailableError } from "../../auth/mod.ts";
import { prf } from "../../crypto/mod.ts";
import { concatBytes } from "../../wire/mod.ts";
import { AuthMethod, nameOf, NotifyType, PayloadType } from "../constants.ts";
import type { IkeSa } from "../ike_sa.ts";
import { IkeSaState } from "../ike_sa.ts";
import type { IncomingMessage, OutgoingMessage } from "../message.ts";
import { formatIdentity, parseIdentity } from "../payloads/mod.ts";
import type { AuthPayload, IdPayload, OpaquePayload } from "../payloads/mod.ts";
import { realmForPeer } from "../realm_policy.ts";
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

function logEstablished(sa: IkeSa): void {
  sa.log.info(
    `IKE_SA established: ${sa.localId} [${sa.local.address}:${sa.local.port}] ↔ ${sa.remoteId} [${sa.remote.address}:${sa.remote.port}], ${
      sa.suite!.name
    }, realm ${sa.realm!.name}`,
  );
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

  constructor(sa: IkeSa, services: TaskServices) {
    this.#sa = sa;
    this.#services = services;
  }

  async build(message: OutgoingMessage): Promise<TaskStatus> {
    const sa = this.#sa;
    const realm = sa.realm!;
    const peer = sa.peer!;
    const idi = idPayload(PayloadType.IdInitiator, realm.localId);
    sa.localId = realm.localId;
    message.add(idi);
    message.add(idPayload(PayloadType.IdResponder, peer.id));
    if ((await this.#services.auth.peerMethod(realm.id, peer.id)) === "cert") {
      const request = await this.#services.auth.certificateRequest(realm.id);
      if (request) {
        message.add({ type: PayloadType.CertificateRequest, critical: false, body: request });
      }
    }
    try {
      await addOwnAuth(sa, this.#services, message, idi, peer.id);
    } catch (e) {
      if (!(e instanceof AuthUnavailableError)) throw e;
      sa.log.error(
        `${e.message}: add <peer id="${peer.id}" psk="..."/> (or a certificate) to realm ${realm.id} in auth.xml`,
      );
      return "failed";
    }
    message.notify(NotifyType.InitialContact);
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
          ? `${peer.id} refused our authentication (AUTHENTICATION_FAILED): check the PSK or certificate for it in auth.xml and our identity ${sa.localId}`
          : `IKE_AUTH refused by ${peer.id}: ${name}`,
      );
      return "failed";
    }
    const idr = message.get(PayloadType.IdResponder);
    const auth = message.get(PayloadType.Authentication);
    if (!idr || !auth) {
      sa.log.error("IKE_AUTH response lacks IDr or AUTH");
      return "failed";
    }
    const remoteId = formatIdentity(idr.idType, idr.data);
    if (remoteId.toLowerCase() !== peer.id.toLowerCase()) {
      sa.log.error(
        `AUTHENTICATION_FAILED: responder identifies as ${remoteId}, expected ${peer.id}`,
      );
      return "failed";
    }
    const failure = await verifyPeerAuth(sa, this.#services, message, idr, auth, peer.id);
    if (failure) {
      sa.log.error(`AUTHENTICATION_FAILED: ${failure}`);
      return "failed";
    }
    sa.remoteId = remoteId;
    sa.state = IkeSaState.Established;
    logEstablished(sa);
    return "done";
  }
}

export class IkeAuthResponderTask implements Task {
  readonly name = "ike_auth";
  readonly #sa: IkeSa;
  readonly #services: TaskServices;
  #failure: number | undefined;

  constructor(sa: IkeSa, services: TaskServices) {
    this.#sa = sa;
    this.#services = services;
  }

  #fail(reason: string): TaskStatus {
    this.#sa.log.warn(`AUTHENTICATION_FAILED for ${this.#sa.remote.address}: ${reason}`);
    this.#failure = NotifyType.AuthenticationFailed;
    return "failed";
  }

  async process(message: IncomingMessage): Promise<TaskStatus> {
    const sa = this.#sa;
    const idi = message.get(PayloadType.IdInitiator);
    const auth = message.get(PayloadType.Authentication);
    if (!idi || !auth) {
      if (message.all(PayloadType.Eap).length > 0 || (idi && !auth)) {
        return this.#fail("peer wants EAP, which this release does not offer yet");
      }
      this.#failure = NotifyType.InvalidSyntax;
      sa.log.warn("IKE_AUTH request lacks IDi or AUTH");
      return "failed";
    }
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
        `no realm admits peer ${peerId}: add <peer id="${peerId}"/> to a realm in rockhopper.xml and its psk (or auth="cert") to auth.xml, or a matching <role>`,
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
    const failure = await verifyPeerAuth(sa, this.#services, message, idi, auth, peerId);
    return failure ? this.#fail(failure) : "done";
  }

  async build(message: OutgoingMessage): Promise<TaskStatus> {
    const sa = this.#sa;
    if (this.#failure !== undefined) {
      message.fail(this.#failure);
      return "failed";
    }
    const realm = sa.realm!;
    const idr = idPayload(PayloadType.IdResponder, realm.localId);
    sa.localId = realm.localId;
    message.add(idr);
    await addOwnAuth(sa, this.#services, message, idr, sa.remoteId!);
    sa.state = IkeSaState.Established;
    logEstablished(sa);
    return "done";
  }
}
