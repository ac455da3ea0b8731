import {
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
} from "../../../lib/auth/eap/mod.ts";
import { toHex } from "../../../lib/wire/mod.ts";
import { assertEquals } from "../../_assert.ts";
import { hex, utf8 } from "./_helpers.ts";

// RFC 2759 §9.2 "Sample MS-CHAPv2 Response" (also the inputs of RFC 3079 §3.5.3).
const USER_NAME = utf8("User");
const PASSWORD = "clientPass";
const AUTHENTICATOR_CHALLENGE = hex("5B 5D 7C 7D 7B 3F 2F 3E 3C 2C 60 21 32 26 26 28");
const PEER_CHALLENGE = hex("21 40 23 24 25 5E 26 2A 28 29 5F 2B 3A 33 7C 7E");
const CHALLENGE = "d02e4386bce91226";
const NT_RESPONSE = hex("82 30 9E CD 8D 70 8B 5E A0 8F AA 39 81 CD 83 54 42 33 11 4A 3D 85 D6 DF");
const PASSWORD_HASH = "44ebba8d5312b8d611474411f56989ae";
const PASSWORD_HASH_HASH = "41c00c584bd2d91c4017a2a12fa59f3f";

Deno.test("RFC 2759 §9.2: the password in Unicode", () => {
  assertEquals(toHex(passwordToUnicode(PASSWORD)), "63006c00690065006e0074005000610073007300");
});

Deno.test("RFC 2759 §9.2: NtPasswordHash and HashNtPasswordHash", () => {
  const passwordHash = ntPasswordHash(PASSWORD);
  assertEquals(toHex(passwordHash), PASSWORD_HASH);
  assertEquals(toHex(hashNtPasswordHash(passwordHash)), PASSWORD_HASH_HASH);
});

Deno.test("RFC 2759 §9.2: ChallengeHash", () => {
  assertEquals(toHex(challengeHash(PEER_CHALLENGE, AUTHENTICATOR_CHALLENGE, USER_NAME)), CHALLENGE);
});

Deno.test("RFC 2759 §9.2: ChallengeResponse and GenerateNTResponse", () => {
  const passwordHash = ntPasswordHash(PASSWORD);
  assertEquals(toHex(challengeResponse(hex(CHALLENGE), passwordHash)), toHex(NT_RESPONSE));
  assertEquals(
    toHex(generateNtResponse(AUTHENTICATOR_CHALLENGE, PEER_CHALLENGE, USER_NAME, passwordHash)),
    toHex(NT_RESPONSE),
  );
});

Deno.test("RFC 2759 §9.2: GenerateAuthenticatorResponse", () => {
  const response = generateAuthenticatorResponse(
    ntPasswordHash(PASSWORD),
    NT_RESPONSE,
    PEER_CHALLENGE,
    AUTHENTICATOR_CHALLENGE,
    USER_NAME,
  );
  assertEquals(
    authenticatorResponseString(response),
    "S=407A5589115FD0D6209F510FE9C04566932CDA56",
  );
});

Deno.test("RFC 3079 §3.5.3: MasterKey and the 128-bit start key", () => {
  const masterKey = getMasterKey(hex(PASSWORD_HASH_HASH), NT_RESPONSE);
  assertEquals(toHex(masterKey), "fdece3717a8c838cb388e527ae3cdd31");
  // The RFC's "SendStartKey128" is the authenticator's send key (Magic3) ...
  const serverSend = getAsymmetricStartKey(masterKey, 16, true, true);
  assertEquals(toHex(serverSend), "8b7cdc149b993a1ba118cb153f56dccb");
  // ... which is the peer's receive key; the other direction pairs up the same way.
  assertEquals(toHex(getAsymmetricStartKey(masterKey, 16, false, false)), toHex(serverSend));
  assertEquals(
    toHex(getAsymmetricStartKey(masterKey, 16, false, true)),
    toHex(getAsymmetricStartKey(masterKey, 16, true, false)),
  );
});

Deno.test("MSK is MasterReceiveKey | MasterSendKey | 32 zeros as strongSwan builds it", () => {
  const msk = mschapv2Msk(ntPasswordHash(PASSWORD), NT_RESPONSE);
  assertEquals(msk.length, 64);
  // strongSwan eap_mschapv2.c GenerateMSK: receive key (Magic2) first, send key (Magic3)
  // second. The same 32 bytes are the MSK of AOSP's EapMsChapV2Test for these inputs.
  assertEquals(
    toHex(msk),
    "d5f0e9521e3ea9589645e86051c82226" + "8b7cdc149b993a1ba118cb153f56dccb" + "00".repeat(32),
  );
});

Deno.test("challengeUserName drops a DOMAIN\\ prefix and keeps other names whole", () => {
  assertEquals(new TextDecoder().decode(challengeUserName(utf8("CORP\\User"))), "User");
  assertEquals(
    new TextDecoder().decode(challengeUserName(utf8("user@example.com"))),
    "user@example.com",
  );
  const passwordHash = ntPasswordHash(PASSWORD);
  assertEquals(
    toHex(
      generateNtResponse(
        AUTHENTICATOR_CHALLENGE,
        PEER_CHALLENGE,
        challengeUserName(utf8("CORP\\User")),
        passwordHash,
      ),
    ),
    toHex(NT_RESPONSE),
  );
});

Deno.test("passwordToUnicode encodes non-ASCII characters as UTF-16LE code units", () => {
  assertEquals(toHex(passwordToUnicode("pä€")), "7000e400ac20");
});
