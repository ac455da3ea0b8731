import { assert, assertEquals } from "../_assert.ts";
import {
  formatIpAddress,
  formatPrefix,
  hasHostBits,
  type IpPrefix,
  parseIpAddress,
  parsePrefix,
  prefixesOverlap,
} from "../../lib/config/ip_prefix.ts";

const canonical = (text: string) => formatIpAddress(parseIpAddress(text)!);
const prefix = (text: string) => parsePrefix(text) as IpPrefix;

Deno.test("parses IPv4 strictly", () => {
  assertEquals(parseIpAddress("198.51.100.1")?.bytes, Uint8Array.of(198, 51, 100, 1));
  for (const bad of ["198.51.100", "198.51.100.256", "198.51.100.01", "1.2.3.4.5", "a.b.c.d", ""]) {
    assertEquals(parseIpAddress(bad), undefined, bad);
  }
});

Deno.test("prints IPv6 in RFC 5952 form", () => {
  assertEquals(canonical("2001:DB8:0:0:0:0:0:1"), "2001:db8::1");
  assertEquals(canonical("::"), "::");
  assertEquals(canonical("::1"), "::1");
  assertEquals(canonical("2001:db8:0:1:0:0:0:1"), "2001:db8:0:1::1");
  assertEquals(canonical("2001:0:0:1:0:0:0:1"), "2001:0:0:1::1");
  assertEquals(canonical("2001:db8::1:0:0:1"), "2001:db8::1:0:0:1");
  assertEquals(canonical("2001:db8:0:1:1:1:1:1"), "2001:db8:0:1:1:1:1:1");
  assertEquals(canonical("::ffff:198.51.100.1"), "::ffff:c633:6401");
});

Deno.test("rejects malformed IPv6", () => {
  for (
    const bad of [
      "1::2::3",
      "1:2:3:4:5:6:7:8:9",
      "1:2:3:4:5:6:7",
      "12345::",
      "fe80::1%eth0",
      ":1::",
      "1.2.3.4::",
    ]
  ) {
    assertEquals(parseIpAddress(bad), undefined, bad);
  }
});

Deno.test("parses prefixes and detects host bits", () => {
  assertEquals(formatPrefix(prefix("10.1.0.0/24")), "10.1.0.0/24");
  assertEquals(formatPrefix(prefix("203.0.113.7")), "203.0.113.7/32");
  assertEquals(formatPrefix(prefix("2001:db8::/32")), "2001:db8::/32");
  assert(hasHostBits(prefix("10.1.0.1/24")));
  assert(!hasHostBits(prefix("10.1.0.0/23")));
  assert(hasHostBits(prefix("10.1.1.0/23")));
  assert(!hasHostBits(prefix("0.0.0.0/0")));
  assertEquals(parsePrefix("10.0.0.0/33"), "prefix length 33 is out of range 0-32");
  assertEquals(parsePrefix("10.0.0.0/"), '"" is not a prefix length');
  assertEquals(parsePrefix("10.0.0.0/024"), '"024" is not a prefix length');
});

Deno.test("detects overlapping networks", () => {
  assert(prefixesOverlap(prefix("10.1.0.0/16"), prefix("10.1.2.0/24")));
  assert(!prefixesOverlap(prefix("10.1.0.0/24"), prefix("10.2.0.0/24")));
  assert(!prefixesOverlap(prefix("10.1.0.0/24"), prefix("::/0")));
});
