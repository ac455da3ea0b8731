/**
 * MS-CHAPv2 cryptography (RFC 2759 §8) and the MPPE master keys (RFC 3079 §3.4), in the
 * RFCs' own names and argument order so each function can be checked against its pseudocode.
 *
 * The EAP-MSCHAPv2 MSK is MasterReceiveKey | MasterSendKey | 32 zero octets, both keys as
 * seen by the authenticator (128-bit keys, [MS-CHAP] §3.1.5.1). strongSwan builds the same
 * 64 octets on both sides (`GenerateMSK` in
 * src/libcharon/plugins/eap_mschapv2/eap_mschapv2.c:
 * `chunk_cat("cccc", master_receive_key, master_send_key, keypad, keypad)`, the receive key
 * from Magic2 "On the client side, this is the send key; ...", the send key from Magic3).
 */
import { concatBytes, toHex } from "../../wire/mod.ts";
import { sha1 } from "./_hash.ts";
import { desEncryptBlock, expandDesKey } from "./des.ts";
import { md4 } from "./md4.ts";

export const AUTHENTICATOR_CHALLENGE_LENGTH = 16;
export const PEER_CHALLENGE_LENGTH = 16;
export const NT_RESPONSE_LENGTH = 24;
export const MSK_LENGTH = 64;

const ascii = (s: string) => new TextEncoder().encode(s);

/** RFC 2759 §8.7 Magic1 / Magic2. */
const AUTHENTICATOR_MAGIC_1 = ascii("Magic server to client signing constant");
const AUTHENTICATOR_MAGIC_2 = ascii("Pad to make it do more than one iteration");
/** RFC 3079 §3.4 Magic1 / Magic2 / Magic3 and SHSpad1 / SHSpad2. */
const MPPE_MAGIC_1 = ascii("This is the MPPE Master Key");
const MPPE_MAGIC_2 = ascii(
  "On the client side, this is the send key; on the server side, it is the receive key.",
);
const MPPE_MAGIC_3 = ascii(
  "On the client side, this is the receive key; on the server side, it is the send key.",
);
const SHS_PAD_1 = new Uint8Array(40);
const SHS_PAD_2 = new Uint8Array(40).fill(0xf2);

/**
 * The password as UTF-16LE ("Unicode" in RFC 2759 §4), the input of {@link ntPasswordHash}.
 *
 * @example
 * ```ts
 * toHex(passwordToUnicode("ab")); // "61006200"
 * ```
 */
export function passwordToUnicode(password: string): Uint8Array {
  const out = new Uint8Array(password.length * 2);
  for (let i = 0; i < password.length; i++) {
    const unit = password.charCodeAt(i);
    out[i * 2] = unit & 0xff;
    out[i * 2 + 1] = unit >>> 8;
  }
  return out;
}

/**
 * The user name that enters the challenge hash: the octets after a `DOMAIN\` prefix (RFC 2759
 * §4 "the user name ... without any domain"; strongSwan `extract_username`). A view, no copy.
 *
 * @example
 * ```ts
 * challengeUserName(new TextEncoder().encode("CORP\\alice")); // the octets of "alice"
 * ```
 */
export function challengeUserName(name: Uint8Array): Uint8Array {
  const slash = name.indexOf(0x5c);
  return slash < 0 ? name : name.subarray(slash + 1);
}

/** RFC 2759 §8.2 ChallengeHash: SHA1(PeerChallenge | AuthenticatorChallenge | UserName)[0..8]. */
export function challengeHash(
  peerChallenge: Uint8Array,
  authenticatorChallenge: Uint8Array,
  userName: Uint8Array,
): Uint8Array {
  return sha1(peerChallenge, authenticatorChallenge, userName).slice(0, 8);
}

/** RFC 2759 §8.3 NtPasswordHash: MD4 of the UTF-16LE password. */
export function ntPasswordHash(password: string): Uint8Array {
  const unicode = passwordToUnicode(password);
  const hash = md4(unicode);
  unicode.fill(0);
  return hash;
}

/** RFC 2759 §8.4 HashNtPasswordHash: MD4(PasswordHash). */
export function hashNtPasswordHash(passwordHash: Uint8Array): Uint8Array {
  return md4(passwordHash);
}

