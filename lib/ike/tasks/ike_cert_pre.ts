/**
 * The certificate preparations of IKE_SA_INIT (strongSwan's ike_cert_pre): the
 * SIGNATURE_HASH_ALGORITHMS notify (RFC 7427 §4) both ways, and the responder's CERTREQ
 * naming the CAs it trusts (RFC 7296 §3.7), so a peer with several certificates picks one.
 */
import { NotifyType, PayloadType } from "../constants.ts";
import type { IkeSa } from "../ike_sa.ts";
import type { IncomingMessage, OutgoingMessage } from "../message.ts";
import type { Task, TaskServices, TaskStatus } from "./task.ts";

/** Hash algorithms we accept in RFC 7427 signatures: SHA2-256, SHA2-384, SHA2-512. */
export const SIGNATURE_HASHES: readonly number[] = [2, 3, 4];

function encodeHashes(hashes: readonly number[]): Uint8Array {
  const out = new Uint8Array(hashes.length * 2);
  hashes.forEach((h, i) => {
    out[i * 2] = h >> 8;
    out[i * 2 + 1] = h & 0xff;
  });
  return out;
}

function readPeerHashes(sa: IkeSa, message: IncomingMessage): void {
  const notify = message.notifies(NotifyType.SignatureHashAlgorithms)[0];
  if (!notify || notify.data.length % 2 !== 0) return;
  const hashes: number[] = [];
  for (let i = 0; i < notify.data.length; i += 2) {
    hashes.push((notify.data[i]! << 8) | notify.data[i + 1]!);
  }
  sa.peerHashAlgorithms = hashes;
}

export class IkeCertPreTask implements Task {
  readonly name = "ike_cert_pre";
  readonly #sa: IkeSa;
  readonly #services: TaskServices;

  constructor(sa: IkeSa, services: TaskServices) {
    this.#sa = sa;
    this.#services = services;
  }

  async build(message: OutgoingMessage): Promise<TaskStatus> {
    message.notify(NotifyType.SignatureHashAlgorithms, encodeHashes(SIGNATURE_HASHES));
    if (!this.#sa.initiator) {
      const request = await this.#services.auth.certificateRequest();
      if (request) {
        message.add({ type: PayloadType.CertificateRequest, critical: false, body: request });
      }
    }
    return this.#sa.initiator ? "more" : "done";
  }

  process(message: IncomingMessage): Promise<TaskStatus> {
    readPeerHashes(this.#sa, message);
    return Promise.resolve("done");
  }
}
