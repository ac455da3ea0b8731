/**
 * EAP-MSCHAPv2 (draft-kamath-pppext-eap-mschapv2-02, cryptography of RFC 2759, MSK of
 * RFC 3079 as strongSwan and Windows build it). Type-Data after the EAP Type octet:
 *
 * ```
 * Challenge / Response / Success-Request / Failure-Request:
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |    OpCode     | MS-CHAPv2-ID  |           MS-Length           |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * | Challenge:  Value-Size=16 | Challenge (16)               | Name ...
 * | Response:   Value-Size=49 | Peer-Challenge (16) | Reserved (8) | NT-Response (24)
 * |                           | Flags (1) | Name ...
 * | Success:    "S=<40 hex> M=<message>"
 * | Failure:    "E=691 R=0 C=<32 hex> V=3 M=<message>"
 *
 * Success-Response / Failure-Response (peer → server): the OpCode octet only.
 * ```
 *
 * MS-Length is the EAP Length minus 5, i.e. the length of this Type-Data; a mismatch is a
 * DecodeError. The conversation (server → peer):
 * Challenge → Response → Success-Request (S= proves the server) → Success-Response →
 * EAP-Success; on a wrong password Failure-Request (R=0, no retry) → Failure-Response →
 * EAP-Failure. The peer accepts EAP-Success only after it has verified S=.
 */
import { ByteReader, bytesEqual, ByteWriter, DecodeError, fromHex, toHex } from "../../wire/mod.ts";
import {
  type PeerMethod,
  type PeerMethodCompletion,
  type PeerMethodStep,
  randomBytes,
  type RandomSource,
  type ServerMethod,
  type ServerMethodStep,
} from "./_method.ts";
import { EapType, MsChapV2Error, MsChapV2OpCode } from "./constants.ts";
import { EapError } from "./errors.ts";
import {
  AUTHENTICATOR_CHALLENGE_LENGTH,
  authenticatorResponseString,
  challengeUserName,
  generateAuthenticatorResponse,
  generateNtResponse,
  mschapv2Msk,
  NT_RESPONSE_LENGTH,
  ntPasswordHash,
  PEER_CHALLENGE_LENGTH,
} from "./mschapv2_crypto.ts";

/** OpCode, MS-CHAPv2-ID, MS-Length. */
const MS_HEADER_LENGTH = 4;
/** Peer-Challenge + Reserved + NT-Response + Flags (RFC 2759 §4). */
const RESPONSE_VALUE_LENGTH = 49;
const RESERVED_LENGTH = 8;
const AUTHENTICATOR_RESPONSE_HEX_LENGTH = 40;

export interface MsChapV2Challenge {
  opCode: typeof MsChapV2OpCode.Challenge;
  msChapV2Id: number;
  challenge: Uint8Array;
  name: Uint8Array;
}

export interface MsChapV2Response {
  opCode: typeof MsChapV2OpCode.Response;
  msChapV2Id: number;
  peerChallenge: Uint8Array;
  ntResponse: Uint8Array;
  flags: number;
  name: Uint8Array;
}

/** Success-Request or Failure-Request: the text message after the header. */
export interface MsChapV2ResultRequest {
  opCode: typeof MsChapV2OpCode.Success | typeof MsChapV2OpCode.Failure;
  msChapV2Id: number;
  message: string;
}

/** Success-Response or Failure-Response: OpCode only. */
export interface MsChapV2ResultResponse {
  opCode: typeof MsChapV2OpCode.Success | typeof MsChapV2OpCode.Failure;
}

export type MsChapV2Request = MsChapV2Challenge | MsChapV2ResultRequest;
export type MsChapV2Reply = MsChapV2Response | MsChapV2ResultResponse;

function readHeader(reader: ByteReader, data: Uint8Array, what: string): number {
  const msChapV2Id = reader.u8(`${what} MS-CHAPv2-ID`);
  const msLength = reader.u16(`${what} MS-Length`);
  if (msLength !== data.length) {
    throw new DecodeError(
      `Cannot decode ${what}: MS-Length ${msLength} does not match ${data.length} octets`,
      2,
    );
  }
  return msChapV2Id;
}

