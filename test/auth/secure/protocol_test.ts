/**
 * The request set of the secure process: every type has a schema; malformed, unknown and
 * wrongly typed requests are refused with a reason; results are checked on the way back; the
 * view of auth.xml the main process gets holds no key and no hash.
 */
import { assert, assertEquals, assertThrows } from "../../_assert.ts";
import {
  authConfigOfView,
  authViewOf,
  encodeRequest,
  parseRequest,
  parseResult,
  parseSecureMessage,
  REDACTED_SECRET,
  type RefusedRequest,
  REQUESTS,
  type RequestType,
  SchemaError,
} from "../../../lib/auth/secure/mod.ts";
import { parseAuthConfig, parseScryptHash } from "../../../lib/config/mod.ts";
import { hashPassword } from "../../../lib/auth/mod.ts";

const encoder = new TextEncoder();
const body = (value: unknown) => encoder.encode(JSON.stringify(value));
const b64 = (bytes: number[]) => new Uint8Array(bytes).toBase64();

/** One valid request per type (wire form) and the result it may get. */
const SAMPLES: { [K in RequestType]: { args: unknown; result: unknown } } = {
  computePskAuth: {
    args: { realmId: 1, peerId: "fqdn:gw2", prf: "sha256", signedOctets: b64([1, 2, 3]) },
    result: b64(new Array(32).fill(9)),
  },
  verifyPskAuth: {
    args: {
      realmId: 1,
      peerId: "fqdn:gw2",
      prf: "sha384",
      signedOctets: b64([1]),
      auth: b64([2]),
    },
    result: true,
  },
  hasPsk: { args: { realmId: 1, peerId: "fqdn:gw2" }, result: false },
  localMethod: { args: { realmId: 3 }, result: "cert" },
  peerMethod: { args: { realmId: 3, peerId: "email:a@b" }, result: null },
  localCertificates: { args: { realmId: 3 }, result: [b64([0x30, 0x82])] },
  certificateRequest: { args: {}, result: null },
  signAuth: {
    args: { realmId: 3, signedOctets: b64([5]), peerHashAlgorithms: [2, 3, 4] },
    result: { method: 14, data: b64([1, 2]) },
  },
  verifyCertificateAuth: {
    args: {
      realmId: 3,
      peerId: "fqdn:gw2",
      idType: 2,
      idData: b64([0x67]),
      certificates: [b64([0x30])],
      method: 14,
      data: b64([1]),
      signedOctets: b64([2]),
    },
    result: { ok: false, reason: "expired" },
  },
  eapStart: {
    args: { realmId: 1, role: "server", peerId: "email:carol@example.com" },
    result: { session: 7, send: b64([1, 42, 0, 5, 1]) },
  },
  eapProcess: {
    args: { session: 7, packet: b64([2, 42, 0, 10, 1, 99, 97, 114, 111, 108]) },
    result: { session: 7, send: b64([3, 43, 0, 4]), done: { success: true, hasMsk: true } },
  },
  eapAuth: {
    args: { session: 7, prf: "sha256", signedOctets: b64([1, 2]) },
    result: b64(new Array(32).fill(3)),
  },
  eapVerifyAuth: {
    args: { session: 7, prf: "sha512", signedOctets: b64([1]), auth: b64([4]) },
    result: false,
  },
  eapEnd: { args: { session: 7 }, result: null },
  verifyWebUser: { args: { user: "admin", password: "pw" }, result: { user: "admin", realm: 2 } },
  setMtu: { args: { device: "rhp1", mtu: 1400 }, result: null },
  linkUp: { args: { device: "rhp1" }, result: null },
  disableAddressGeneration: { args: { device: "rhp1" }, result: null },
  addAddress: { args: { device: "rhp1", cidr: "10.1.0.1/24" }, result: null },
  delAddress: { args: { device: "rhp1", cidr: "fd00::1/64" }, result: null },
  addRoute: {
    args: { prefix: "10.2.0.0/24", device: "rhp1", src: "10.1.0.1", replace: true },
    result: null,
  },
  delRoute: { args: { prefix: "10.2.0.0/24", device: "rhp1" }, result: null },
  restart: { args: {}, result: null },
};

function refused(value: unknown): RefusedRequest {
  const parsed = parseRequest(typeof value === "string" ? encoder.encode(value) : body(value));
  assert("code" in parsed, `accepted: ${JSON.stringify(value)}`);
  return parsed;
}

Deno.test("every request type has a schema and a sample that passes it both ways", () => {
  assertEquals(Object.keys(SAMPLES).sort(), Object.keys(REQUESTS).sort());
  for (const [type, sample] of Object.entries(SAMPLES)) {
    const parsed = parseRequest(body({ id: 5, type, args: sample.args }));
    assert(!("code" in parsed), `${type}: ${"code" in parsed ? parsed.message : ""}`);
    assertEquals([parsed.id, parsed.type], [5, type]);
    // Encoding the parsed (typed) arguments gives the wire form back.
    assertEquals(
      JSON.parse(encodeRequest(5, parsed.type, parsed.args as never)).args,
      sample.args,
      type,
    );
    parseResult(type as RequestType, sample.result);
  }
});

