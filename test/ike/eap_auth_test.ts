/**
 * EAP inside IKE_AUTH (RFC 7296 §2.16) between two engines: our EAP client against our EAP
 * gateway with EAP-MSCHAPv2 and EAP-MD5, the gateway proving itself with its PSK or a
 * certificate; several IKE_AUTH rounds; the final AUTH keyed with the MSK (MSCHAPv2) or
 * SK_pi/SK_pr (MD5); wrong passwords and unconfigured EAP refused cleanly; realms chosen by
 * EAP identity; the same flows through the secure-process protocol (schema-checked requests,
 * MSK never leaving).
 */
import { assert, assertEquals } from "../_assert.ts";
import type { AuthConfig } from "../../lib/config/mod.ts";
import { type AuthService, LocalAuthService } from "../../lib/auth/mod.ts";
import {
  encodeEvent,
  RemoteAuthService,
  SecureClient,
  SecureRequestHandler,
} from "../../lib/auth/secure/mod.ts";
import type { SysService } from "../../lib/sys_control/mod.ts";
import { type LogRecord, setLogSinks } from "../../lib/log/mod.ts";
import { IkeSaState } from "../../lib/ike/ike_sa.ts";
import { ExchangeType } from "../../lib/ike/constants.ts";
import { decodeMessage } from "../../lib/ike/payloads/mod.ts";
import { crypto, nextEvent, realm, type Side, side, Wire } from "./_engine_fixture.ts";
import { makeTestPki } from "../auth/x509/_pki.ts";

const GW_ID = "fqdn:gw.example.com";
const CLIENT_ID = "email:carol@example.com";
const GW_PSK = "gateway-key-long-enough-0123456789";
const PASSWORD = "carol-Secret-pw-7";
const CLIENT = "198.51.100.1";
const GATEWAY = "198.51.100.2";

type Method = "eap-md5" | "eap-mschapv2";

function gatewayAuth(method: Method, options: { role?: boolean; user?: string } = {}): AuthConfig {
  const user = options.user ?? "carol";
  return {
    file: "gw-auth.xml",
    realms: [{
      id: 1,
      myAuth: { method: "psk", id: GW_ID, psk: GW_PSK, pskBytes: new TextEncoder().encode(GW_PSK) },
      peers: options.role ? [] : [{ id: CLIENT_ID, auth: method }],
      cas: [],
      crls: [],
      roles: options.role ? [{ type: "eap", match: "*@example.com", auth: method }] : [],
      eapUsers: [{ name: user, password: PASSWORD }, { name: "dave", password: "other-pw" }],
    }],
  };
}

function clientAuth(method: Method, password: string, eapIdentity = "carol"): AuthConfig {
  return {
    file: "client-auth.xml",
    realms: [{
      id: 1,
      myAuth: { method, id: CLIENT_ID, eapIdentity, password },
      peers: [{
        id: GW_ID,
        auth: "psk",
        psk: GW_PSK,
        pskBytes: new TextEncoder().encode(GW_PSK),
      }],
      cas: [],
      crls: [],
    }],
  };
}

/** An AuthService answered by a SecureRequestHandler through the real protocol. */
async function throughSecureProtocol(
  local: AuthService,
  bodies: string[],
): Promise<RemoteAuthService> {
  const handler = new SecureRequestHandler({
    auth: local,
    webUsers: { verifyWebUser: () => Promise.resolve(null) },
    sys: {} as SysService,
  });
  const encoder = new TextEncoder();
  const client: SecureClient = new SecureClient({
    send: (frame) => {
      const body = frame.subarray(4).slice();
      void handler.handle(body).then((reply) => {
        bodies.push(reply);
        client.receive(encoder.encode(reply));
      });
      return true;
    },
    timeoutMs: 2000,
  });
  client.receive(encoder.encode(encodeEvent({
    event: "ready",
    info: {
      pid: 1,
      uid: null,
      view: { file: "x", realms: [], admins: [] },
      warnings: [],
      files: [],
    },
  })));
  await client.waitReady(1000);
  return new RemoteAuthService(client);
}