/**
 * Decodes the Type-Data of an EAP-MSCHAPv2 Request (Challenge, Success or Failure).
 *
 * @example
 * ```ts
 * const req = decodeMsChapV2Request(eapPacket.data);
 * if (req.opCode === MsChapV2OpCode.Challenge) req.challenge; // 16 bytes
 * ```
 */
export function decodeMsChapV2Request(data: Uint8Array): MsChapV2Request {
  const reader = new ByteReader(data);
  const opCode = reader.u8("EAP-MSCHAPv2 OpCode");
  switch (opCode) {
    case MsChapV2OpCode.Challenge: {
      const msChapV2Id = readHeader(reader, data, "EAP-MSCHAPv2 Challenge");
      const valueSize = reader.u8("EAP-MSCHAPv2 Value-Size");
      if (valueSize !== AUTHENTICATOR_CHALLENGE_LENGTH) {
        throw new DecodeError(
          `Cannot decode EAP-MSCHAPv2 Challenge: Value-Size ${valueSize} is not 16`,
          MS_HEADER_LENGTH,
        );
      }
      const challenge = reader.copy(valueSize, "EAP-MSCHAPv2 Challenge");
      return { opCode, msChapV2Id, challenge, name: reader.rest() };
    }
    case MsChapV2OpCode.Success:
    case MsChapV2OpCode.Failure: {
      const msChapV2Id = readHeader(reader, data, "EAP-MSCHAPv2 Success/Failure-Request");
      const message = new TextDecoder().decode(reader.view(reader.remaining));
      return { opCode, msChapV2Id, message };
    }
    default:
      throw new DecodeError(`Cannot decode EAP-MSCHAPv2 Request: unsupported OpCode ${opCode}`, 0);
  }
}

/**
 * Decodes the Type-Data of an EAP-MSCHAPv2 Response (Response, Success or Failure).
 *
 * @example
 * ```ts
 * decodeMsChapV2Response(new Uint8Array([3])); // { opCode: 3 }
 * ```
 */
export function decodeMsChapV2Response(data: Uint8Array): MsChapV2Reply {
  const reader = new ByteReader(data);
  const opCode = reader.u8("EAP-MSCHAPv2 OpCode");
  switch (opCode) {
    case MsChapV2OpCode.Response: {
      const msChapV2Id = readHeader(reader, data, "EAP-MSCHAPv2 Response");
      const valueSize = reader.u8("EAP-MSCHAPv2 Value-Size");
      if (valueSize !== RESPONSE_VALUE_LENGTH) {
        throw new DecodeError(
          `Cannot decode EAP-MSCHAPv2 Response: Value-Size ${valueSize} is not 49`,
          MS_HEADER_LENGTH,
        );
      }
      const peerChallenge = reader.copy(PEER_CHALLENGE_LENGTH, "EAP-MSCHAPv2 Peer-Challenge");
      reader.skip(RESERVED_LENGTH, "EAP-MSCHAPv2 Reserved");
      const ntResponse = reader.copy(NT_RESPONSE_LENGTH, "EAP-MSCHAPv2 NT-Response");
      const flags = reader.u8("EAP-MSCHAPv2 Flags");
      return { opCode, msChapV2Id, peerChallenge, ntResponse, flags, name: reader.rest() };
    }
    // Success-/Failure-Response carry the OpCode only; anything after it is ignored.
    case MsChapV2OpCode.Success:
    case MsChapV2OpCode.Failure:
      return { opCode };
    default:
      throw new DecodeError(
        `Cannot decode EAP-MSCHAPv2 Response: unsupported OpCode ${opCode}`,
        0,
      );
  }
}

function withHeader(opCode: number, msChapV2Id: number, body: Uint8Array): Uint8Array {
  const length = MS_HEADER_LENGTH + body.length;
  return new ByteWriter(length).u8(opCode).u8(msChapV2Id).u16(length).bytes(body).finish();
}

