import { createHash } from "node:crypto";
import {
  createEapPeer,
  createEapServer,
  decodeMd5Challenge,
  EapCode,
  eapMethodGeneratesMsk,
  EapType,
  encodeMd5Challenge,
  md5ChallengeResponse,
  parseEapPacket,
} from "../../../lib/auth/eap/mod.ts";
import { concatBytes, DecodeError, toHex } from "../../../lib/wire/mod.ts";
import { assert, assertEquals, assertThrows } from "../../_assert.ts";
import { converse, hex, scriptedRandom, seededRandom, utf8 } from "./_helpers.ts";

const CHALLENGE = hex("000102030405060708090a0b0c0d0e0f");
const users = new Map([["alice", "secret"]]);
const credentials = (identity: string) => users.get(identity);

/** RFC 1994 §4.1 computed independently: MD5 over Identifier, secret, challenge. */
function chapResponse(identifier: number, secret: string, challenge: Uint8Array): string {
  return createHash("md5").update(
    concatBytes(new Uint8Array([identifier]), utf8(secret), challenge),
  )
    .digest("hex");
}

Deno.test("MD5-Challenge Type-Data round-trips and rejects bad Value-Size", () => {
  const data = encodeMd5Challenge({ value: CHALLENGE, name: utf8("gw") });
  assertEquals(toHex(data), "10" + toHex(CHALLENGE) + "6777");
  assertEquals(decodeMd5Challenge(data), { value: CHALLENGE, name: utf8("gw") });
  assertThrows(() => decodeMd5Challenge(hex("00")), DecodeError, "Value-Size is 0");
  assertThrows(() => decodeMd5Challenge(hex("10 0001")), DecodeError, "MD5-Challenge Value");
  assertThrows(() => decodeMd5Challenge(new Uint8Array()), DecodeError);
});

Deno.test("md5ChallengeResponse is MD5(Identifier | secret | challenge) (RFC 1994 §4.1)", () => {
  assertEquals(
    toHex(md5ChallengeResponse(0x21, utf8("secret"), CHALLENGE)),
    chapResponse(0x21, "secret", CHALLENGE),
  );
});

Deno.test("EAP-MD5 identity exchange, challenge and Success, byte for byte", () => {
  const server = createEapServer("md5", {
    credentials,
    randomBytes: scriptedRandom(new Uint8Array([0x20]), CHALLENGE),
  });
  const peer = createEapPeer("md5", { identity: "alice", password: "secret" });
  const t = converse(server, peer);
  assertEquals(t.packets.map((p) => `${p.from} ${toHex(p.bytes)}`), [
    "server 0120000501", // Request/Identity
    "peer 0220000a01616c696365", // Response/Identity "alice"
    "server 0121001604" + "10" + toHex(CHALLENGE), // Request/MD5-Challenge
    "peer 0221001604" + "10" + chapResponse(0x21, "secret", CHALLENGE), // Response
    "server 03210004", // Success, Identifier of the Response
  ]);
  assertEquals(t.server, { success: true, identity: "alice" });
  assertEquals(t.peer, { success: true, identity: "alice" });
});

Deno.test("EAP-MD5 generates no MSK: the engine must key AUTH with SK_pi/SK_pr", () => {
  assertEquals(eapMethodGeneratesMsk("md5"), false);
  const t = converse(
    createEapServer("md5", { credentials }),
    createEapPeer("md5", { identity: "alice", password: "secret" }),
  );
  assert(t.server?.success && t.peer?.success);
  assertEquals(t.server.msk, undefined);
  assertEquals(t.peer.msk, undefined);
});

Deno.test("EAP-MD5 with a wrong password ends in EAP-Failure on both sides", () => {
  const t = converse(
    createEapServer("md5", { credentials }),
    createEapPeer("md5", { identity: "alice", password: "Secret" }),
  );
  const last = parseEapPacket(t.packets.at(-1)!.bytes);
  assertEquals(last.code, EapCode.Failure);
  assertEquals(last.identifier, parseEapPacket(t.packets.at(-2)!.bytes).identifier);
  assertEquals(t.server?.success, false);
  assertEquals(t.server?.error?.reason, "auth-failed");
  assertEquals(t.server?.identity, "alice");
  assertEquals(t.peer?.success, false);
  assertEquals(t.peer?.error?.reason, "rejected");
});

Deno.test("EAP-MD5 with an unknown identity looks like a wrong password on the wire", () => {
  const run = (identity: string) =>
    converse(
      createEapServer("md5", { credentials, randomBytes: seededRandom(7) }),
      createEapPeer("md5", { identity, password: "secret-or-not" }),
    );
  const unknown = run("bobby"); // as long as "alice": identical packet sizes
  const wrong = run("alice");
  assertEquals(
    unknown.packets.map((p) => p.bytes.length),
    wrong.packets.map((p) => p.bytes.length),
  );
  assertEquals(unknown.server?.error?.reason, "unknown-identity");
  assertEquals(unknown.peer?.error?.reason, "rejected");
});

Deno.test("EAP-MD5 server skips the Identity exchange when the identity is known", () => {
  const server = createEapServer("md5", {
    credentials,
    identity: "alice",
    randomBytes: scriptedRandom(new Uint8Array([0x30]), CHALLENGE),
  });
  const first = parseEapPacket(server.start().send!);
  assertEquals(first, {
    code: EapCode.Request,
    identifier: 0x30,
    type: EapType.Md5Challenge,
    data: encodeMd5Challenge({ value: CHALLENGE, name: new Uint8Array() }),
  });
  const t = converse(
    createEapServer("md5", { credentials, identity: "alice" }),
    createEapPeer("md5", { identity: "alice", password: "secret" }),
  );
  assertEquals(t.packets.length, 3);
  assertEquals(t.server?.success, true);
});

Deno.test("EAP-MD5 server refuses a response with a short value or a bad Value-Size", () => {
  for (const data of ["08 0011223344556677", "20 00", "00"]) {
    const server = createEapServer("md5", { credentials, identity: "alice" });
    const request = parseEapPacket(server.start().send!);
    const step = server.handle(hex(
      `02 ${toHex(new Uint8Array([request.identifier]))}` +
        toHex(new Uint8Array([0, 5 + hex(data).length])) + "04" + data,
    ));
    assertEquals(step.done?.success, false, data);
    assertEquals(parseEapPacket(step.send!).code, EapCode.Failure);
  }
});

Deno.test("EAP-MD5 peer refuses an EAP-Success before it answered a challenge", () => {
  const peer = createEapPeer("md5", { identity: "alice", password: "secret" });
  peer.start();
  assertEquals(peer.handle(hex("0120000501")).send !== undefined, true);
  const step = peer.handle(hex("03200004"));
  assertEquals(step.done?.success, false);
  assertEquals(step.done?.error?.reason, "unexpected");
});