interface EapPair {
  wire: Wire;
  client: Side;
  gateway: Side;
  /** IKE_AUTH requests the client sent. */
  authRequests(): number;
}

async function eapPair(
  gw: AuthConfig,
  cl: AuthConfig,
  options: { remote?: boolean; clientId?: string; gatewayRoles?: boolean } = {},
): Promise<EapPair & { bodies: string[] }> {
  const wire = new Wire();
  let requests = 0;
  const clientId = options.clientId ?? CLIENT_ID;
  wire.drop = (bytes, from) => {
    if (from.address === CLIENT) {
      const { header } = decodeMessage(bytes);
      if (header.exchangeType === ExchangeType.IkeAuth) requests++;
    }
    return false;
  };
  const bodies: string[] = [];
  const service = async (auth: AuthConfig) => {
    const local = LocalAuthService.withoutCertificates(auth, crypto);
    if (!options.remote) return local;
    const remote = await throughSecureProtocol(local, bodies);
    return remote;
  };
  const client = side(
    wire,
    CLIENT,
    [realm({
      local: ["10.1.0.0/24"],
      remote: ["10.2.0.0/24"],
      localId: clientId,
      peers: [{ id: GW_ID, address: GATEWAY }],
    })],
    cl,
    { authService: await service(cl) },
  );
  const gateway = side(
    wire,
    GATEWAY,
    [realm({
      local: ["10.2.0.0/24"],
      remote: ["10.1.0.0/24"],
      localId: GW_ID,
      peers: options.gatewayRoles ? [] : [{ id: clientId }],
      roles: options.gatewayRoles ? [{ type: "eap", match: "*@example.com" }] : [],
    })],
    gw,
    { authService: await service(gw) },
  );
  return { wire, client, gateway, authRequests: () => requests, bodies };
}

async function withLog(fn: (lines: string[]) => Promise<void>): Promise<void> {
  const lines: string[] = [];
  const previous = setLogSinks([(_r: LogRecord, line: string) => lines.push(line)]);
  try {
    await fn(lines);
  } finally {
    setLogSinks(previous);
  }
}

for (const method of ["eap-mschapv2", "eap-md5"] as const) {
  for (const remote of [false, true]) {
    const via = remote ? " through the secure-process protocol" : "";
    Deno.test(`${method}: our EAP client and our EAP gateway establish an SA with a child${via}`, () =>
      withLog(async (lines) => {
        const pair = await eapPair(gatewayAuth(method), clientAuth(method, PASSWORD), { remote });
        const upGateway = nextEvent(pair.gateway.engine, "established");
        const sa = pair.client.engine.initiate(1);
        await nextEvent(pair.client.engine, "established");
        const gwSa = await upGateway;
        assertEquals(sa.state, IkeSaState.Established);
        assertEquals(gwSa.remoteId, CLIENT_ID);
        assertEquals(sa.remoteId, GW_ID);
        // IDi; EAP Identity; method rounds (MD5: 1, MSCHAPv2: 2); AUTH.
        assertEquals(pair.authRequests(), method === "eap-md5" ? 4 : 5);
        assertEquals(pair.client.installer.installed.length, 1);
        assertEquals(pair.gateway.installer.installed.length, 1);
        const [c, g] = [pair.client.installer.installed[0]!, pair.gateway.installer.installed[0]!];
        assertEquals(c.outbound.encryptionKey, g.inbound.encryptionKey);
        assertEquals(c.record.spiIn, g.record.spiOut);
        assert(
          lines.some((l) =>
            /IKE_SA established: fqdn:gw\.example\.com .*EAP identity "carol"/.test(l)
          ),
          lines.join("\n"),
        );
        assert(
          lines.some((l) =>
            l.includes(`EAP-${method.slice(4).toUpperCase()} server identity "carol" succeeded`)
          ),
        );
        assert(
          !lines.some((l) => l.includes(PASSWORD) || l.includes(GW_PSK)),
          "a secret in the log",
        );
        for (const body of pair.bodies) {
          assert(!body.includes(PASSWORD), "the password crossed the IPC");
        }
        for (const s of pair.client.engine.list()) await pair.client.engine.deleteSa(s);
      }));
  }

  Deno.test(`${method}: a wrong password fails on both sides with no SA`, () =>
    withLog(async (lines) => {
      const pair = await eapPair(gatewayAuth(method), clientAuth(method, "not-the-password"));
      const goneClient = nextEvent(pair.client.engine, "destroyed");
      const goneGateway = nextEvent(pair.gateway.engine, "destroyed");
      pair.client.engine.initiate(1);
      await Promise.all([goneClient, goneGateway]);
      assertEquals(pair.client.installer.installed.length, 0);
      assertEquals(pair.gateway.installer.installed.length, 0);
      assertEquals(pair.client.engine.list().length, 0);
      assertEquals(pair.gateway.engine.list().length, 0);
      const gw = lines.find((l) => l.includes("AUTHENTICATION_FAILED for 198.51.100.1"));
      assert(gw?.includes(`EAP identity "carol"`), lines.join("\n"));
      assert(
        lines.some((l) =>
          l.includes(`AUTHENTICATION_FAILED: EAP identity "carol" refused by ${GW_ID}`)
        ),
        lines.join("\n"),
      );
      assert(!lines.some((l) => l.includes("IKE_SA established")));
    }));
}

