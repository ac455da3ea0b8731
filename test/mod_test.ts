/**
 * The public entry point (mod.ts) loads, type-checks with the test run, and exports what its
 * documentation promises: nothing else in the suite imports it.
 */
import { assertEquals } from "./_assert.ts";
import * as rockhopper from "../mod.ts";
import { DEFAULT_ESP_SUITES, ESP_SUITES } from "../lib/ike/suites.ts";

Deno.test("mod.ts exports the appliance, the config loader, the codec and the tunnel MTU sizing", () => {
  for (
    const name of ["Appliance", "loadConfig", "loadAuthConfig", "decodeMessage", "encodeMessage"]
  ) {
    assertEquals(typeof (rockhopper as Record<string, unknown>)[name], "function", name);
  }
  assertEquals(rockhopper.AUTO_PATH_MTU, 1500);
  const suites = DEFAULT_ESP_SUITES.map((name) => ESP_SUITES.get(name)!);
  assertEquals(rockhopper.autoTunnelMtu(suites, { ipv6: false, udp: true }), 1438);
});
