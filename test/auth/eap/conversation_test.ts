import {
  createEapPeer,
  createEapServer,
  EapError,
  parseEapPacket,
} from "../../../lib/auth/eap/mod.ts";
import { toHex } from "../../../lib/wire/mod.ts";
import { assert, assertEquals, assertThrows } from "../../_assert.ts";
import { converse, hex } from "./_helpers.ts";

const credentials = (id: string) => (id === "alice" ? "pw" : undefined);

Deno.test("the API refuses misuse with TypeError", () => {
  const server = createEapServer("md5", { credentials });
  assertThrows(() => server.handle(hex("02000005 01")), TypeError, "idle");
  server.start();
  assertThrows(() => server.start(), TypeError, "already started");
  const peer = createEapPeer("md5", { identity: "alice", password: "pw" });
  assertThrows(() => peer.handle(hex("0100000501")), TypeError);
  peer.start();
  assertThrows(() => peer.start(), TypeError);
  // @ts-expect-error: an unsupported method name
  assertThrows(() => createEapServer("gtc", { credentials }), TypeError, "unknown method");
  // @ts-expect-error: an unsupported method name
  assertThrows(() => createEapPeer("tls", { identity: "a", password: "b" }), TypeError);
});

Deno.test("handle() after done is a TypeError, not a second outcome", () => {
  const server = createEapServer("md5", { credentials });
  server.start();
  const step = server.handle(hex("ff"));
  assertEquals(step.done?.error?.reason, "malformed");
  assertThrows(() => server.handle(hex("ff")), TypeError, "done");
});

Deno.test("server answers a peer that Naks its method with EAP-Failure (reason nak)", () => {
  const t = converse(
    createEapServer("mschapv2", { credentials }),
    createEapPeer("md5", { identity: "alice", password: "pw" }),
  );
  const nak = parseEapPacket(t.packets[3]!.bytes);
  assertEquals(nak, { code: 2, identifier: nak.identifier, type: 3, data: new Uint8Array([4]) });
  assertEquals(t.server?.error?.reason, "nak");
  assert(t.server?.error?.message.includes("MD5_CHALLENGE"));
  assertEquals(t.peer?.error?.reason, "rejected");
});

Deno.test("peer answers an Expanded Type Request with an Expanded Nak (RFC 3748 §5.3.2)", () => {
  const peer = createEapPeer("md5", { identity: "alice", password: "pw" });
  peer.start();
  const step = peer.handle(hex("0107000c fe 00137f 00000001"));
  assertEquals(
    toHex(step.send!),
    "0207" + "0014" + "fe" + "000000" + "00000003" + "fe000000" + "00000004",
  );
});

Deno.test("peer fails when the server switches methods after one started (RFC 3748 §2.1)", () => {
  const peer = createEapPeer("md5", { identity: "alice", password: "pw" });
  peer.start();
  assert(peer.handle(hex("01010016 04 10" + "00".repeat(16))).send);
  const step = peer.handle(hex("01020006 06 00")); // GTC
  assertEquals(step.done?.error?.reason, "unexpected");
});

Deno.test("server identity must be UTF-8 and answer the outstanding Request", () => {
  const server = createEapServer("md5", { credentials, randomBytes: (out) => out.fill(9) });
  server.start();
  const step = server.handle(hex("02090006 01 ff"));
  assertEquals(step.done?.error?.reason, "malformed");
  assertEquals(toHex(step.send!), "04090004");
  const other = createEapServer("md5", { credentials, randomBytes: (out) => out.fill(9) });
  other.start();
  assertEquals(other.handle(hex("020a0006 01 61")).done?.error?.reason, "unexpected");
});

Deno.test("a throwing credentials lookup becomes an internal failure, not an exception", () => {
  const server = createEapServer("mschapv2", {
    credentials: () => {
      throw new Error("auth.xml unreadable");
    },
  });
  const request = parseEapPacket(server.start().send!);
  const step = server.handle(identityResponse(request.identifier, "alice"));
  assertEquals(step.done?.success, false);
  assert(step.done?.error instanceof EapError);
  assertEquals(step.done?.error?.reason, "internal");
  assertEquals(parseEapPacket(step.send!).code, 4);
});

Deno.test("outcomes never carry a password", () => {
  const t = converse(
    createEapServer("mschapv2", { credentials }),
    createEapPeer("mschapv2", { identity: "alice", password: "pw" }),
  );
  const text = JSON.stringify([t.server, t.peer]);
  assert(!text.includes('"pw"'));
  assertEquals(Object.keys(t.server!).sort(), ["identity", "msk", "success"]);
});

/** An Identity Response carrying `identity`. */
function identityResponse(identifier: number, identity: string): Uint8Array {
  const name = new TextEncoder().encode(identity);
  return new Uint8Array([2, identifier, 0, 5 + name.length, 1, ...name]);
}
