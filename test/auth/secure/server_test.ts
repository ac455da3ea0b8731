/**
 * The secure process's request handler, in process: AUTH values equal the in-process
 * computation, refusals never run anything, policy refusals and missing keys get their own
 * codes, and no reply carries a key.
 */
import { assert, assertEquals } from "../../_assert.ts";
import {
  encodeFrame,
  encodeRequest,
  FrameWriter,
  SecureRequestHandler,
  serveStream,
} from "../../../lib/auth/secure/mod.ts";
import { LocalAuthService, LocalWebUserService, pskAuth } from "../../../lib/auth/mod.ts";
import { parseAuthConfig, parseConfig } from "../../../lib/config/mod.ts";
import { NodeCryptoProvider } from "../../../lib/crypto/node_provider.ts";
import { Logger, type LogRecord, setLogSinks } from "../../../lib/log/mod.ts";
import { MemorySysService, PolicedSysService, SysPolicy } from "../../../lib/sys_control/mod.ts";
import { configXml, GW2_ID, randomSecret, spellings } from "./_fixture.ts";

const crypto = new NodeCryptoProvider();

function setup() {
  const realmPsk = randomSecret();
  const peerPsk = randomSecret();
  const auth = parseAuthConfig(
    `<rockhopper_auth version="1"><realm id="1">
      <my_auth method="psk" id="fqdn:gw1.example.com" psk="${realmPsk}"/>
      <peer id="${GW2_ID}" psk="${peerPsk}"/>
    </realm></rockhopper_auth>`,
    "/x/auth.xml",
  );
  const sys = new MemorySysService();
  const policed = new PolicedSysService(
    sys,
    SysPolicy.fromConfig(parseConfig(configXml(), "/x/rockhopper.xml")),
  );
  const handler = new SecureRequestHandler(
    {
      auth: LocalAuthService.withoutCertificates(auth, crypto),
      webUsers: new LocalWebUserService(auth),
      sys: policed,
    },
    { log: new Logger("auth", "secure") },
  );
  return { handler, sys, realmPsk, peerPsk };
}

async function call(handler: SecureRequestHandler, request: string | Uint8Array) {
  const reply = await handler.handle(
    typeof request === "string" ? new TextEncoder().encode(request) : request,
  );
  return JSON.parse(reply);
}

function captureLog(): { lines: string[]; restore(): void } {
  const lines: string[] = [];
  const previous = setLogSinks([(_r: LogRecord, line: string) => lines.push(line)]);
  return { lines, restore: () => setLogSinks(previous) };
}

Deno.test("computePskAuth and verifyPskAuth answer as the in-process computation does", async () => {
  const { handler, peerPsk } = setup();
  const signedOctets = new Uint8Array(200).map((_, i) => i);
  const reply = await call(
    handler,
    encodeRequest(1, "computePskAuth", { realmId: 1, peerId: GW2_ID, prf: "sha256", signedOctets }),
  );
  const expected = pskAuth(crypto, "sha256", new TextEncoder().encode(peerPsk), signedOctets);
  assertEquals(reply, { id: 1, ok: true, result: expected.toBase64() });
  const ok = await call(
    handler,
    encodeRequest(2, "verifyPskAuth", {
      realmId: 1,
      peerId: GW2_ID,
      prf: "sha256",
      signedOctets,
      auth: expected,
    }),
  );
  assertEquals(ok, { id: 2, ok: true, result: true });
  const wrong = await call(
    handler,
    encodeRequest(3, "verifyPskAuth", {
      realmId: 1,
      peerId: GW2_ID,
      prf: "sha256",
      signedOctets,
      auth: new Uint8Array(32),
    }),
  );
  assertEquals(wrong.result, false);
});

Deno.test("a realm without a key answers unavailable, never a key", async () => {
  const { handler, realmPsk, peerPsk } = setup();
  const reply = await call(
    handler,
    encodeRequest(4, "computePskAuth", {
      realmId: 9,
      peerId: GW2_ID,
      prf: "sha256",
      signedOctets: new Uint8Array(4),
    }),
  );
  assertEquals([reply.id, reply.ok, reply.error.code], [4, false, "unavailable"]);
  const text = JSON.stringify(reply);
  for (const s of [...spellings(realmPsk), ...spellings(peerPsk)]) assert(!text.includes(s));
});