Deno.test("byte arrays arrive as Uint8Array", () => {
  const parsed = parseRequest(
    body({ id: 1, type: "computePskAuth", args: SAMPLES.computePskAuth.args }),
  );
  assert(!("code" in parsed) && parsed.type === "computePskAuth");
  assertEquals(parsed.args.signedOctets, new Uint8Array([1, 2, 3]));
});

Deno.test("an unknown request type is refused as unknown_request and keeps its id", () => {
  const r = refused({ id: 9, type: "readFile", args: { path: "/etc/shadow" } });
  assertEquals([r.id, r.code], [9, "unknown_request"]);
  assert(r.message.includes('"readFile"'), r.message);
});

Deno.test("frames that are not a request are refused as malformed with the reason", () => {
  const cases: [unknown, string][] = [
    ["not json", "not JSON"],
    [[1, 2], "expected an object"],
    [{ type: "hasPsk", args: {} }, "missing field id"],
    [{ id: -1, type: "hasPsk", args: {} }, "request.id: expected an integer 0-4294967295, got -1"],
    [{ id: 1.5, type: "hasPsk", args: {} }, "got 1.5"],
    [{ id: 1, type: "hasPsk" }, "missing field args"],
    [{ id: 1, type: "hasPsk", args: {}, extra: 1 }, 'unknown field "extra"'],
    [{ id: 1, type: 7, args: {} }, "request.type: expected a string"],
  ];
  for (const [value, reason] of cases) {
    const r = refused(value);
    assertEquals(r.code, "malformed", JSON.stringify(value));
    assert(r.message.includes(reason), `${JSON.stringify(value)}: ${r.message}`);
  }
  const notUtf8 = parseRequest(new Uint8Array([0x7b, 0xff, 0x7d]));
  assert("code" in notUtf8 && notUtf8.message.includes("not UTF-8"));
});

Deno.test("arguments of the wrong type, size or shape are refused naming the field", () => {
  const args = SAMPLES.verifyPskAuth.args as Record<string, unknown>;
  const cases: [Record<string, unknown>, string][] = [
    [{ ...args, realmId: "1" }, "verifyPskAuth.args.realmId: expected an integer"],
    [{ ...args, realmId: 2 ** 32 }, "verifyPskAuth.args.realmId"],
    [{ ...args, peerId: "" }, "verifyPskAuth.args.peerId"],
    [{ ...args, peerId: "x".repeat(1025) }, "verifyPskAuth.args.peerId"],
    [{ ...args, peerId: "a\0b" }, "verifyPskAuth.args.peerId"],
    [{ ...args, prf: "md5" }, 'verifyPskAuth.args.prf: expected one of "sha1"'],
    [{ ...args, auth: "not base64!" }, "verifyPskAuth.args.auth: expected base64"],
    [{ ...args, auth: "AQI" }, "verifyPskAuth.args.auth: expected base64"],
    [{ ...args, auth: " AQI=" }, "verifyPskAuth.args.auth: expected base64"],
    [{ ...args, auth: new Uint8Array(65).toBase64() }, "verifyPskAuth.args.auth"],
    [{ ...args, signedOctets: [1, 2] }, "verifyPskAuth.args.signedOctets: expected base64"],
    [{ ...args, signedOctets: null }, "got null"],
    [{ ...args, secret: "x" }, 'unknown field "secret"'],
  ];
  for (const [value, reason] of cases) {
    const r = refused({ id: 3, type: "verifyPskAuth", args: value });
    assertEquals([r.id, r.code], [3, "malformed"]);
    assert(r.message.includes(reason), `${reason} in ${r.message}`);
  }
  const { realmId: _, ...missing } = args;
  assert(
    refused({ id: 3, type: "verifyPskAuth", args: missing }).message.includes(
      "missing field realmId",
    ),
  );
  const certs = SAMPLES.verifyCertificateAuth.args as Record<string, unknown>;
  assert(
    refused({
      id: 4,
      type: "verifyCertificateAuth",
      args: { ...certs, certificates: new Array(17).fill(b64([1])) },
    }).message.includes("at most 16 items"),
  );
});

Deno.test("system change arguments must look like interface names and prefixes", () => {
  const cases: [RequestType, unknown][] = [
    ["setMtu", { device: "rhp1", mtu: 67 }],
    ["setMtu", { device: "rhp1", mtu: 65536 }],
    ["linkUp", { device: "rhp1 up; reboot" }],
    ["linkUp", { device: "a-very-long-interface-name" }],
    ["linkUp", { device: "-rhp1" }],
    ["addAddress", { device: "rhp1", cidr: "10.1.0.1/24 dev eth0" }],
    ["addRoute", { prefix: "default", device: "rhp1" }],
    ["addRoute", { prefix: "10.2.0.0/24", device: "rhp1", src: "10.1.0.1/32" }],
    ["addRoute", { prefix: "10.2.0.0/24", device: "rhp1", replace: "yes" }],
    ["delRoute", { prefix: "10.2.0.0/24", device: "rhp1", table: 220 }],
  ];
  for (const [type, args] of cases) {
    assertEquals(
      refused({ id: 1, type, args }).code,
      "malformed",
      `${type} ${JSON.stringify(args)}`,
    );
  }
});