Deno.test("a client without AUTH is refused when the realm expects a PSK from it", () =>
  withLog(async (lines) => {
    const gw = gatewayAuth("eap-mschapv2");
    gw.realms[0]!.peers = [{
      id: CLIENT_ID,
      auth: "psk",
      psk: GW_PSK,
      pskBytes: new TextEncoder().encode(GW_PSK),
    }];
    const pair = await eapPair(gw, clientAuth("eap-mschapv2", PASSWORD));
    const gone = nextEvent(pair.client.engine, "destroyed");
    pair.client.engine.initiate(1);
    await gone;
    assert(
      lines.some((l) =>
        l.includes("wants EAP (IKE_AUTH without AUTH), but realm test expects psk") &&
        l.includes('auth="eap-mschapv2"')
      ),
      lines.join("\n"),
    );
    assert(lines.some((l) => l.includes("refused our EAP authentication (AUTHENTICATION_FAILED)")));
  }));

Deno.test("a realm admits EAP clients by an eap role matching the value of IDi", () =>
  withLog(async (lines) => {
    const gw = gatewayAuth("eap-mschapv2", { role: true, user: "carol@example.com" });
    const pair = await eapPair(gw, clientAuth("eap-mschapv2", PASSWORD, "carol@example.com"), {
      gatewayRoles: true,
    });
    const up = nextEvent(pair.gateway.engine, "established");
    pair.client.engine.initiate(1);
    await nextEvent(pair.client.engine, "established");
    await up;
    assert(lines.some((l) => l.includes(`EAP identity "carol@example.com"`)));
    for (const s of pair.client.engine.list()) await pair.client.engine.deleteSa(s);
  }));

Deno.test("an EAP identity the gateway does not know fails like a wrong password", () =>
  withLog(async (lines) => {
    const pair = await eapPair(
      gatewayAuth("eap-mschapv2"),
      clientAuth("eap-mschapv2", PASSWORD, "mallory"),
    );
    const gone = nextEvent(pair.gateway.engine, "destroyed");
    pair.client.engine.initiate(1);
    await gone;
    await nextEvent(pair.client.engine, "destroyed").catch(() => undefined);
    assertEquals(pair.gateway.installer.installed.length, 0);
    assert(lines.some((l) => l.includes(`EAP identity "mallory"`)), lines.join("\n"));
  }));

