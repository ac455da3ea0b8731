/**
 * The seam between the EAP layer (server.ts, peer.ts: identities, identifiers, Nak,
 * Success/Failure) and one authentication method (md5_challenge.ts, mschapv2.ts), which only
 * ever sees its own Type-Data. Methods may throw `DecodeError` for malformed Type-Data; the
 * EAP layer turns it into a "malformed" failure.
 */
import { randomFillSync } from "node:crypto";
import type { EapError } from "./errors.ts";

/** Fills `out` with random bytes (challenges, identifiers); injectable for tests. */
export type RandomSource = (out: Uint8Array) => void;

export const defaultRandom: RandomSource = (out) => {
  randomFillSync(out);
};

export function randomBytes(random: RandomSource, length: number): Uint8Array {
  const out = new Uint8Array(length);
  random(out);
  return out;
}

export type ServerMethodStep =
  /** Send another Request of this method with this Type-Data. */
  | { kind: "request"; data: Uint8Array }
  /** The peer is authenticated; send EAP-Success. */
  | { kind: "success"; msk?: Uint8Array }
  /** Send EAP-Failure. */
  | { kind: "failure"; error: EapError };

export interface ServerMethod {
  readonly type: number;
  /** Type-Data of the first Request, which goes out with EAP Identifier `identifier`. */
  initiate(identifier: number): Uint8Array;
  /** Type-Data of the Response to the Request sent with `identifier`. */
  process(identifier: number, data: Uint8Array): ServerMethodStep;
  /** Zeroes secrets held by the method. */
  dispose(): void;
}

export type PeerMethodStep =
  | { kind: "response"; data: Uint8Array }
  | { kind: "failure"; error: EapError };

export type PeerMethodCompletion =
  | { ok: true; msk?: Uint8Array }
  | { ok: false; error: EapError };

export interface PeerMethod {
  readonly type: number;
  /** Type-Data of a Request of this method, received with `identifier`. */
  process(identifier: number, data: Uint8Array): PeerMethodStep;
  /** Called on EAP-Success: whether the method may accept it (and its MSK). */
  complete(): PeerMethodCompletion;
  /** Called on EAP-Failure: the method's own account of the failure, if it has one. */
  failure(): EapError | undefined;
  dispose(): void;
}
