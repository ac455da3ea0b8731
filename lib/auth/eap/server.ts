/**
 * The EAP server (authenticator, RFC 3748 §2) as the gateway runs it inside IKE_AUTH:
 *
 *   1. Identity Request (skipped when the engine already knows the identity)
 *   2. credentials lookup for that identity, method Requests until the method decides
 *   3. EAP-Success (with the MSK of a key-generating method) or EAP-Failure
 *
 * Every Response must carry the Identifier of the outstanding Request (§4.1). Because IKE
 * already delivers each message exactly once, a Response that is malformed, out of order or
 * wrongly numbered is not silently dropped as on a lossy link: it ends the conversation with
 * EAP-Failure, as strongSwan does. An unknown identity runs the method against a random
 * secret, so the peer cannot tell it from a wrong password.
 */
import { DecodeError } from "../../wire/mod.ts";
import {
  defaultRandom,
  randomBytes,
  type RandomSource,
  type ServerMethod,
  type ServerMethodStep,
} from "./_method.ts";
import { EapCode, eapName, EapType } from "./constants.ts";
import type { EapConversation, EapMethodName, EapOutcome, EapStep } from "./conversation.ts";
import { EapError, errorMessage, unexpected } from "./errors.ts";
import { Md5ServerMethod } from "./md5_challenge.ts";
import { MsChapV2ServerMethod } from "./mschapv2.ts";
import { decodeNak, type EapPacket, eapPacketBytes, parseEapPacket } from "./packet.ts";

export interface EapServerOptions {
  /**
   * The password of an EAP identity, or undefined when there is none. Runs in the secure
   * process; the password never leaves the conversation.
   */
  credentials: (identity: string) => string | undefined;
  /**
   * The peer's identity if already known (e.g. from IKE IDi); skips the Identity exchange.
   * Leave unset to ask with EAP-Identity (RFC 3748 §5.1), as strongSwan's `eap_id=%any`.
   */
  identity?: string;
  /** EAP-MSCHAPv2: Name in the Challenge (default "rockhopper"). */
  serverName?: string;
  /** EAP-MSCHAPv2: the " M=" text of the Success-Request. */
  successMessage?: string;
  /** EAP-MSCHAPv2: the " M=" text of the Failure-Request. */
  failureMessage?: string;
  /** Random source for identifiers and challenges; tests inject a deterministic one. */
  randomBytes?: RandomSource;
}

type State = "idle" | "identity" | "method" | "done";

/** An EAP server conversation; create it with {@link createEapServer}. */
export class EapServer implements EapConversation {
  readonly method: EapMethodName;
  readonly #options: EapServerOptions;
  readonly #random: RandomSource;
  #state: State = "idle";
  #identifier = 0;
  #identity: string | undefined;
  #methodState: ServerMethod | undefined;

  constructor(method: EapMethodName, options: EapServerOptions) {
    this.method = method;
    this.#options = options;
    this.#random = options.randomBytes ?? defaultRandom;
  }

