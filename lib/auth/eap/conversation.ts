/**
 * What the IKE engine sees of an EAP conversation: `start()` and `handle(packet)` each return
 * an {@link EapStep}; the engine sends `step.send` in its next EAP payload and stops when
 * `step.done` is set. No secret ever appears in a step except the MSK of a successful,
 * key-generating method.
 */
import { EapType } from "./constants.ts";
import type { EapError } from "./errors.ts";

/** The EAP methods implemented here. */
export type EapMethodName = "md5" | "mschapv2";

/** EAP Type of each method. */
export const EAP_METHOD_TYPE: Readonly<Record<EapMethodName, number>> = {
  md5: EapType.Md5Challenge,
  mschapv2: EapType.MsChapV2,
};

/**
 * Whether `method` produces an MSK (RFC 3748 §7.10, "key derivation"). When it does not, the
 * IKEv2 AUTH payloads after EAP are keyed with SK_pi / SK_pr (RFC 7296 §2.16).
 *
 * @example
 * ```ts
 * eapMethodGeneratesMsk("mschapv2"); // true
 * eapMethodGeneratesMsk("md5"); // false
 * ```
 */
export function eapMethodGeneratesMsk(method: EapMethodName): boolean {
  return method === "mschapv2";
}

/** The end of a conversation. */
export interface EapOutcome {
  success: boolean;
  /**
   * The 64-byte Master Session Key, only on success of a key-generating method (MSCHAPv2).
   * Absent for EAP-MD5: the engine then uses SK_pi / SK_pr for AUTH (RFC 7296 §2.16).
   */
  msk?: Uint8Array;
  /** Server: the EAP identity that was authenticated (or refused). Peer: its own identity. */
  identity?: string;
  /** Why it failed; absent on success. */
  error?: EapError;
}

/** What to do after `start()` or `handle()`. */
export interface EapStep {
  /** An EAP packet to send to the other side (the next IKE_AUTH EAP payload). */
  send?: Uint8Array;
  /** Set once, when the conversation is over; `send` may accompany it (EAP-Success/Failure). */
  done?: EapOutcome;
}

/**
 * One side of one EAP conversation. `handle()` never throws for any input bytes: malformed or
 * unexpected packets end the conversation with `done.error`. Calling `start()` twice, or
 * `handle()` before `start()` or after `done`, is a programming error (`TypeError`).
 */
export interface EapConversation {
  readonly method: EapMethodName;
  start(): EapStep;
  handle(packet: Uint8Array): EapStep;
  /** Zeroes the secrets held by the conversation (password hashes, an MSK not yet handed out). */
  dispose(): void;
}
