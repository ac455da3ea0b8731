import {
  createEapPeer,
  createEapServer,
  decodeMsChapV2Request,
  decodeMsChapV2Response,
  EapCode,
  eapMethodGeneratesMsk,
  EapType,
  isTypedPacket,
  MsChapV2OpCode,
  parseEapPacket,
} from "../../../lib/auth/eap/mod.ts";
import { DecodeError, toHex } from "../../../lib/wire/mod.ts";
import { assert, assertEquals, assertThrows } from "../../_assert.ts";
import { converse, hex, scriptedRandom, seededRandom, utf8 } from "./_helpers.ts";

// Packets of AOSP packages/modules/IPsec tests/.../eap/EapMsChapV2Test.java, built from the
// RFC 2759 §9.2 sample (User / clientPass): an independent implementation's transcript.
const AUTHENTICATOR_CHALLENGE = hex("5B5D7C7D7B3F2F3E3C2C602132262628");
const PEER_CHALLENGE = hex("21402324255E262A28295F2B3A337C7E");
const CHALLENGE_REQUEST = hex(`
  01110033 # EAP-Request | ID | length
  1A0142 # EAP-MSCHAPv2 | Challenge | MS-CHAPv2-ID
  002E10 # MS-Length | Value-Size
  5B5D7C7D7B3F2F3E3C2C602132262628 # Authenticator-Challenge
  61757468656E74696361746F7240616E64726F69642E6E6574 # "authenticator@android.net"`);
const CHALLENGE_RESPONSE = hex(`
  0211003F 1A0242 003A31
  21402324255E262A28295F2B3A337C7E # Peer-Challenge
  0000000000000000 # Reserved
  82309ECD8D708B5EA08FAA3981CD83544233114A3D85D6DF # NT-Response (RFC 2759 §9.2)
  00 # Flags
  55736572 # "User"`);
const SUCCESS_REQUEST = hex(`
  01120047 1A03420042
  533D 34303741353538393131354644304436323039463531304645394330343536363933324344413536
  204D3D 7465737420416E64726F69642031323334 # " M=test Android 1234"`);
const SUCCESS_RESPONSE = hex("02120006 1A03");
const FAILURE_REQUEST = hex(`
  01130049 1A04420044
  453D363437 20523D31 20433D # "E=647 R=1 C="
  3030303130323033303430353036303730383039304130423043304430453046
  20563D33 204D3D 7465737420416E64726F69642031323334 # " V=3 M=test Android 1234"`);
const FAILURE_RESPONSE = hex("02130006 1A04");
const MSK = "d5f0e9521e3ea9589645e86051c82226" + "8b7cdc149b993a1ba118cb153f56dccb" +
  "00".repeat(32);

const users = new Map([["User", "clientPass"], ["alice", "correct horse"]]);
const credentials = (identity: string) => users.get(identity);

function aospServer() {
  return createEapServer("mschapv2", {
    credentials,
    serverName: "authenticator@android.net",
    successMessage: "test Android 1234",
    // Identifier of the Identity Request, MS-CHAPv2-ID, Authenticator-Challenge.
    randomBytes: scriptedRandom(
      new Uint8Array([0x10]),
      new Uint8Array([0x42]),
      AUTHENTICATOR_CHALLENGE,
    ),
  });
}

Deno.test("MSCHAPv2 server reproduces the reference Challenge and Success-Request", () => {
  const server = aospServer();
  assertEquals(toHex(server.start().send!), "0110000501");
  const challenge = server.handle(hex("02100009 01 55736572")); // Identity "User"
  assertEquals(toHex(challenge.send!), toHex(CHALLENGE_REQUEST));
  const success = server.handle(CHALLENGE_RESPONSE);
  assertEquals(toHex(success.send!), toHex(SUCCESS_REQUEST));
  assertEquals(success.done, undefined);
  const end = server.handle(SUCCESS_RESPONSE);
  assertEquals(toHex(end.send!), "03120004");
  assertEquals(end.done?.success, true);
  assertEquals(end.done?.identity, "User");
  assertEquals(toHex(end.done!.msk!), MSK);
});

