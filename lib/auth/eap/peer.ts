/**
 * The EAP peer (RFC 3748 §2) as the road-warrior client runs it inside IKE_AUTH. The peer
 * never initiates: `start()` returns nothing to send, and every Request is answered with a
 * Response carrying the same Identifier.
 *
 * - Identity → our identity; Notification → an empty Notification Response (§5.2), at any time.
 * - Our method's Type → the method; any other Type before the method started → Nak naming our
 *   method (§5.3.1; Expanded Nak for an Expanded Type, §5.3.2); after it started → failure
 *   (§2.1: the server must not switch methods mid-way).
 * - EAP-Success is accepted only when the method says so (MSCHAPv2: after the server's S= was
 *   verified), never as a "canned" success; EAP-Failure ends the conversation.
 */
import { DecodeError } from "../../wire/mod.ts";
import {
  defaultRandom,
  type PeerMethod,
  type PeerMethodStep,
  type RandomSource,
} from "./_method.ts";
import { EapCode, eapName, EapType } from "./constants.ts";
import type { EapConversation, EapMethodName, EapOutcome, EapStep } from "./conversation.ts";
import { EapError, errorMessage, unexpected } from "./errors.ts";
import { Md5PeerMethod } from "./md5_challenge.ts";
import { MsChapV2PeerMethod } from "./mschapv2.ts";
import {
  type EapPacket,
  eapPacketBytes,
  encodeExpandedNak,
  encodeNak,
  parseEapPacket,
} from "./packet.ts";

export interface EapPeerOptions {
  /** Our EAP identity (Identity Response; the MSCHAPv2 Name, `DOMAIN\user` allowed). */
  identity: string;
  password: string;
  /** Random source for the MSCHAPv2 peer challenge; tests inject a deterministic one. */
  randomBytes?: RandomSource;
}

type State = "idle" | "waiting" | "method" | "done";

/** An EAP peer conversation; create it with {@link createEapPeer}. */
export class EapPeer implements EapConversation {
  readonly method: EapMethodName;
  readonly #identity: string;
  readonly #methodState: PeerMethod;
  #state: State = "idle";

  constructor(method: EapMethodName, options: EapPeerOptions) {
    this.method = method;
    this.#identity = options.identity;
    this.#methodState = method === "md5"
      ? new Md5PeerMethod(options.password)
      : new MsChapV2PeerMethod(
        options.identity,
        options.password,
        options.randomBytes ?? defaultRandom,
      );
  }

  /** The peer waits for the server's first Request: nothing to send. */
  start(): EapStep {
    if (this.#state !== "idle") throw new TypeError("Cannot start EAP peer: already started");
    this.#state = "waiting";
    return {};
  }

  handle(bytes: Uint8Array): EapStep {
    if (this.#state === "idle" || this.#state === "done") {
      throw new TypeError(`Cannot handle EAP packet: peer conversation is ${this.#state}`);
    }
    let packet: EapPacket;
    try {
      packet = parseEapPacket(bytes);
    } catch (e) {
      return this.#fail(
        new EapError("malformed", `Malformed EAP packet: ${errorMessage(e)}`, { cause: e }),
      );
    }
    switch (packet.code) {
      case EapCode.Success: {
        const completion = this.#state === "method"
          ? this.#methodState.complete()
          : { ok: false as const, error: unexpected("EAP-Success before any authentication") };
        if (!completion.ok) return this.#fail(completion.error);
        this.#state = "done";
        const done: EapOutcome = { success: true, identity: this.#identity };
        if (completion.msk) done.msk = completion.msk;
        this.#methodState.dispose();
        return { done };
      }
      case EapCode.Failure:
        return this.#fail(
          this.#methodState.failure() ?? new EapError("rejected", "EAP-Failure from the server"),
        );
      case EapCode.Response:
        return this.#fail(unexpected("EAP Response sent to the peer"));
    }
    const { identifier, type, data } = packet;
    const started = this.#state === "method";
    const respond = (t: number, d: Uint8Array): EapStep => ({
      send: eapPacketBytes({ code: EapCode.Response, identifier, type: t, data: d }),
    });
    if (type === EapType.Notification) return respond(EapType.Notification, new Uint8Array());
    if (type === this.#methodState.type) {
      this.#state = "method";
      let step: PeerMethodStep;
      try {
        step = this.#methodState.process(identifier, data);
      } catch (e) {
        const reason = e instanceof DecodeError ? "malformed" : "internal";
        return this.#fail(
          new EapError(reason, `Cannot process ${this.method} Request: ${errorMessage(e)}`, {
            cause: e,
          }),
        );
      }
      return step.kind === "response" ? respond(type, step.data) : this.#fail(step.error);
    }
    if (started) {
      return this.#fail(unexpected(`EAP ${eapName(EapType, type)} Request during ${this.method}`));
    }
    switch (type) {
      case EapType.Identity:
        return respond(EapType.Identity, new TextEncoder().encode(this.#identity));
      case EapType.Nak:
        return this.#fail(unexpected("EAP Nak in a Request"));
      case EapType.Expanded:
        return respond(EapType.Expanded, encodeExpandedNak([this.#methodState.type]));
      default:
        return respond(EapType.Nak, encodeNak([this.#methodState.type]));
    }
  }

  #fail(error: EapError): EapStep {
    this.#state = "done";
    this.#methodState.dispose();
    return { done: { success: false, identity: this.#identity, error } };
  }

  dispose(): void {
    this.#methodState.dispose();
  }
}

/**
 * An EAP peer for `method`. The engine sends IKE_AUTH without AUTH, calls `start()`, feeds
 * each EAP payload of the gateway's responses to `handle()`, and sends each `send` back in an
 * EAP payload, until `done`.
 *
 * @example
 * ```ts
 * const peer = createEapPeer("mschapv2", { identity: "alice", password: "secret" });
 * peer.start();
 * const step = peer.handle(gatewayEapPayload); // { send: EAP-Response/Identity "alice" }
 * ```
 */
export function createEapPeer(method: EapMethodName, options: EapPeerOptions): EapPeer {
  if (method !== "md5" && method !== "mschapv2") {
    throw new TypeError(`Cannot create EAP peer: unknown method "${method}"`);
  }
  return new EapPeer(method, options);
}
