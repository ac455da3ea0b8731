import { assert, assertEquals } from "../_assert.ts";
import { setLogSinks } from "../../lib/log/mod.ts";
import { CookieJar } from "../../lib/ike/cookie.ts";
import {
  closeAll,
  cookieOf,
  gatewayPair,
  initRequest,
  nextEvent,
  side,
} from "./_engine_fixture.ts";

const silent = () => setLogSinks([]);

Deno.test("a cookie verifies for the same request only, across one secret rotation", async () => {
  const jar = new CookieJar(50);
  const nonce = new Uint8Array(32).fill(1);
  const spi = new Uint8Array(8).fill(2);
  const cookie = jar.issue(nonce, "198.51.100.7", spi);
  assert(jar.verify(cookie, nonce, "198.51.100.7", spi));
  assert(!jar.verify(cookie, nonce, "198.51.100.8", spi), "other address");
  assert(!jar.verify(cookie, new Uint8Array(32), "198.51.100.7", spi), "other nonce");
  assert(!jar.verify(cookie.slice(0, 10), nonce, "198.51.100.7", spi), "truncated");
  await new Promise((r) => setTimeout(r, 60));
  jar.issue(nonce, "198.51.100.7", spi); // rotates
  assert(jar.verify(cookie, nonce, "198.51.100.7", spi), "previous secret still accepted");
  await new Promise((r) => setTimeout(r, 60));
  jar.issue(nonce, "198.51.100.7", spi); // rotates again
  assert(!jar.verify(cookie, nonce, "198.51.100.7", spi), "two rotations later it is stale");
});

Deno.test("a flood above the half-open threshold gets COOKIEs and creates no state; a real initiator still gets in", async () => {
  const restore = silent();
  try {
    const { wire, a, b } = gatewayPair();
    // Replace B with an engine that demands cookies above 3 half-open SAs.
    const strict = side(wire, "198.51.100.2", b.engine.realms.slice(), {
      file: "auth.xml",
      realms: [{
        id: 1,
        myAuth: { method: "psk", id: "fqdn:b.example.com" },
        cas: [],
        crls: [],
        peers: [{
          id: "fqdn:a.example.com",
          auth: "psk",
          psk: "a-long-enough-test-psk-0123456789",
          pskBytes: new TextEncoder().encode("a-long-enough-test-psk-0123456789"),
        }],
      }],
    }, { cookieThreshold: 3 });
    const replies: Uint8Array[] = [];
    wire.engines.set("203.0.113.50", {
      handleDatagram: (bytes: Uint8Array) => {
        replies.push(bytes);
        return Promise.resolve();
      },
    } as never);
    for (let i = 0; i < 200; i++) {
      await strict.engine.handleDatagram(initRequest(i), {
        address: "203.0.113.50",
        port: 10000 + i,
      }, 500);
    }
    await Promise.all(wire.pending);
    assertEquals(strict.engine.list().length, 3, "only the first 3 created state");
    assertEquals(strict.engine.counters.get("cookiesSent"), 197);
    const cookieReplies = replies.filter((r) => cookieOf(r) !== undefined);
    assertEquals(cookieReplies.length, 197);

    // A real initiator returns the cookie and gets its SA.
    const up = nextEvent(a.engine, "established");
    a.engine.initiate(1);
    await up;
    assert(strict.engine.counters.get("cookiesSent") >= 198, "it was asked for a cookie too");
    await closeAll(a, strict);
    for (const sa of strict.engine.list()) await strict.engine.deleteSa(sa);
  } finally {
    setLogSinks(restore);
  }
});