  start(): EapStep {
    if (this.#state !== "idle") throw new TypeError("Cannot start EAP server: already started");
    this.#identifier = randomBytes(this.#random, 1)[0]!;
    if (this.#options.identity !== undefined) return this.#startMethod(this.#options.identity);
    this.#state = "identity";
    return {
      send: eapPacketBytes({
        code: EapCode.Request,
        identifier: this.#identifier,
        type: EapType.Identity,
        data: new Uint8Array(),
      }),
    };
  }

  handle(bytes: Uint8Array): EapStep {
    if (this.#state === "idle" || this.#state === "done") {
      throw new TypeError(`Cannot handle EAP packet: server conversation is ${this.#state}`);
    }
    let packet: EapPacket;
    try {
      packet = parseEapPacket(bytes);
    } catch (e) {
      return this.#fail(
        new EapError("malformed", `Malformed EAP packet: ${errorMessage(e)}`, { cause: e }),
      );
    }
    if (packet.code !== EapCode.Response) {
      return this.#fail(unexpected(`EAP ${eapName(EapCode, packet.code)} sent to the server`));
    }
    if (packet.identifier !== this.#identifier) {
      return this.#fail(
        unexpected(`EAP Response ${packet.identifier} does not answer Request ${this.#identifier}`),
      );
    }
    if (this.#state === "identity") {
      if (packet.type !== EapType.Identity) {
        return this.#fail(unexpected(`EAP ${eapName(EapType, packet.type)} instead of Identity`));
      }
      let identity: string;
      try {
        identity = new TextDecoder("utf-8", { fatal: true }).decode(packet.data);
      } catch (e) {
        return this.#fail(new EapError("malformed", "EAP Identity is not UTF-8", { cause: e }));
      }
      return this.#startMethod(identity);
    }
    const method = this.#methodState!;
    if (packet.type === EapType.Nak) {
      let desired: number[];
      try {
        desired = decodeNak(packet.data);
      } catch (e) {
        return this.#fail(
          new EapError("malformed", `Malformed Nak: ${errorMessage(e)}`, { cause: e }),
        );
      }
      const names = desired.map((t) => eapName(EapType, t)).join(", ") || "none";
      return this.#fail(new EapError("nak", `Peer refused ${this.method}, wants: ${names}`));
    }
    if (packet.type !== method.type) {
      return this.#fail(unexpected(`EAP ${eapName(EapType, packet.type)} during ${this.method}`));
    }
    let step: ServerMethodStep;
    try {
      step = method.process(packet.identifier, packet.data);
    } catch (e) {
      const reason = e instanceof DecodeError ? "malformed" : "internal";
      return this.#fail(
        new EapError(reason, `Cannot process ${this.method} Response: ${errorMessage(e)}`, {
          cause: e,
        }),
      );
    }
    return this.#continue(step);
  }

  #startMethod(identity: string): EapStep {
    this.#identity = identity;
    let password: string | undefined;
    try {
      password = this.#options.credentials(identity);
    } catch (e) {
      return this.#fail(new EapError("internal", "EAP credentials lookup failed", { cause: e }));
    }
    this.#methodState = this.method === "md5"
      ? new Md5ServerMethod(password, this.#random)
      : new MsChapV2ServerMethod(password, this.#random, this.#options);
    if (this.#state === "identity") this.#identifier = (this.#identifier + 1) & 0xff;
    this.#state = "method";
    const data = this.#methodState.initiate(this.#identifier);
    return { send: this.#request(data) };
  }

  #continue(step: ServerMethodStep): EapStep {
    switch (step.kind) {
      case "request":
        this.#identifier = (this.#identifier + 1) & 0xff;
        return { send: this.#request(step.data) };
      case "failure":
        return this.#fail(step.error);
      case "success": {
        this.#state = "done";
        const done: EapOutcome = { success: true };
        if (step.msk) done.msk = step.msk;
        if (this.#identity !== undefined) done.identity = this.#identity;
        this.#methodState?.dispose();
        return { send: this.#result(EapCode.Success), done };
      }
    }
  }

  #request(data: Uint8Array): Uint8Array {
    return eapPacketBytes({
      code: EapCode.Request,
      identifier: this.#identifier,
      type: this.#methodState!.type,
      data,
    });
  }

  /** Success/Failure carry the Identifier of the Response they answer (RFC 3748 §4.2). */
  #result(code: typeof EapCode.Success | typeof EapCode.Failure): Uint8Array {
    return eapPacketBytes({ code, identifier: this.#identifier });
  }

  #fail(error: EapError): EapStep {
    this.#state = "done";
    this.#methodState?.dispose();
    const done: EapOutcome = { success: false, error };
    if (this.#identity !== undefined) done.identity = this.#identity;
    return { send: this.#result(EapCode.Failure), done };
  }

  dispose(): void {
    this.#methodState?.dispose();
  }
}

/**
 * An EAP server for `method`. The engine calls `start()` when the peer's IKE_AUTH request has
 * no AUTH payload, puts each `send` into an EAP payload of its IKE_AUTH response, and feeds
 * the peer's EAP payloads to `handle()` until `done`.
 *
 * @example
 * ```ts
 * const server = createEapServer("mschapv2", {
 *   credentials: (identity) => users.get(identity),
 * });
 * let step = server.start(); // EAP-Request/Identity
 * step = server.handle(peerEapPayload); // ... until step.done
 * if (step.done?.success) useMskForAuth(step.done.msk);
 * ```
 */
export function createEapServer(method: EapMethodName, options: EapServerOptions): EapServer {
  if (method !== "md5" && method !== "mschapv2") {
    throw new TypeError(`Cannot create EAP server: unknown method "${method}"`);
  }
  return new EapServer(method, options);
}
