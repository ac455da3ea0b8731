/**
 * IKE_AUTH with X.509 certificates between two engines: RSA and ECDSA signatures (RFC 7427),
 * CERT/CERTREQ, chain validation through an intermediate, and clean refusals for revoked,
 * expired and foreign certificates and for a method the realm does not expect.
 */
import { assert, assertEquals } from "../_assert.ts";
import type { AuthConfig } from "../../lib/config/mod.ts";
import { LocalAuthService } from "../../lib/auth/mod.ts";
import { setLogSinks } from "../../lib/log/mod.ts";
import { IkeSaState } from "../../lib/ike/ike_sa.ts";
import { crypto, nextEvent, realm, side, Wire } from "./_engine_fixture.ts";

const PKI_SCRIPT = new URL("../auth/x509/make_test_pki.sh", import.meta.url).pathname;

async function makePki(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "rht-ike-pki-" });
  const out = await new Deno.Command("bash", { args: [PKI_SCRIPT, dir], stderr: "piped" }).output();
  if (!out.success) throw new Error(`test PKI failed: ${new TextDecoder().decode(out.stderr)}`);
  return dir;
}

interface Party {
  name: string; // certificate file stem
  id: string;
  address: string;
}

function certAuth(
  pki: string,
  me: Party,
  peer: Party,
  peerAuth: "cert" | "psk" = "cert",
): AuthConfig {
  return {
    file: `${pki}/auth.xml`,
    realms: [{
      id: 1,
      myAuth: {
        method: "cert",
        id: me.id,
        cert: `${pki}/${me.name}.crt`,
        key: `${pki}/${me.name}.key`,
        chain: [`${pki}/intermediate.crt`],
      },
      peers: peerAuth === "cert" ? [{ id: peer.id, auth: "cert" }] : [{
        id: peer.id,
        auth: "psk",
        psk: "a-long-enough-test-psk-0123456789",
        pskBytes: new TextEncoder().encode("a-long-enough-test-psk-0123456789"),
      }],
      cas: [`${pki}/root.crt`],
      crls: [`${pki}/intermediate.crl`, `${pki}/root.crl`],
    }],
  };
}

async function pair(pki: string, a: Party, b: Party, options: { bExpects?: "cert" | "psk" } = {}) {
  const wire = new Wire();
  const make = async (me: Party, peer: Party, initiator: boolean, peerAuth: "cert" | "psk") => {
    const auth = certAuth(pki, me, peer, peerAuth);
    return side(
      wire,
      me.address,
      [realm({
        local: [initiator ? "10.1.0.0/24" : "10.2.0.0/24"],
        remote: [initiator ? "10.2.0.0/24" : "10.1.0.0/24"],
        localId: me.id,
        peers: [{ id: peer.id, ...(initiator ? { address: peer.address } : {}) }],
      })],
      auth,
      { authService: await LocalAuthService.create(auth, crypto) },
    );
  };
  return {
    a: await make(a, b, true, "cert"),
    b: await make(b, a, false, options.bExpects ?? "cert"),
  };
}

const RSA: Party = { name: "gw-rsa", id: "fqdn:gw-rsa.example.com", address: "198.51.100.1" };
const P256: Party = { name: "gw-p256", id: "fqdn:gw-p256.example.com", address: "198.51.100.2" };

async function withPki(fn: (pki: string, lines: string[]) => Promise<void>): Promise<void> {
  const pki = await makePki();
  const lines: string[] = [];
  const prev = setLogSinks([(_r, line) => lines.push(line)]);
  try {
    await fn(pki, lines);
  } finally {
    setLogSinks(prev);
    await Deno.remove(pki, { recursive: true });
  }
}

Deno.test("authenticates both ways with RSA and ECDSA certificates through an intermediate", () =>
  withPki(async (pki, lines) => {
    const { a, b } = await pair(pki, RSA, P256);
    const upB = nextEvent(b.engine, "established");
    const sa = a.engine.initiate(1);
    await nextEvent(a.engine, "established");
    const responder = await upB;
    assertEquals(sa.state, IkeSaState.Established);
    assertEquals(responder.remoteId, RSA.id);
    assert(
      lines.some((l) =>
        l.includes(`${RSA.id} authenticated with certificate`) && l.includes("CN=gw-rsa")
      ),
      "responder verified the RSA certificate",
    );
    assert(
      lines.some((l) =>
        l.includes(`${P256.id} authenticated with certificate`) && l.includes("CN=gw-p256")
      ),
      "initiator verified the ECDSA certificate",
    );
    assertEquals(a.installer.installed.length, 1);
    assertEquals(b.installer.installed.length, 1);
    for (const s of a.engine.list()) await a.engine.deleteSa(s);
  }));

for (
  const [name, stem, expect] of [
    ["a revoked certificate", "revoked", "revoked"],
    ["an expired certificate", "expired", "expired"],
    ["a certificate from a foreign CA", "gw-other", "unknown CA"],
  ] as const
) {
  Deno.test(`refuses ${name} with AUTHENTICATION_FAILED and says why`, () =>
    withPki(async (pki, lines) => {
      const bad: Party = { name: stem, id: `fqdn:${stem}.example.com`, address: "198.51.100.1" };
      const { a, b } = await pair(pki, bad, P256);
      const failedA = nextEvent(a.engine, "destroyed");
      const failedB = nextEvent(b.engine, "destroyed");
      a.engine.initiate(1);
      await Promise.all([failedA, failedB]);
      assertEquals(b.installer.installed.length, 0);
      const refusal = lines.find((l) => l.includes("AUTHENTICATION_FAILED for"));
      assert(refusal?.toLowerCase().includes(expect.toLowerCase()), refusal ?? lines.join("\n"));
      assert(lines.some((l) => l.includes("refused our authentication (AUTHENTICATION_FAILED)")));
    }));
}

Deno.test("refuses a certificate where the realm expects a shared key", () =>
  withPki(async (pki, lines) => {
    const { a, b } = await pair(pki, RSA, P256, { bExpects: "psk" });
    const failed = nextEvent(b.engine, "destroyed");
    a.engine.initiate(1);
    await failed;
    assertEquals(b.installer.installed.length, 0);
    assert(lines.some((l) => l.includes("expects psk")), lines.join("\n"));
    for (const s of a.engine.list()) await a.engine.deleteSa(s);
  }));

Deno.test("refuses to start a realm whose certificate does not carry its identity", () =>
  withPki(async (pki) => {
    const auth = certAuth(pki, { ...RSA, id: "fqdn:someone-else.example.com" }, P256);
    let message = "";
    try {
      await LocalAuthService.create(auth, crypto);
    } catch (e) {
      message = (e as Error).message;
    }
    assert(message.includes("is not in certificate"), message);
  }));
