/**
 * IKE_AUTH identities and PSK authentication (RFC 7296 §1.2, §2.15).
 *
 * InitiatorSignedOctets = RealMessage1 | NonceRData | prf(SK_pi, RestOfInitIDPayload)
 * ResponderSignedOctets = RealMessage2 | NonceIData | prf(SK_pr, RestOfRespIDPayload)
 * The AUTH value itself comes from the AuthService, which holds the keys.
 */
import { AuthUnavailableError } from "../../auth/mod.ts";
import { prf } from "../../crypto/mod.ts";
import { concatBytes } from "../../wire/mod.ts";
import { AuthMethod, nameOf, NotifyType, PayloadType } from "../constants.ts";
import type { IkeSa } from "../ike_sa.ts";
import { IkeSaState } from "../ike_sa.ts";
import type { IncomingMessage, OutgoingMessage } from "../message.ts";
import { formatIdentity, parseIdentity } from "../payloads/mod.ts";
import type { IdPayload } from "../payloads/mod.ts";
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
    let auth: Uint8Array;
    try {
      auth = await this.#services.auth.computePskAuth({
        realmId: realm.id,
        peerId: peer.id,
        prf: sa.prf!.hash,
        signedOctets: signedOctets(sa, true, idi),
      });
    } catch (e) {
      if (!(e instanceof AuthUnavailableError)) throw e;
      sa.log.error(
        `${e.message}: add <peer id="${peer.id}" psk="..."/> to realm ${realm.id} in auth.xml`,
      );
      return "failed";
    }
    message.add(idi);
    message.add(idPayload(PayloadType.IdResponder, peer.id));
    message.add({ type: PayloadType.Authentication, method: AuthMethod.SharedKeyMic, data: auth });
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
          ? `${peer.id} refused our authentication (AUTHENTICATION_FAILED): check the PSK for it in auth.xml and our identity ${sa.localId}`
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
    if (auth.method !== AuthMethod.SharedKeyMic) {
      sa.log.error(
        `AUTHENTICATION_FAILED: responder uses auth method ${
          nameOf(AuthMethod, auth.method)
        }, realm expects psk`,
      );
      return "failed";
    }
    const ok = await this.#services.auth.verifyPskAuth({
      realmId: sa.realm!.id,
      peerId: peer.id,
      prf: sa.prf!.hash,
      signedOctets: signedOctets(sa, false, idr),
      auth: auth.data,
    });
    if (!ok) {
      sa.log.error(`AUTHENTICATION_FAILED: AUTH from ${remoteId} does not verify (different PSK?)`);
      return "failed";
    }
    sa.remoteId = remoteId;
    sa.state = IkeSaState.Established;
    sa.log.info(
      `IKE_SA established: ${sa.localId} [${sa.local.address}:${sa.local.port}] ↔ ${remoteId} [${sa.remote.address}:${sa.remote.port}], ${
        sa.suite!.name
      }, realm ${sa.realm!.name}`,
    );
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
        return this.#fail("peer wants EAP, which this release does not offer");
      }
      this.#failure = NotifyType.InvalidSyntax;
      sa.log.warn("IKE_AUTH request lacks IDi or AUTH");
      return "failed";
    }
    const peerId = formatIdentity(idi.idType, idi.data);
    sa.remoteId = peerId;
    sa.initialContact = message.notifies(NotifyType.InitialContact).length > 0;
    const realm = realmForPeer(this.#services.realms, peerId);
    if (!realm) {
      return this.#fail(
        `no realm lists peer ${peerId}: add <peer id="${peerId}"/> to a realm in rockhopper.xml and its psk to auth.xml`,
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
    if (auth.method !== AuthMethod.SharedKeyMic) {
      return this.#fail(
        `peer ${peerId} uses auth method ${
          nameOf(AuthMethod, auth.method)
        }; realm ${realm.name} expects psk`,
      );
    }
    if (!(await this.#services.auth.hasPsk(realm.id, peerId))) {
      return this.#fail(
        `realm ${realm.name} has no shared key for ${peerId}: add <peer id="${peerId}" psk="..."/> to auth.xml`,
      );
    }
    const ok = await this.#services.auth.verifyPskAuth({
      realmId: realm.id,
      peerId,
      prf: sa.prf!.hash,
      signedOctets: signedOctets(sa, true, idi),
      auth: auth.data,
    });
    if (!ok) return this.#fail(`AUTH from ${peerId} does not verify (different PSK?)`);
    return "done";
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
    const auth = await this.#services.auth.computePskAuth({
      realmId: realm.id,
      peerId: sa.remoteId!,
      prf: sa.prf!.hash,
      signedOctets: signedOctets(sa, false, idr),
    });
    message.add(idr);
    message.add({ type: PayloadType.Authentication, method: AuthMethod.SharedKeyMic, data: auth });
    sa.state = IkeSaState.Established;
    sa.log.info(
      `IKE_SA established: ${sa.localId} [${sa.local.address}:${sa.local.port}] ↔ ${sa.remoteId} [${sa.remote.address}:${sa.remote.port}], ${
        sa.suite!.name
      }, realm ${realm.name}`,
    );
    return "done";
  }
}
