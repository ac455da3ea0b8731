/**
 * EAP inside IKEv2 (RFC 7296 §2.16): EAP-MD5-Challenge and EAP-MSCHAPv2, as EAP server (the
 * gateway) and EAP peer (the client), as pure, I/O-free state machines that run in the secure
 * process. `start()` / `handle(packet)` return `{ send?, done? }`; nothing secret leaves a
 * conversation except the MSK in a successful `done`.
 *
 * ## What the IKE engine must do with the outcome (RFC 7296 §2.16)
 *
 * The EAP exchange ends with EAP-Success; then "the EAP AUTH payloads MUST be included in the
 * two messages following the one containing the EAP Success message": the initiator's AUTH in
 * its next IKE_AUTH request, the responder's in the response. Both use the shared-key syntax
 * of §2.15 (Auth Method 2, Shared Key Message Integrity Code):
 *
 *     AUTH = prf(prf(Key, "Key Pad for IKEv2"), <InitiatorSignedOctets | ResponderSignedOctets>)
 *
 * - Key-generating method (`done.msk` present, EAP-MSCHAPv2): "For EAP methods that create a
 *   shared key as a side effect of authentication, that shared key MUST be used by both the
 *   initiator and responder to generate AUTH payloads in messages 7 and 8 using the syntax for
 *   shared secrets specified in Section 2.15. The shared key from EAP is the field from the EAP
 *   specification named MSK." Key = the whole 64-byte MSK for both AUTH payloads (strongSwan
 *   keys the prf with the full MSK chunk, trailing 32 zero octets included).
 * - Non-key-generating method (no `done.msk`, EAP-MD5): "If EAP methods that do not generate a
 *   shared key are used, the AUTH payloads in messages 7 and 8 MUST be generated using SK_pi
 *   and SK_pr, respectively": the initiator's AUTH with Key = SK_pi, the responder's with
 *   Key = SK_pr; each side verifies the other's with the other key. strongSwan does the same
 *   (src/libcharon/sa/ikev2/keymat_v2.c `get_psk_sig`: "EAP uses SK_p if no MSK has been
 *   established"). §2.16 also says "EAP methods that do not establish a shared key SHOULD NOT
 *   be used"; configuration should warn when a realm selects EAP-MD5.
 *
 * {@link eapMethodGeneratesMsk} tells the engine in advance which case applies; it must not
 * infer it from an all-zero key.
 *
 * @example
 * ```ts
 * import { createEapPeer, createEapServer } from "./lib/auth/eap/mod.ts";
 * const server = createEapServer("mschapv2", { credentials: (id) => (id === "alice" ? "pw" : undefined) });
 * const peer = createEapPeer("mschapv2", { identity: "alice", password: "pw" });
 * peer.start();
 * let toPeer = server.start().send;
 * while (toPeer) {
 *   const reply = peer.handle(toPeer);
 *   if (!reply.send) break;
 *   const step = server.handle(reply.send);
 *   if (step.done) { peer.handle(step.send!); console.log(step.done.success); break; }
 *   toPeer = step.send;
 * }
 * ```
 */
export { EapCode, eapName, EapType, MsChapV2Error, MsChapV2OpCode } from "./constants.ts";
export {
  EAP_METHOD_TYPE,
  type EapConversation,
  eapMethodGeneratesMsk,
  type EapMethodName,
  type EapOutcome,
  type EapStep,
} from "./conversation.ts";
export { EapError, type EapFailureReason } from "./errors.ts";
export {
  decodeEapPacket,
  decodeNak,
  type EapPacket,
  eapPacketBytes,
  eapPacketLength,
  type EapResultPacket,
  type EapTypedPacket,
  encodeEapPacket,
  encodeExpandedNak,
  encodeNak,
  isTypedPacket,
  parseEapPacket,
} from "./packet.ts";
export { createEapServer, EapServer, type EapServerOptions } from "./server.ts";
export { createEapPeer, EapPeer, type EapPeerOptions } from "./peer.ts";
export type { RandomSource } from "./_method.ts";
export {
  decodeMd5Challenge,
  encodeMd5Challenge,
  type Md5ChallengeData,
  md5ChallengeResponse,
} from "./md5_challenge.ts";
export {
  decodeMsChapV2Request,
  decodeMsChapV2Response,
  encodeMsChapV2Challenge,
  encodeMsChapV2Response,
  encodeMsChapV2ResultRequest,
  encodeMsChapV2ResultResponse,
  type MsChapV2Challenge,
  type MsChapV2Reply,
  type MsChapV2Request,
  type MsChapV2Response,
  type MsChapV2ResultRequest,
  type MsChapV2ResultResponse,
} from "./mschapv2.ts";
export {
  authenticatorResponseString,
  challengeHash,
  challengeResponse,
  challengeUserName,
  generateAuthenticatorResponse,
  generateNtResponse,
  getAsymmetricStartKey,
  getMasterKey,
  hashNtPasswordHash,
  mschapv2Msk,
  ntPasswordHash,
  passwordToUnicode,
} from "./mschapv2_crypto.ts";
export { md4 } from "./md4.ts";
export { desEncryptBlock, expandDesKey } from "./des.ts";