Deno.test("MSCHAPv2 peer reproduces the reference Response and Success-Response", () => {
  const peer = createEapPeer("mschapv2", {
    identity: "User",
    password: "clientPass",
    randomBytes: scriptedRandom(PEER_CHALLENGE),
  });
  assertEquals(peer.start(), {});
  assertEquals(toHex(peer.handle(CHALLENGE_REQUEST).send!), toHex(CHALLENGE_RESPONSE));
  assertEquals(toHex(peer.handle(SUCCESS_REQUEST).send!), toHex(SUCCESS_RESPONSE));
  const done = peer.handle(hex("03120004")).done;
  assertEquals(done?.success, true);
  assertEquals(toHex(done!.msk!), MSK);
});

Deno.test("MSCHAPv2 peer answers a Failure-Request with a Failure-Response, then fails", () => {
  const peer = createEapPeer("mschapv2", {
    identity: "User",
    password: "clientPass",
    randomBytes: scriptedRandom(PEER_CHALLENGE),
  });
  peer.start();
  peer.handle(CHALLENGE_REQUEST);
  const step = peer.handle(FAILURE_REQUEST);
  assertEquals(toHex(step.send!), toHex(FAILURE_RESPONSE));
  assertEquals(step.done, undefined);
  const done = peer.handle(hex("04130004")).done;
  assertEquals(done?.success, false);
  assertEquals(done?.error?.reason, "rejected");
  assert(done?.error?.message.includes("647"));
});

Deno.test("MSCHAPv2 peer Naks a method it does not do, then proceeds", () => {
  const peer = createEapPeer("mschapv2", {
    identity: "User",
    password: "clientPass",
    randomBytes: scriptedRandom(PEER_CHALLENGE),
  });
  peer.start();
  // EAP-AKA (23) Request → legacy Nak proposing MSCHAPv2 (AOSP EAP_RESPONSE_NAK_PACKET).
  assertEquals(toHex(peer.handle(hex("01100008 17 050000")).send!), "02100006031a");
  assertEquals(toHex(peer.handle(CHALLENGE_REQUEST).send!), toHex(CHALLENGE_RESPONSE));
});

Deno.test("MSCHAPv2 full conversation: both sides succeed with the same 64-byte MSK", () => {
  assertEquals(eapMethodGeneratesMsk("mschapv2"), true);
  const t = converse(
    createEapServer("mschapv2", { credentials }),
    createEapPeer("mschapv2", { identity: "alice", password: "correct horse" }),
  );
  assertEquals(
    t.packets.map((p) => {
      const packet = parseEapPacket(p.bytes);
      return "type" in packet && packet.type === EapType.MsChapV2
        ? `${p.from} ${packet.data[0]}`
        : `${p.from} ${packet.code}`;
    }),
    [
      "server 1", // Request/Identity
      "peer 2", // Response/Identity
      `server ${MsChapV2OpCode.Challenge}`,
      `peer ${MsChapV2OpCode.Response}`,
      `server ${MsChapV2OpCode.Success}`,
      `peer ${MsChapV2OpCode.Success}`,
      `server ${EapCode.Success}`,
    ],
  );
  assert(t.server?.success && t.peer?.success);
  assertEquals(t.server.msk!.length, 64);
  assertEquals(toHex(t.server.msk!), toHex(t.peer.msk!));
  assertEquals(t.server.identity, "alice");
});

Deno.test("MSCHAPv2 with a wrong password: Failure-Request E=691 R=0, then EAP-Failure", () => {
  const t = converse(
    createEapServer("mschapv2", { credentials }),
    createEapPeer("mschapv2", { identity: "alice", password: "wrong horse" }),
  );
  const failure = parseEapPacket(t.packets[4]!.bytes);
  assert("data" in failure);
  const request = decodeMsChapV2Request(failure.data);
  assertEquals(request.opCode, MsChapV2OpCode.Failure);
  assert("message" in request);
  assert(/^E=691 R=0 C=[0-9A-F]{32} V=3 M=/.test(request.message), request.message);
  const failureResponse = parseEapPacket(t.packets[5]!.bytes);
  assert(isTypedPacket(failureResponse));
  assertEquals(decodeMsChapV2Response(failureResponse.data), {
    opCode: MsChapV2OpCode.Failure,
  });
  assertEquals(parseEapPacket(t.packets[6]!.bytes).code, EapCode.Failure);
  assertEquals(t.server?.success, false);
  assertEquals(t.server?.error?.reason, "auth-failed");
  assertEquals(t.server?.msk, undefined);
  assertEquals(t.peer?.success, false);
  assertEquals(t.peer?.error?.reason, "rejected");
});

