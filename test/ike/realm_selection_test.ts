/**
 * Responder-side realm selection in IKE_AUTH: three realms on one responder, admitted by
 * `<role>` rules; each peer lands in its realm with that realm's suite and selectors, and an
 * identity no realm admits gets AUTHENTICATION_FAILED.
 */
import { assert, assertEquals } from "../_assert.ts";
import type { AuthConfig } from "../../lib/config/mod.ts";
import { setLogSinks } from "../../lib/log/mod.ts";
import { formatSelector } from "../../lib/ike/traffic_selectors.ts";
import { nextEvent, realm, side, Wire } from "./_engine_fixture.ts";

const KEYS = {
  corp: "corp-realm-wide-key-0123456789abcdef",
  sales: "sales-realm-wide-key-0123456789abcdef",
  partners: "partners-realm-wide-key-0123456789abcd",
};

function realmWideAuth(
  entries: { id: number; localId: string; psk: string; roles: { type: string; match: string }[] }[],
): AuthConfig {
  return {
    file: "auth.xml",
    realms: entries.map((e) => ({
      id: e.id,
      myAuth: {
        method: "psk",
        id: e.localId,
        psk: e.psk,
        pskBytes: new TextEncoder().encode(e.psk),
      },
      peers: [],
      cas: [],
      crls: [],
      roles: e.roles.map((r) => ({ ...r, auth: "psk" as const })),
    })),
  };
}

/** The responder with three realms. */
function responder(wire: Wire) {
  const roles = {
    corp: [{ type: "fqdn", match: "example.com" }],
    sales: [{ type: "fqdn", match: "sales.example.com" }],
    partners: [{ type: "email", match: "partner.org" }],
  };
  return side(
    wire,
    "198.51.100.2",
    [
      realm({
        id: 1,
        name: "corp",
        ikeSuites: ["aes256gcm16-prfsha384-x25519"],
        espSuites: ["aes256gcm16"],
        local: ["10.10.0.0/16"],
        remote: ["10.11.0.0/16"],
        localId: "fqdn:gw.corp.example.com",
        peers: [],
        roles: roles.corp,
      }),
      realm({
        id: 2,
        name: "sales",
        ikeSuites: ["aes128gcm16-prfsha256-ecp256"],
        espSuites: ["aes128gcm16"],
        local: ["10.20.0.0/16"],
        remote: ["10.21.0.0/16"],
        localId: "fqdn:gw.sales.example.com",
        peers: [],
        roles: roles.sales,
      }),
      realm({
        id: 3,
        name: "partners",
        ikeSuites: ["aes256-sha256-modp2048"],
        espSuites: ["aes256-sha256"],
        local: ["10.30.0.0/16"],
        remote: ["10.31.0.0/16"],
        localId: "fqdn:gw.partners.example.com",
        peers: [],
        roles: roles.partners,
      }),
    ],
    realmWideAuth([
      { id: 1, localId: "fqdn:gw.corp.example.com", psk: KEYS.corp, roles: roles.corp },
      { id: 2, localId: "fqdn:gw.sales.example.com", psk: KEYS.sales, roles: roles.sales },
      { id: 3, localId: "fqdn:gw.partners.example.com", psk: KEYS.partners, roles: roles.partners },
    ]),
  );
}

/**
 * An initiator with identity `id`, configured with its realm's IKE suite (the responder picks
 * the IKE suite in IKE_SA_INIT, before the identity tells it the realm), that offers every ESP
 * suite and asks for `local` === `remote`.
 */
function initiator(
  wire: Wire,
  address: string,
  id: string,
  responderId: string,
  psk: string,
  local: string,
  remote: string,
  ikeSuite = "aes256gcm16-prfsha384-x25519",
) {
  return side(
    wire,
    address,
    [realm({
      ikeSuites: [ikeSuite],
      espSuites: ["aes256gcm16", "aes128gcm16", "aes256-sha256"],
      local: [local],
      remote: [remote],
      localId: id,
      peers: [{ id: responderId, address: "198.51.100.2" }],
    })],
    {
      file: "auth.xml",
      realms: [{
        id: 1,
        myAuth: { method: "psk", id },
        peers: [{ id: responderId, auth: "psk", psk, pskBytes: new TextEncoder().encode(psk) }],
        cas: [],
        crls: [],
      }],
    },
  );
}

