import { assertEquals, assertThrows } from "../_assert.ts";
import { AUTO_PATH_MTU, autoTunnelMtu } from "../../lib/appliance/mod.ts";
import { DEFAULT_ESP_SUITES, ESP_SUITES } from "../../lib/ike/suites.ts";

const suites = (...names: string[]) => names.map((n) => ESP_SUITES.get(n)!);
const ipv4Udp = { ipv6: false, udp: true };

Deno.test("autoTunnelMtu: the default suites over IPv4 and UDP get 1438 (ESP datagram 1472 = 23 × 64)", () => {
  assertEquals(AUTO_PATH_MTU, 1500);
  assertEquals(autoTunnelMtu(suites(...DEFAULT_ESP_SUITES), ipv4Udp), 1438);
});

Deno.test("autoTunnelMtu: the suite with the most overhead decides", () => {
  assertEquals(autoTunnelMtu(suites("aes256gcm16", "aes256-sha256"), ipv4Udp), 1422);
  assertEquals(autoTunnelMtu(suites("aes128-sha256"), ipv4Udp), 1422);
});

Deno.test("autoTunnelMtu: raw ESP only (nat_t=no) and an IPv6 outer path", () => {
  assertEquals(autoTunnelMtu(suites("aes256gcm16"), { ipv6: false, udp: false }), 1446);
  assertEquals(autoTunnelMtu(suites("aes256gcm16"), { ipv6: true, udp: true }), 1418);
  assertEquals(autoTunnelMtu(suites("aes256-sha256"), { ipv6: true, udp: true }), 1406);
  assertEquals(autoTunnelMtu(suites("aes256-sha256"), { ipv6: false, udp: false }), 1438);
});

Deno.test("autoTunnelMtu: no suite is an error", () => {
  assertThrows(() => autoTunnelMtu([], ipv4Udp), RangeError, "no ESP suite");
});
