/**
 * EAP-MD5-Challenge (RFC 3748 §5.4): CHAP (RFC 1994) inside EAP. Type-Data of both the
 * Request and the Response (RFC 1994 §4.1):
 *
 * ```
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |  Value-Size   |  Value ...        |  Name ...
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ```
 *
 * The Request's Value is the challenge; the Response's Value is
 * MD5(Identifier | secret | challenge), Identifier being the EAP Identifier of the Request.
 *
 * EAP-MD5 authenticates only the peer and derives no key ("Key derivation: No", §5.4), so the
 * outcome carries no MSK and IKEv2 must key both AUTH payloads with SK_pi / SK_pr instead
 * (RFC 7296 §2.16; see mod.ts). RFC 7296 §2.16 says such methods SHOULD NOT be used.
 */
import { ByteReader, bytesEqual, ByteWriter, DecodeError } from "../../wire/mod.ts";
import { md5 } from "./_hash.ts";
import {
  type PeerMethod,
  type PeerMethodCompletion,
  type PeerMethodStep,
  randomBytes,
  type RandomSource,
  type ServerMethod,
  type ServerMethodStep,
} from "./_method.ts";
import { EapType } from "./constants.ts";
import { EapError } from "./errors.ts";

export const MD5_CHALLENGE_LENGTH = 16;
const MD5_RESPONSE_LENGTH = 16;

export interface Md5ChallengeData {
  /** Challenge (Request) or MD5 response (Response). */
  value: Uint8Array;
  /** The sender's name; usually empty. */
  name: Uint8Array;
}

/**
 * Decodes MD5-Challenge Type-Data; Value-Size must be at least 1 and fit.
 *
 * @example
 * ```ts
 * decodeMd5Challenge(fromHex("02 abcd")); // { value: ab cd, name: empty }
 * ```
 */
export function decodeMd5Challenge(data: Uint8Array): Md5ChallengeData {
  const reader = new ByteReader(data);
  const size = reader.u8("MD5-Challenge Value-Size");
  if (size === 0) throw new DecodeError("Cannot decode MD5-Challenge: Value-Size is 0", 0);
  const value = reader.copy(size, "MD5-Challenge Value");
  return { value, name: reader.rest() };
}

/**
 * Encodes MD5-Challenge Type-Data.
 *
 * @example
 * ```ts
 * encodeMd5Challenge({ value: challenge, name: new Uint8Array() }); // 10 <16 bytes>
 * ```
 */
export function encodeMd5Challenge(value: Md5ChallengeData): Uint8Array {
  if (value.value.length === 0 || value.value.length > 0xff) {
    throw new RangeError(`Cannot encode MD5-Challenge: Value is ${value.value.length} bytes`);
  }
  return new ByteWriter(1 + value.value.length + value.name.length)
    .u8(value.value.length).bytes(value.value).bytes(value.name).finish();
}

/**
 * The CHAP response MD5(Identifier | secret | challenge) (RFC 1994 §4.1).
 *
 * @example
 * ```ts
 * md5ChallengeResponse(7, new TextEncoder().encode("secret"), challenge); // 16 bytes
 * ```
 */
export function md5ChallengeResponse(
  identifier: number,
  secret: Uint8Array,
  challenge: Uint8Array,
): Uint8Array {
  return md5(new Uint8Array([identifier]), secret, challenge);
}

/** The EAP server side: one challenge, one verification. */
export class Md5ServerMethod implements ServerMethod {
  readonly type = EapType.Md5Challenge;
  readonly #secret: Uint8Array;
  readonly #known: boolean;
  readonly #random: RandomSource;
  #challenge: Uint8Array | undefined;

  /** `password` undefined: unknown identity; the exchange runs and fails like a wrong one. */
  constructor(password: string | undefined, random: RandomSource) {
    this.#known = password !== undefined;
    this.#secret = password !== undefined
      ? new TextEncoder().encode(password)
      : randomBytes(random, 16);
    this.#random = random;
  }

  initiate(_identifier: number): Uint8Array {
    this.#challenge = randomBytes(this.#random, MD5_CHALLENGE_LENGTH);
    return encodeMd5Challenge({ value: this.#challenge, name: new Uint8Array() });
  }

  process(identifier: number, data: Uint8Array): ServerMethodStep {
    if (!this.#challenge) {
      return unexpected("Cannot verify EAP-MD5 response: no challenge was sent");
    }
    const { value } = decodeMd5Challenge(data);
    const expected = md5ChallengeResponse(identifier, this.#secret, this.#challenge);
    this.#challenge = undefined;
    if (!this.#known) {
      return failure("unknown-identity", "EAP-MD5 failed: no password for this identity");
    }
    if (value.length !== MD5_RESPONSE_LENGTH || !bytesEqual(value, expected)) {
      return failure("auth-failed", "EAP-MD5 failed: response does not match the password");
    }
    return { kind: "success" };
  }

  dispose(): void {
    this.#secret.fill(0);
  }
}

/** The EAP peer side: answers every challenge; accepts EAP-Success once it has answered. */
export class Md5PeerMethod implements PeerMethod {
  readonly type = EapType.Md5Challenge;
  readonly #secret: Uint8Array;
  #answered = false;

  constructor(password: string) {
    this.#secret = new TextEncoder().encode(password);
  }

  process(identifier: number, data: Uint8Array): PeerMethodStep {
    const { value: challenge } = decodeMd5Challenge(data);
    const value = md5ChallengeResponse(identifier, this.#secret, challenge);
    this.#answered = true;
    return { kind: "response", data: encodeMd5Challenge({ value, name: new Uint8Array() }) };
  }

  complete(): PeerMethodCompletion {
    return this.#answered
      ? { ok: true }
      : { ok: false, error: new EapError("unexpected", "EAP-Success before any MD5 challenge") };
  }

  failure(): EapError | undefined {
    return undefined;
  }

  dispose(): void {
    this.#secret.fill(0);
  }
}

function failure(reason: EapError["reason"], message: string): ServerMethodStep {
  return { kind: "failure", error: new EapError(reason, message) };
}

function unexpected(message: string): ServerMethodStep {
  return failure("unexpected", message);
}