Deno.test("replies and events are checked on the main side", () => {
  assertEquals(parseSecureMessage(body({ id: 4, ok: true, result: true })), {
    kind: "reply",
    id: 4,
    ok: true,
    result: true,
  });
  assertEquals(
    parseSecureMessage(body({ id: null, ok: false, error: { code: "malformed", message: "m" } })),
    { kind: "reply", id: null, ok: false, code: "malformed", message: "m" },
  );
  assertEquals(parseSecureMessage(body({ event: "down", reason: "r" })), {
    kind: "down",
    reason: "r",
  });
  assertThrows(() => parseSecureMessage(body({ id: 1, ok: "yes" })), SchemaError);
  assertThrows(
    () => parseSecureMessage(body({ id: 1, ok: false, error: { code: "bogus", message: "" } })),
    SchemaError,
  );
  assertThrows(() => parseSecureMessage(body({ event: "ready", info: {} })), SchemaError);
  assertThrows(() => parseResult("computePskAuth", 42), SchemaError, "computePskAuth.result");
  assertThrows(() => parseResult("hasPsk", "true"), SchemaError);
  assertThrows(
    () => parseResult("verifyCertificateAuth", { ok: true, reason: "x" }),
    SchemaError,
  );
});

Deno.test("the main process's view of auth.xml holds no key and no password hash", async () => {
  const psk = "realm-wide key that must not leak";
  const peerPsk = "peer key that must not leak";
  const hash = await hashPassword("web password", { n: 1024 });
  const auth = parseAuthConfig(
    `<rockhopper_auth version="1">
  <realm id="1">
    <my_auth method="psk" id="fqdn:gw1.example.com" psk="${psk}"/>
    <peer id="fqdn:gw2.example.com" psk="${peerPsk}"/>
    <peer id="fqdn:gw3.example.com" auth="cert"/>
    <ca file="/etc/rockhopper/ca.crt"/>
  </realm>
  <admin user="admin" hash="${hash}" realm="any"/>
</rockhopper_auth>`,
    "/etc/rockhopper/auth.xml",
  );
  const view = authViewOf(auth);
  const wire = JSON.stringify(view);
  for (
    const secret of [
      psk,
      peerPsk,
      hash,
      (parseScryptHash(hash) as { salt: Uint8Array }).salt.toBase64(),
    ]
  ) {
    assert(!wire.includes(secret), `the view contains ${secret}`);
  }
  assertEquals(view.realms[0]!.peers, [
    { id: "fqdn:gw2.example.com", auth: "psk", hasPsk: true },
    { id: "fqdn:gw3.example.com", auth: "cert", hasPsk: false },
  ]);
  const config = authConfigOfView(view);
  assertEquals(config.realms[0]!.myAuth.psk, REDACTED_SECRET);
  assertEquals(config.realms[0]!.myAuth.pskBytes, undefined);
  assertEquals(config.realms[0]!.peers[0]!.psk, REDACTED_SECRET);
  assertEquals(config.realms[0]!.peers[1]!.psk, undefined);
  assertEquals(config.admins![0]!.hash.hash.length, 0);
  assertEquals(config.admins![0]!.realm, "any");
  assertEquals(config.realms[0]!.cas, ["/etc/rockhopper/ca.crt"], "file names are not secret");
});

Deno.test("EAP requests are refused for a bad role, session 0 or a packet shorter than a header", () => {
  const cases: [string, Record<string, unknown>, string][] = [
    ["eapStart", { realmId: 1, role: "client", peerId: "fqdn:a" }, "eapStart.args.role"],
    ["eapProcess", { session: 0, packet: b64([1, 2, 0, 4]) }, "eapProcess.args.session"],
    ["eapProcess", { session: 1, packet: b64([1, 2]) }, "eapProcess.args.packet"],
    ["eapEnd", { session: 1, msk: b64([1]) }, 'unknown field "msk"'],
  ];
  for (const [type, args, reason] of cases) {
    const r = refused({ id: 3, type, args });
    assertEquals(r.code, "malformed", `${type} ${JSON.stringify(args)}`);
    assert(r.message.includes(reason), `${type}: ${r.message}`);
  }
  // A result carrying anything beyond the round (an MSK, say) is refused on the main side.
  assertThrows(() =>
    parseResult("eapProcess", { session: 1, done: { success: true, hasMsk: true, msk: "AA==" } })
  );
});
