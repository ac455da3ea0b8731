/**
 * EAP conversations behind the AuthService: both ends agree on the MSK-keyed AUTH without the
 * MSK ever appearing in a round; methods without MSK refuse eapAuth; unconfigured peers,
 * finished and idle conversations are refused with AuthUnavailableError.
 */
import { assert, assertEquals, assertRejects } from "../_assert.ts";
import type { AuthConfig } from "../../lib/config/mod.ts";
import { AuthUnavailableError, type EapRound } from "../../lib/auth/mod.ts";
import { EAP_SESSION_IDLE_MS, EapSessions } from "../../lib/auth/eap_sessions.ts";
import { NodeCryptoProvider } from "../../lib/crypto/node_provider.ts";

const crypto = new NodeCryptoProvider();
const PASSWORD = "pa55-word-for-tests";

function config(method: "eap-md5" | "eap-mschapv2"): AuthConfig {
  return {
    file: "auth.xml",
    realms: [{
      id: 1,
      myAuth: { method, id: "email:carol@example.com", eapIdentity: "carol", password: PASSWORD },
      peers: [{ id: "email:carol@example.com", auth: method }, { id: "fqdn:gw", auth: "psk" }],
      cas: [],
      crls: [],
      eapUsers: [{ name: "Carol", password: PASSWORD }],
    }],
  };
}

function sessions(method: "eap-md5" | "eap-mschapv2", now = () => 0): EapSessions {
  const auth = config(method);
  return new EapSessions({
    auth,
    crypto,
    now,
    peerMethod: (_r, peerId) =>
      Promise.resolve(auth.realms[0]!.peers.find((p) => p.id === peerId)?.auth),
  });
}

/** Runs a whole conversation; returns the last rounds of server and peer. */
async function converse(server: EapSessions, peer: EapSessions) {
  let s: EapRound = await server.start({
    realmId: 1,
    role: "server",
    peerId: "email:carol@example.com",
  });
  let p: EapRound = await peer.start({ realmId: 1, role: "peer", peerId: "fqdn:gw" });
  const rounds = [s, p];
  while (s.send && !p.done) {
    p = await peer.process(p.session, s.send);
    rounds.push(p);
    if (!p.send) break;
    s = await server.process(s.session, p.send);
    rounds.push(s);
    if (s.done && s.send) {
      p = await peer.process(p.session, s.send);
      rounds.push(p);
      break;
    }
  }
  return { s, p, rounds };
}

Deno.test("MSCHAPv2: both ends compute the same MSK-keyed AUTH; no round carries the MSK", async () => {
  const server = sessions("eap-mschapv2");
  const peer = sessions("eap-mschapv2");
  const { s, p, rounds } = await converse(server, peer);
  assertEquals([s.done?.success, p.done?.success], [true, true]);
  assertEquals([s.done?.hasMsk, p.done?.hasMsk], [true, true]);
  assertEquals(s.done?.identity, "carol");
  for (const round of rounds) {
    assertEquals(
      Object.keys(round).filter((k) => !["session", "send", "done"].includes(k)),
      [],
    );
  }
  const octets = new Uint8Array([1, 2, 3]);
  const a = await server.auth({ session: s.session, prf: "sha256", signedOctets: octets });
  const b = await peer.auth({ session: p.session, prf: "sha256", signedOctets: octets });
  assertEquals(a, b);
  assert(
    await server.verifyAuth({ session: s.session, prf: "sha256", signedOctets: octets, auth: b }),
  );
  await server.end(s.session);
  await assertRejects(
    () => server.auth({ session: s.session, prf: "sha256", signedOctets: octets }),
    AuthUnavailableError,
  );
  assertEquals(server.size, 0);
});

Deno.test("MD5: succeeds without MSK, so eapAuth is refused (AUTH uses SK_pi/SK_pr)", async () => {
  const server = sessions("eap-md5");
  const { s, p } = await converse(server, sessions("eap-md5"));
  assertEquals([s.done?.success, s.done?.hasMsk, p.done?.hasMsk], [true, false, false]);
  await assertRejects(
    () => server.auth({ session: s.session, prf: "sha256", signedOctets: new Uint8Array(1) }),
    AuthUnavailableError,
    "has no MSK",
  );
});

Deno.test("refuses EAP for a peer configured with a PSK, and a finished conversation", async () => {
  const server = sessions("eap-mschapv2");
  await assertRejects(
    () => server.start({ realmId: 1, role: "server", peerId: "fqdn:gw" }),
    AuthUnavailableError,
    'does not authenticate fqdn:gw with EAP (auth="psk")',
  );
  const { s } = await converse(server, sessions("eap-mschapv2"));
  await assertRejects(
    () => server.process(s.session, new Uint8Array([2, 1, 0, 4])),
    AuthUnavailableError,
    "is over",
  );
});

Deno.test("forgets a conversation idle for longer than the limit", async () => {
  let now = 0;
  const server = sessions("eap-mschapv2", () => now);
  const first = await server.start({
    realmId: 1,
    role: "server",
    peerId: "email:carol@example.com",
  });
  now = EAP_SESSION_IDLE_MS + 1;
  await server.start({ realmId: 1, role: "server", peerId: "email:carol@example.com" });
  assertEquals(server.size, 1);
  await assertRejects(
    () => server.process(first.session, new Uint8Array([2, 1, 0, 4])),
    AuthUnavailableError,
    "expired or never started",
  );
});