/**
 * RFC 2759 §8.5 ChallengeResponse: the 16-byte hash zero-padded to 21 bytes, split into
 * three 7-byte DES keys, each encrypting the 8-byte challenge.
 */
export function challengeResponse(challenge: Uint8Array, passwordHash: Uint8Array): Uint8Array {
  const zPasswordHash = new Uint8Array(21);
  zPasswordHash.set(passwordHash.subarray(0, 16));
  const response = new Uint8Array(NT_RESPONSE_LENGTH);
  for (let i = 0; i < 3; i++) {
    const key = expandDesKey(zPasswordHash.subarray(i * 7, i * 7 + 7));
    response.set(desEncryptBlock(key, challenge), i * 8);
    key.fill(0);
  }
  zPasswordHash.fill(0);
  return response;
}

/** RFC 2759 §8.1 GenerateNTResponse, from the password hash instead of the password. */
export function generateNtResponse(
  authenticatorChallenge: Uint8Array,
  peerChallenge: Uint8Array,
  userName: Uint8Array,
  passwordHash: Uint8Array,
): Uint8Array {
  const challenge = challengeHash(peerChallenge, authenticatorChallenge, userName);
  return challengeResponse(challenge, passwordHash);
}

/**
 * RFC 2759 §8.7 GenerateAuthenticatorResponse: the 20-byte value whose upper-case hex follows
 * `S=` in the Success packet.
 */
export function generateAuthenticatorResponse(
  passwordHash: Uint8Array,
  ntResponse: Uint8Array,
  peerChallenge: Uint8Array,
  authenticatorChallenge: Uint8Array,
  userName: Uint8Array,
): Uint8Array {
  const passwordHashHash = hashNtPasswordHash(passwordHash);
  const digest = sha1(passwordHashHash, ntResponse, AUTHENTICATOR_MAGIC_1);
  const challenge = challengeHash(peerChallenge, authenticatorChallenge, userName);
  const response = sha1(digest, challenge, AUTHENTICATOR_MAGIC_2);
  passwordHashHash.fill(0);
  return response;
}

/**
 * `S=` followed by 40 upper-case hex digits (RFC 2759 §5).
 *
 * @example
 * ```ts
 * authenticatorResponseString(authResponse); // "S=407A5589115FD0D6209F510FE9C04566932CDA56"
 * ```
 */
export function authenticatorResponseString(authenticatorResponse: Uint8Array): string {
  return `S=${toHex(authenticatorResponse).toUpperCase()}`;
}

/** RFC 3079 §3.4 GetMasterKey: SHA1(PasswordHashHash | NTResponse | Magic1)[0..16]. */
export function getMasterKey(passwordHashHash: Uint8Array, ntResponse: Uint8Array): Uint8Array {
  return sha1(passwordHashHash, ntResponse, MPPE_MAGIC_1).slice(0, 16);
}

/**
 * RFC 3079 §3.4 GetAsymmetricStartKey: the first `keyLength` bytes of
 * SHA1(MasterKey | SHSpad1 | Magic | SHSpad2), Magic chosen by direction and side.
 */
export function getAsymmetricStartKey(
  masterKey: Uint8Array,
  keyLength: number,
  isSend: boolean,
  isServer: boolean,
): Uint8Array {
  const magic = isSend === isServer ? MPPE_MAGIC_3 : MPPE_MAGIC_2;
  return sha1(masterKey, SHS_PAD_1, magic, SHS_PAD_2).slice(0, keyLength);
}

/**
 * The 64-byte EAP-MSCHAPv2 MSK: MasterReceiveKey | MasterSendKey | 32 zeros, keys as the
 * authenticator sees them (identical on both sides; see the module comment).
 */
export function mschapv2Msk(passwordHash: Uint8Array, ntResponse: Uint8Array): Uint8Array {
  const passwordHashHash = hashNtPasswordHash(passwordHash);
  const masterKey = getMasterKey(passwordHashHash, ntResponse);
  const receiveKey = getAsymmetricStartKey(masterKey, 16, false, true);
  const sendKey = getAsymmetricStartKey(masterKey, 16, true, true);
  const msk = concatBytes(receiveKey, sendKey, new Uint8Array(MSK_LENGTH - 32));
  for (const secret of [passwordHashHash, masterKey, receiveKey, sendKey]) secret.fill(0);
  return msk;
}