Deno.test("an EAP identity that belongs to another realm than IDi chose is refused", () =>
  withLog(async (lines) => {
    const wire = new Wire();
    const gwAuth: AuthConfig = {
      file: "gw-auth.xml",
      realms: [1, 2].map((id) => ({
        id,
        myAuth: {
          method: "psk" as const,
          id: GW_ID,
          psk: GW_PSK,
          pskBytes: new TextEncoder().encode(GW_PSK),
        },
        peers: [],
        cas: [],
        crls: [],
        roles: [{
          type: "eap",
          match: id === 1 ? "*@example.com" : "guest*",
          auth: "eap-mschapv2" as const,
        }],
        eapUsers: [{ name: "guest7", password: PASSWORD }],
      })),
    };
    const realms = [1, 2].map((id) =>
      realm({
        id,
        name: id === 1 ? "staff" : "guests",
        local: ["10.2.0.0/24"],
        remote: ["10.1.0.0/24"],
        localId: GW_ID,
        peers: [],
        roles: [{ type: "eap", match: id === 1 ? "*@example.com" : "guest*" }],
      })
    );
    const gateway = side(wire, GATEWAY, realms, gwAuth);
    const cl = clientAuth("eap-mschapv2", PASSWORD, "guest7");
    const client = side(
      wire,
      CLIENT,
      [realm({
        local: ["10.1.0.0/24"],
        remote: ["10.2.0.0/24"],
        localId: CLIENT_ID,
        peers: [{ id: GW_ID, address: GATEWAY }],
      })],
      cl,
    );
    const gone = nextEvent(gateway.engine, "destroyed");
    client.engine.initiate(1);
    await gone;
    assertEquals(gateway.installer.installed.length, 0);
    assert(
      lines.some((l) =>
        l.includes(
          `EAP identity "guest7" belongs to realm guests, but ${CLIENT_ID} was admitted to realm staff`,
        )
      ),
      lines.join("\n"),
    );
  }));

Deno.test("a gateway proving itself with a certificate serves EAP-MSCHAPv2 clients", () =>
  withLog(async (lines) => {
    const pki = await makeTestPki();
    const gatewayId = "fqdn:gw-rsa.example.com";
    const gw: AuthConfig = {
      file: "gw-auth.xml",
      realms: [{
        id: 1,
        myAuth: {
          method: "cert",
          id: gatewayId,
          cert: pki.path("gw-rsa.crt"),
          key: pki.path("gw-rsa.key"),
          chain: [pki.path("intermediate.crt")],
        },
        peers: [{ id: CLIENT_ID, auth: "eap-mschapv2" }],
        cas: [],
        crls: [],
        eapUsers: [{ name: "carol", password: PASSWORD }],
      }],
    };
    const cl: AuthConfig = {
      file: "client-auth.xml",
      realms: [{
        id: 1,
        myAuth: { method: "eap-mschapv2", id: CLIENT_ID, eapIdentity: "carol", password: PASSWORD },
        peers: [{ id: gatewayId, auth: "cert" }],
        cas: [pki.path("root.crt")],
        crls: [],
      }],
    };
    const wire = new Wire();
    const gateway = side(
      wire,
      GATEWAY,
      [realm({
        local: ["10.2.0.0/24"],
        remote: ["10.1.0.0/24"],
        localId: gatewayId,
        peers: [{ id: CLIENT_ID }],
      })],
      gw,
      { authService: await LocalAuthService.create(gw, crypto) },
    );
    const client = side(
      wire,
      CLIENT,
      [realm({
        local: ["10.1.0.0/24"],
        remote: ["10.2.0.0/24"],
        localId: CLIENT_ID,
        peers: [{ id: gatewayId, address: GATEWAY }],
      })],
      cl,
      { authService: await LocalAuthService.create(cl, crypto) },
    );
    const up = nextEvent(gateway.engine, "established");
    client.engine.initiate(1);
    await nextEvent(client.engine, "established");
    await up;
    assert(
      lines.some((l) => l.includes(`${gatewayId} authenticated with certificate`)),
      lines.join("\n"),
    );
    assertEquals(client.installer.installed.length, 1);
    for (const s of client.engine.list()) await client.engine.deleteSa(s);
  }));