Deno.test("MSCHAPv2 with an unknown identity fails exactly like a wrong password", () => {
  const run = (identity: string) =>
    converse(
      createEapServer("mschapv2", { credentials }),
      createEapPeer("mschapv2", { identity, password: "whatever" }),
    );
  const unknown = run("bobby");
  const wrong = run("alice");
  assertEquals(
    unknown.packets.map((p) => [p.from, parseEapPacket(p.bytes).code]),
    wrong.packets.map((p) => [p.from, parseEapPacket(p.bytes).code]),
  );
  assertEquals(unknown.server?.error?.reason, "unknown-identity");
});

Deno.test("MSCHAPv2 peer refuses a server that does not know its password", () => {
  // The server's S= is tampered with: the peer must not accept, nor answer.
  const t = converse(
    createEapServer("mschapv2", { credentials }),
    createEapPeer("mschapv2", { identity: "alice", password: "correct horse" }),
    (from, bytes, index) => {
      if (from !== "server" || index !== 4) return bytes;
      const copy = bytes.slice();
      copy[12] = copy[12] === 0x30 ? 0x31 : 0x30; // a hex digit of S=
      return copy;
    },
  );
  assertEquals(t.peer?.success, false);
  assertEquals(t.peer?.error?.reason, "server-auth-failed");
  assertEquals(t.peer?.msk, undefined);
  assertEquals(t.packets.length, 5);
});

Deno.test("MSCHAPv2 peer refuses EAP-Success before the server proved itself", () => {
  const peer = createEapPeer("mschapv2", {
    identity: "User",
    password: "clientPass",
    randomBytes: scriptedRandom(PEER_CHALLENGE),
  });
  peer.start();
  peer.handle(CHALLENGE_REQUEST);
  const done = peer.handle(hex("03120004")).done;
  assertEquals(done?.success, false);
  assertEquals(done?.error?.reason, "unexpected");
  assertEquals(done?.msk, undefined);
});

Deno.test("MSCHAPv2 handles DOMAIN\\user names and a Notification mid-conversation", () => {
  const server = createEapServer("mschapv2", {
    credentials: (id) => (id === "CORP\\alice" ? "pw" : undefined),
  });
  const peer = createEapPeer("mschapv2", { identity: "CORP\\alice", password: "pw" });
  peer.start();
  let step = server.start();
  step = server.handle(peer.handle(step.send!).send!); // identity → challenge
  // RFC 3748 §5.2: a Notification may come at any time; the peer acknowledges it.
  assertEquals(toHex(peer.handle(hex("01 55 0009 02 68656c6f")).send!), "0255000502");
  step = server.handle(peer.handle(step.send!).send!); // → Success-Request
  step = server.handle(peer.handle(step.send!).send!); // → EAP-Success
  const peerDone = peer.handle(step.send!).done;
  assert(step.done?.success && peerDone?.success);
  assertEquals(toHex(step.done.msk!), toHex(peerDone.msk!));
});

Deno.test("MSCHAPv2 codecs reject malformed Type-Data with DecodeError", () => {
  const cases: [string, () => unknown][] = [
    ["MS-Length mismatch", () => decodeMsChapV2Request(hex("01 42 0030 10" + "00".repeat(16)))],
    ["Value-Size not 16", () => decodeMsChapV2Request(hex("01 42 0015 08" + "00".repeat(16)))],
    ["truncated Challenge", () => decodeMsChapV2Request(hex("01 42 000a 10 0001020304"))],
    ["unsupported OpCode", () => decodeMsChapV2Request(hex("07 42 0004"))],
    ["Response Value-Size not 49", () => decodeMsChapV2Response(hex("02 42 0005 30"))],
    ["truncated Response", () => decodeMsChapV2Response(hex("02 42 0010 31" + "00".repeat(11)))],
    ["empty Type-Data", () => decodeMsChapV2Response(new Uint8Array())],
  ];
  for (const [name, decode] of cases) {
    assertThrows(decode, DecodeError);
    void name;
  }
});