/** Encodes a Challenge (server → peer). */
export function encodeMsChapV2Challenge(value: Omit<MsChapV2Challenge, "opCode">): Uint8Array {
  const body = new ByteWriter().u8(value.challenge.length).bytes(value.challenge)
    .bytes(value.name).finish();
  return withHeader(MsChapV2OpCode.Challenge, value.msChapV2Id, body);
}

/** Encodes a Response (peer → server); Reserved is zero. */
export function encodeMsChapV2Response(value: Omit<MsChapV2Response, "opCode">): Uint8Array {
  const body = new ByteWriter().u8(RESPONSE_VALUE_LENGTH).bytes(value.peerChallenge)
    .zeros(RESERVED_LENGTH).bytes(value.ntResponse).u8(value.flags).bytes(value.name).finish();
  return withHeader(MsChapV2OpCode.Response, value.msChapV2Id, body);
}

/** Encodes a Success- or Failure-Request (server → peer). */
export function encodeMsChapV2ResultRequest(value: MsChapV2ResultRequest): Uint8Array {
  return withHeader(value.opCode, value.msChapV2Id, new TextEncoder().encode(value.message));
}

/** Encodes a Success- or Failure-Response (peer → server): the OpCode alone. */
export function encodeMsChapV2ResultResponse(value: MsChapV2ResultResponse): Uint8Array {
  return new Uint8Array([value.opCode]);
}

/**
 * The 20-byte authenticator response of a Success message ("S=<40 hex> M=..."), or
 * undefined when there is no well-formed S= field.
 */
export function parseSuccessMessage(message: string): Uint8Array | undefined {
  const token = message.split(" ").find((t) => t.startsWith("S="));
  const hex = token?.slice(2);
  if (hex?.length !== AUTHENTICATOR_RESPONSE_HEX_LENGTH || /[^0-9a-f]/i.test(hex)) {
    return undefined;
  }
  return fromHex(hex);
}

/** The `E=` error code of a Failure message, or undefined. */
export function parseFailureCode(message: string): number | undefined {
  const match = /(?:^|\s)E=(\d{1,10})(?:\s|$)/.exec(message);
  return match ? Number(match[1]) : undefined;
}

export interface MsChapV2ServerOptions {
  /** Name sent in the Challenge (default "rockhopper"). */
  serverName?: string;
  /** Text after " M=" in the Success-Request. */
  successMessage?: string;
  /** Text after " M=" in the Failure-Request. */
  failureMessage?: string;
}

type ServerState =
  | { name: "initial" }
  | { name: "challenge-sent"; challenge: Uint8Array }
  | { name: "success-sent"; msk: Uint8Array }
  | { name: "failure-sent"; error: EapError }
  | { name: "finished" };

/** The EAP server (authenticator) side of EAP-MSCHAPv2. */
export class MsChapV2ServerMethod implements ServerMethod {
  readonly type = EapType.MsChapV2;
  readonly #passwordHash: Uint8Array;
  readonly #known: boolean;
  readonly #random: RandomSource;
  readonly #serverName: Uint8Array;
  readonly #successMessage: string;
  readonly #failureMessage: string;
  #msChapV2Id = 0;
  #state: ServerState = { name: "initial" };

  /** `password` undefined: unknown identity; the exchange runs and fails like a wrong one. */
  constructor(password: string | undefined, random: RandomSource, options: MsChapV2ServerOptions) {
    this.#known = password !== undefined;
    this.#passwordHash = password !== undefined
      ? ntPasswordHash(password)
      : randomBytes(random, 16);
    this.#random = random;
    this.#serverName = new TextEncoder().encode(options.serverName ?? "rockhopper");
    this.#successMessage = options.successMessage ?? "Welcome";
    this.#failureMessage = options.failureMessage ?? "Authentication failed";
  }