Deno.test("three realms on one responder: each peer lands in its realm with that realm's suite and selectors", async () => {
  const lines: string[] = [];
  const prev = setLogSinks([(_r, line) => lines.push(line)]);
  try {
    const wire = new Wire();
    const gw = responder(wire);
    const cases = [
      {
        id: "fqdn:branch.example.com",
        realm: "corp",
        suite: "aes256gcm16-prfsha384-x25519",
        esp: "aes256gcm16",
        local: "10.11.1.0/24",
        remote: "10.10.0.0/16",
        responderId: "fqdn:gw.corp.example.com",
        psk: KEYS.corp,
      },
      {
        id: "fqdn:laptop.sales.example.com",
        realm: "sales",
        suite: "aes128gcm16-prfsha256-ecp256",
        esp: "aes128gcm16",
        local: "10.21.7.0/24",
        remote: "10.20.0.0/16",
        responderId: "fqdn:gw.sales.example.com",
        psk: KEYS.sales,
      },
      {
        id: "email:bob@partner.org",
        realm: "partners",
        suite: "aes256-sha256-modp2048",
        esp: "aes256-sha256",
        local: "10.31.2.0/24",
        remote: "10.30.0.0/16",
        responderId: "fqdn:gw.partners.example.com",
        psk: KEYS.partners,
      },
    ];
    let n = 10;
    for (const c of cases) {
      const peer = initiator(
        wire,
        `198.51.100.${n++}`,
        c.id,
        c.responderId,
        c.psk,
        c.local,
        c.remote,
        c.suite,
      );
      const up = nextEvent(gw.engine, "established");
      peer.engine.initiate(1);
      const sa = await up;
      assertEquals(sa.realm!.name, c.realm, `${c.id} lands in ${c.realm}`);
      assertEquals(sa.suite!.name, c.suite);
      const child = gw.installer.installed.at(-1)!;
      assertEquals(child.suite.name, c.esp);
      assertEquals(child.record.remoteTs.map(formatSelector), [c.local]);
      assertEquals(child.record.localTs.map(formatSelector), [c.remote]);
    }
    // An identity no realm admits.
    const stranger = initiator(
      wire,
      "198.51.100.99",
      "fqdn:gw.other.org",
      "fqdn:gw.corp.example.com",
      KEYS.corp,
      "10.11.9.0/24",
      "10.10.0.0/16",
    );
    const failed = nextEvent(stranger.engine, "destroyed");
    stranger.engine.initiate(1);
    await failed;
    assert(
      lines.some((l) =>
        l.includes("AUTHENTICATION_FAILED") && l.includes("no realm admits peer fqdn:gw.other.org")
      ),
      lines.join("\n"),
    );
    assertEquals(gw.engine.list().length, 3);
    for (const sa of gw.engine.list()) await gw.engine.deleteSa(sa);
  } finally {
    setLogSinks(prev);
  }
});

Deno.test("honours the IDr the initiator asks for when two realms would admit it", async () => {
  const prev = setLogSinks([]);
  try {
    const wire = new Wire();
    const roles = [{ type: "any" }];
    const gw = side(
      wire,
      "198.51.100.2",
      [
        realm({
          id: 1,
          name: "first",
          local: ["10.10.0.0/16"],
          remote: ["10.11.0.0/16"],
          localId: "fqdn:vpn.example.com",
          peers: [],
          roles,
        }),
        realm({
          id: 2,
          name: "second",
          local: ["10.10.0.0/16"],
          remote: ["10.11.0.0/16"],
          localId: "fqdn:other-vpn.example.com",
          peers: [],
          roles,
        }),
      ],
      {
        file: "auth.xml",
        realms: [1, 2].map((id) => ({
          id,
          myAuth: {
            method: "psk" as const,
            id: id === 1 ? "fqdn:vpn.example.com" : "fqdn:other-vpn.example.com",
            psk: KEYS.corp,
            pskBytes: new TextEncoder().encode(KEYS.corp),
          },
          peers: [],
          cas: [],
          crls: [],
          roles: [{ type: "any", auth: "psk" as const }],
        })),
      },
    );
    const peer = initiator(
      wire,
      "198.51.100.10",
      "fqdn:road.example.com",
      "fqdn:other-vpn.example.com",
      KEYS.corp,
      "10.11.1.0/24",
      "10.10.0.0/16",
    );
    const up = nextEvent(gw.engine, "established");
    peer.engine.initiate(1);
    const sa = await up;
    assertEquals(sa.realm!.name, "second");
    assertEquals(sa.localId, "fqdn:other-vpn.example.com");
    for (const s of gw.engine.list()) await gw.engine.deleteSa(s);
  } finally {
    setLogSinks(prev);
  }
});