Deno.test("MSCHAPv2 server ends malformed or out-of-order Responses with EAP-Failure", () => {
  const responses: [string, string, string][] = [
    ["truncated Response", "02110010 1A 02 42 000b 31 000102", "malformed"],
    [
      "MS-Length mismatch",
      toHex(CHALLENGE_RESPONSE).replace("1a0242003a31", "1a0242003b31"),
      "malformed",
    ],
    ["wrong MS-CHAPv2-ID", toHex(CHALLENGE_RESPONSE).replace("1a0242", "1a0243"), "unexpected"],
    [
      "wrong EAP Identifier",
      toHex(CHALLENGE_RESPONSE).replace("0211003f", "0212003f"),
      "unexpected",
    ],
    ["Success-Response too early", "02110006 1A03", "unexpected"],
    ["a Request", toHex(CHALLENGE_REQUEST), "unexpected"],
    ["EAP-MD5 instead", "02110016 04 10" + "00".repeat(16), "unexpected"],
    ["Nak", "02110006 03 04", "nak"],
    ["garbage", "ff", "malformed"],
  ];
  for (const [name, bytes, reason] of responses) {
    const server = aospServer();
    server.start();
    server.handle(hex("02100009 01 55736572"));
    const step = server.handle(hex(bytes));
    assertEquals(step.done?.success, false, name);
    assertEquals(step.done?.error?.reason, reason, name);
    assertEquals(parseEapPacket(step.send!).code, EapCode.Failure, name);
  }
});

Deno.test("MSCHAPv2 peer ends malformed Requests with a typed error and sends nothing", () => {
  const requests: [string, string, string][] = [
    ["truncated Challenge", "0111000a 1A 01 42 0005 10", "malformed"],
    ["Value-Size 8", toHex(CHALLENGE_REQUEST).replace("002e10", "002e08"), "malformed"],
    ["Success without S=", "0112000e 1A 03 42 0009 4d3d6869", "malformed"],
    ["Success before Challenge", toHex(SUCCESS_REQUEST), "unexpected"],
    ["Change-Password OpCode", "01110009 1A 07 42 0004", "malformed"],
    ["a Response", toHex(CHALLENGE_RESPONSE), "unexpected"],
  ];
  for (const [name, bytes, reason] of requests) {
    const peer = createEapPeer("mschapv2", { identity: "User", password: "clientPass" });
    peer.start();
    const step = peer.handle(hex(bytes));
    assertEquals(step.send, undefined, name);
    assertEquals(step.done?.success, false, name);
    assertEquals(step.done?.error?.reason, reason, name);
  }
});

Deno.test("MSCHAPv2 survives random corruption of any packet without throwing", () => {
  const random = seededRandom(2759);
  const byte = () => {
    const b = new Uint8Array(1);
    random(b);
    return b[0]!;
  };
  for (let run = 0; run < 300; run++) {
    const target = byte() % 7;
    const t = converse(
      createEapServer("mschapv2", { credentials, randomBytes: random }),
      createEapPeer("mschapv2", {
        identity: "alice",
        password: "correct horse",
        randomBytes: random,
      }),
      (_from, bytes, index) => {
        if (index !== target) return bytes;
        const copy = bytes.slice(0, byte() % 2 === 0 ? bytes.length : byte() % (bytes.length + 1));
        if (copy.length > 0) {
          const at = byte() % copy.length;
          copy[at] = copy[at]! ^ (1 + (byte() % 255));
        }
        return copy;
      },
    );
    // A peer that succeeds was answered by a server that succeeded, with the same key.
    if (t.peer?.success) {
      assert(t.server?.success, `run ${run}`);
      assertEquals(toHex(t.peer.msk!), toHex(t.server.msk!));
    }
    for (const done of [t.server, t.peer]) {
      if (done && !done.success) assert(done.error, `run ${run}: failure without a reason`);
    }
  }
});

Deno.test("MSCHAPv2 Success message parsing accepts lower-case hex and no M= part", () => {
  const peer = createEapPeer("mschapv2", {
    identity: "User",
    password: "clientPass",
    randomBytes: scriptedRandom(PEER_CHALLENGE),
  });
  peer.start();
  peer.handle(CHALLENGE_REQUEST);
  const message = utf8("S=407a5589115fd0d6209f510fe9c04566932cda56");
  const data = new Uint8Array([3, 0x42, 0, 4 + message.length, ...message]);
  const request = new Uint8Array([1, 0x12, 0, 5 + data.length, 26, ...data]);
  assertEquals(toHex(peer.handle(request).send!), toHex(SUCCESS_RESPONSE));
});