  initiate(_identifier: number): Uint8Array {
    this.#msChapV2Id = randomBytes(this.#random, 1)[0]!;
    const challenge = randomBytes(this.#random, AUTHENTICATOR_CHALLENGE_LENGTH);
    this.#state = { name: "challenge-sent", challenge };
    return encodeMsChapV2Challenge({
      msChapV2Id: this.#msChapV2Id,
      challenge,
      name: this.#serverName,
    });
  }

  process(_identifier: number, data: Uint8Array): ServerMethodStep {
    const state = this.#state;
    switch (state.name) {
      case "challenge-sent":
        return this.#processResponse(state.challenge, decodeMsChapV2Response(data));
      case "success-sent": {
        const reply = decodeMsChapV2Response(data);
        this.#state = { name: "finished" };
        if (reply.opCode === MsChapV2OpCode.Success) return { kind: "success", msk: state.msk };
        state.msk.fill(0);
        return failure("rejected", "EAP-MSCHAPv2 failed: the peer refused our Success-Request");
      }
      case "failure-sent":
        // Whatever the peer answers (normally a Failure-Response), R=0 means no retry.
        this.#state = { name: "finished" };
        return { kind: "failure", error: state.error };
      default:
        return failure("unexpected", `EAP-MSCHAPv2 Response in state ${state.name}`);
    }
  }

  #processResponse(authenticatorChallenge: Uint8Array, reply: MsChapV2Reply): ServerMethodStep {
    if (reply.opCode !== MsChapV2OpCode.Response) {
      this.#state = { name: "finished" };
      return failure("unexpected", `EAP-MSCHAPv2 OpCode ${reply.opCode} instead of a Response`);
    }
    if (reply.msChapV2Id !== this.#msChapV2Id) {
      this.#state = { name: "finished" };
      return failure(
        "unexpected",
        `EAP-MSCHAPv2 Response has MS-CHAPv2-ID ${reply.msChapV2Id}, expected ${this.#msChapV2Id}`,
      );
    }
    // The peer hashes its user name without the domain; the password is the identity's.
    const userName = challengeUserName(reply.name);
    const expected = generateNtResponse(
      authenticatorChallenge,
      reply.peerChallenge,
      userName,
      this.#passwordHash,
    );
    const matches = bytesEqual(expected, reply.ntResponse);
    if (!this.#known || !matches) {
      const error = this.#known
        ? new EapError("auth-failed", "EAP-MSCHAPv2 failed: NT-Response does not match")
        : new EapError("unknown-identity", "EAP-MSCHAPv2 failed: no password for this identity");
      this.#state = { name: "failure-sent", error };
      const challenge = toHex(randomBytes(this.#random, AUTHENTICATOR_CHALLENGE_LENGTH));
      const message = `E=${MsChapV2Error.AuthenticationFailure} R=0 C=${challenge.toUpperCase()} ` +
        `V=3 M=${this.#failureMessage}`;
      return {
        kind: "request",
        data: encodeMsChapV2ResultRequest({
          opCode: MsChapV2OpCode.Failure,
          msChapV2Id: this.#msChapV2Id,
          message,
        }),
      };
    }
    const authenticatorResponse = generateAuthenticatorResponse(
      this.#passwordHash,
      reply.ntResponse,
      reply.peerChallenge,
      authenticatorChallenge,
      userName,
    );
    const msk = mschapv2Msk(this.#passwordHash, reply.ntResponse);
    this.#state = { name: "success-sent", msk };
    return {
      kind: "request",
      data: encodeMsChapV2ResultRequest({
        opCode: MsChapV2OpCode.Success,
        msChapV2Id: this.#msChapV2Id,
        message: `${authenticatorResponseString(authenticatorResponse)} M=${this.#successMessage}`,
      }),
    };
  }

  dispose(): void {
    this.#passwordHash.fill(0);
    if (this.#state.name === "success-sent") this.#state.msk.fill(0);
  }
}

type PeerState =
  | { name: "initial" }
  | { name: "response-sent"; authenticatorResponse: Uint8Array; msk: Uint8Array }
  | { name: "verified"; msk: Uint8Array }
  | { name: "failed"; error: EapError }
  /** The MSK has been handed out (it belongs to the caller now). */
  | { name: "completed" };

/** The EAP peer (client) side of EAP-MSCHAPv2. */
export class MsChapV2PeerMethod implements PeerMethod {
  readonly type = EapType.MsChapV2;
  readonly #name: Uint8Array;
  readonly #passwordHash: Uint8Array;
  readonly #random: RandomSource;
  #state: PeerState = { name: "initial" };

  /** `identity` is sent as the Name; its part after `DOMAIN\` enters the challenge hash. */
  constructor(identity: string, password: string, random: RandomSource) {
    this.#name = new TextEncoder().encode(identity);
    this.#passwordHash = ntPasswordHash(password);
    this.#random = random;
  }

  process(_identifier: number, data: Uint8Array): PeerMethodStep {
    const request = decodeMsChapV2Request(data);
    const state = this.#state;
    if (request.opCode === MsChapV2OpCode.Challenge) {
      if (state.name !== "initial") {
        return this.#fail("unexpected", "second EAP-MSCHAPv2 Challenge");
      }
      return this.#respond(request);
    }
    if (state.name !== "response-sent") {
      return this.#fail("unexpected", `EAP-MSCHAPv2 OpCode ${request.opCode} before a Response`);
    }
    if (request.opCode === MsChapV2OpCode.Failure) {
      const code = parseFailureCode(request.message);
      state.msk.fill(0);
      // R=0 or not, we do not retry: answer with a Failure-Response and wait for EAP-Failure.
      this.#state = {
        name: "failed",
        error: new EapError(
          "rejected",
          `EAP-MSCHAPv2 failed: server sent error ${code ?? "without code"}`,
        ),
      };
      return {
        kind: "response",
        data: encodeMsChapV2ResultResponse({ opCode: MsChapV2OpCode.Failure }),
      };
    }
    const received = parseSuccessMessage(request.message);
    if (!received) {
      state.msk.fill(0);
      throw new DecodeError("Cannot decode EAP-MSCHAPv2 Success-Request: no S=<40 hex>", 4);
    }
    if (!bytesEqual(received, state.authenticatorResponse)) {
      state.msk.fill(0);
      return this.#fail(
        "server-auth-failed",
        "EAP-MSCHAPv2 failed: the server's authenticator response is wrong",
      );
    }
    this.#state = { name: "verified", msk: state.msk };
    return {
      kind: "response",
      data: encodeMsChapV2ResultResponse({ opCode: MsChapV2OpCode.Success }),
    };
  }

  #respond(challenge: MsChapV2Challenge): PeerMethodStep {
    const peerChallenge = randomBytes(this.#random, PEER_CHALLENGE_LENGTH);
    const userName = challengeUserName(this.#name);
    const ntResponse = generateNtResponse(
      challenge.challenge,
      peerChallenge,
      userName,
      this.#passwordHash,
    );
    this.#state = {
      name: "response-sent",
      authenticatorResponse: generateAuthenticatorResponse(
        this.#passwordHash,
        ntResponse,
        peerChallenge,
        challenge.challenge,
        userName,
      ),
      msk: mschapv2Msk(this.#passwordHash, ntResponse),
    };
    return {
      kind: "response",
      data: encodeMsChapV2Response({
        msChapV2Id: challenge.msChapV2Id,
        peerChallenge,
        ntResponse,
        flags: 0,
        name: this.#name,
      }),
    };
  }

  #fail(reason: EapError["reason"], message: string): PeerMethodStep {
    const error = new EapError(reason, message);
    this.#state = { name: "failed", error };
    return { kind: "failure", error };
  }

  complete(): PeerMethodCompletion {
    const state = this.#state;
    if (state.name === "verified") {
      this.#state = { name: "completed" };
      return { ok: true, msk: state.msk };
    }
    if (state.name === "failed") return { ok: false, error: state.error };
    return {
      ok: false,
      error: new EapError(
        "unexpected",
        "EAP-Success before the server proved itself (no EAP-MSCHAPv2 Success-Request)",
      ),
    };
  }

  failure(): EapError | undefined {
    return this.#state.name === "failed" ? this.#state.error : undefined;
  }

  dispose(): void {
    this.#passwordHash.fill(0);
    const state = this.#state;
    if (state.name === "response-sent" || state.name === "verified") state.msk.fill(0);
  }
}

function failure(reason: EapError["reason"], message: string): ServerMethodStep {
  return { kind: "failure", error: new EapError(reason, message) };
}