Deno.test("malformed and unknown requests are refused, logged and never executed", async () => {
  const { handler, sys } = setup();
  const log = captureLog();
  try {
    const unknown = await call(
      handler,
      JSON.stringify({ id: 7, type: "runShell", args: { cmd: "id" } }),
    );
    assertEquals([unknown.id, unknown.ok, unknown.error.code], [7, false, "unknown_request"]);
    const malformed = await call(
      handler,
      JSON.stringify({ id: 8, type: "addRoute", args: { prefix: "10.2.0.0/24", device: 5 } }),
    );
    assertEquals([malformed.id, malformed.error.code], [8, "malformed"]);
    assert(malformed.error.message.includes("addRoute.args.device"), malformed.error.message);
    const garbage = await call(handler, "\u0000\u0001");
    assertEquals([garbage.id, garbage.error.code], [null, "malformed"]);
  } finally {
    log.restore();
  }
  assertEquals(sys.calls, [], "nothing ran");
  assertEquals(handler.refused, 3);
  assertEquals(
    log.lines.filter((l) => l.includes("refused a request from the main process")).length,
    3,
  );
});

Deno.test("system changes outside the realm's device and networks are refused; inside they run", async () => {
  const { handler, sys } = setup();
  const refusedRoute = await call(
    handler,
    encodeRequest(1, "addRoute", { prefix: "0.0.0.0/0", device: "rhpt1" }),
  );
  assertEquals(refusedRoute.error.code, "refused");
  assert(
    refusedRoute.error.message.includes("outside the networks of realm 1 (lab)"),
    refusedRoute.error.message,
  );
  const otherDevice = await call(handler, encodeRequest(2, "linkUp", { device: "eth0" }));
  assertEquals(otherDevice.error.code, "refused");
  const foreignSource = await call(
    handler,
    encodeRequest(3, "addRoute", { prefix: "10.2.0.0/24", device: "rhpt1", src: "192.168.1.1" }),
  );
  assertEquals(foreignSource.error.code, "refused");
  const foreignAddress = await call(
    handler,
    encodeRequest(4, "addAddress", { device: "rhpt1", cidr: "10.9.9.9/32" }),
  );
  assertEquals(foreignAddress.error.code, "refused");
  assertEquals(sys.calls, []);
  const ok = await call(
    handler,
    encodeRequest(5, "addRoute", {
      prefix: "10.2.0.128/25",
      device: "rhpt1",
      src: "10.1.0.1",
      replace: true,
    }),
  );
  assertEquals(ok, { id: 5, ok: true, result: null });
  assertEquals(sys.calls, [{
    op: "addRoute",
    prefix: "10.2.0.128/25",
    change: { device: "rhpt1", src: "10.1.0.1", replace: true },
  }]);
});

Deno.test("serveStream answers over a byte stream, refuses an oversized frame and keeps going", async () => {
  const { handler } = setup();
  const oversized = new Uint8Array(8);
  new DataView(oversized.buffer).setUint32(0, 2 * 1024 * 1024);
  const chunks = [
    encodeFrame(encodeRequest(1, "hasPsk", { realmId: 1, peerId: GW2_ID })),
    oversized.subarray(0, 4), // header of an oversized frame: the next octets are skipped ...
    new Uint8Array(2 * 1024 * 1024), // ... exactly its declared length
    encodeFrame(encodeRequest(2, "localMethod", { realmId: 1 })),
  ];
  const input = ReadableStream.from(chunks);
  const written: Uint8Array[] = [];
  const log = captureLog();
  try {
    await serveStream(
      input,
      new FrameWriter((frame) => {
        written.push(frame);
        return Promise.resolve();
      }),
      handler,
    );
  } finally {
    log.restore();
  }
  const replies = written.map((f) => JSON.parse(new TextDecoder().decode(f.subarray(4))));
  replies.sort((a, b) => (a.id ?? 0) - (b.id ?? 0));
  assertEquals(replies, [
    {
      id: null,
      ok: false,
      error: {
        code: "oversized",
        message: "Cannot read frame: its body of 2097152 octets exceeds the limit of 1048576",
      },
    },
    { id: 1, ok: true, result: true },
    { id: 2, ok: true, result: "psk" },
  ]);
});
