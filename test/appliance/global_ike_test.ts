/**
 * The root `<ike>` of rockhopper.xml reaches the running appliance: its IKE_SA_INIT admission
 * limits govern the engine behind the real socket path, and the NAT keepalive interval is the
 * one configured. In memory: fake devices and sockets.
 */
import { assert, assertEquals } from "../_assert.ts";
import { Appliance } from "../../lib/appliance/mod.ts";
import { parseAuthConfig, parseConfig } from "../../lib/config/mod.ts";
import { NodeCryptoProvider } from "../../lib/crypto/node_provider.ts";
import { setLogSinks } from "../../lib/log/mod.ts";
import { type Endpoint, MemoryDevice, MemoryNetwork } from "../../lib/net/mod.ts";
import { cookieOf, initRequest } from "../ike/_engine_fixture.ts";

function config(globalIke: string): string {
  return `<?xml version="1.0"?>
<rockhopper version="1">
  <interfaces><interface address="198.51.100.1"/></interfaces>
  ${globalIke}
  <realm id="1" name="lab">
    <tunnel_interface name="rhp1" address="10.1.0.1/24"/>
    <ike nat_t="force" dpd="0"/>
    <peer id="fqdn:gw2.example.com"/>
  </realm>
</rockhopper>`;
}

const AUTH = `<?xml version="1.0"?>
<rockhopper_auth version="1">
  <realm id="1">
    <my_auth method="psk" id="fqdn:gw1.example.com"/>
    <peer id="fqdn:gw2.example.com" psk="a-long-enough-test-psk-0123456789"/>
  </realm>
</rockhopper_auth>`;

async function withAppliance(
  globalIke: string,
  fn: (appliance: Appliance, network: MemoryNetwork, lines: string[]) => Promise<void>,
): Promise<void> {
  const lines: string[] = [];
  const restore = setLogSinks([(_r, line) => lines.push(line)]);
  const network = new MemoryNetwork();
  const appliance = await Appliance.start({
    config: parseConfig(config(globalIke), "test.xml"),
    auth: parseAuthConfig(AUTH, "auth.xml"),
    crypto: new NodeCryptoProvider(),
    openDevice: () => Promise.resolve(new MemoryDevice({ name: "rhp1" })),
    openSocket: (e: Endpoint) => Promise.resolve(network.open(e)),
    manageRoutes: false,
  });
  try {
    await fn(appliance, network, lines);
  } finally {
    await appliance.stop();
    setLogSinks(restore);
  }
}

Deno.test("the root <ike> sets the engine's IKE_SA_INIT limits and the NAT keepalive interval", () =>
  withAppliance(
    `<ike cookie_threshold="0" init_rate_limit="7" cookie_rate_limit="3" half_open_limit="50" nat_keepalive="5s"/>`,
    async (appliance, network, lines) => {
      assertEquals(appliance.engine.admissionLimits, {
        cookieThreshold: 0,
        initRateLimit: 7,
        cookieRateLimit: 3,
        halfOpenLimit: 50,
      });
      assert(
        lines.some((l) =>
          l.includes(
            "IKE_SA_INIT limits: COOKIE demanded from 0 half-open SAs or above 7/s, at most 3 COOKIEs/s, dropped from 50 half-open SAs; NAT keepalives every 5 s",
          )
        ),
        lines.join("\n"),
      );
      // Through the UDP 500 socket: every request needs a cookie, three get one, two nothing.
      const flood = network.open({ address: "203.0.113.50", port: 0 });
      for (let i = 0; i < 5; i++) {
        await flood.send(initRequest(i), { address: "198.51.100.1", port: 500 });
      }
      const buffer = new Uint8Array(2048);
      const cookies: Uint8Array[] = [];
      for (let i = 0; i < 3; i++) {
        const { data } = await flood.receive(buffer);
        const cookie = cookieOf(data.slice());
        if (cookie) cookies.push(cookie);
      }
      assertEquals(cookies.length, 3);
      const deadline = Date.now() + 2000;
      while (appliance.engine.counters.get("cookiesDropped") < 2 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 10));
      }
      assertEquals(appliance.engine.counters.get("cookiesDropped"), 2);
      assertEquals(appliance.engine.list().length, 0);
      flood.close();
    },
  ));

Deno.test("without a root <ike> the documented defaults apply", () =>
  withAppliance("", (appliance, _network, lines) => {
    assertEquals(appliance.engine.admissionLimits, {
      cookieThreshold: 10,
      initRateLimit: 100,
      cookieRateLimit: 5000,
      halfOpenLimit: 1000,
    });
    assert(lines.some((l) => l.includes("NAT keepalives every 20 s")), lines.join("\n"));
    return Promise.resolve();
  }));

Deno.test('nat_keepalive="0" turns NAT keepalives off', () =>
  withAppliance(`<ike nat_keepalive="0"/>`, (_appliance, _network, lines) => {
    assert(lines.some((l) => l.includes("; NAT keepalives off")), lines.join("\n"));
    return Promise.resolve();
  }));
