import { assert, assertEquals, assertThrows } from "../_assert.ts";
import { parsePrefix, prefixFromBytes, sourceInPrefixes } from "../../lib/esp/mod.ts";
import { ipv4Packet, ipv6Packet } from "./_helpers.ts";

Deno.test("parses IPv4 and IPv6 prefixes and clears host bits", () => {
  assertEquals(parsePrefix("10.2.0.7/24").text, "10.2.0.0/24");
  assertEquals(parsePrefix("0.0.0.0/0").text, "0.0.0.0/0");
  assertEquals(parsePrefix("192.168.1.1").text, "192.168.1.1/32");
  assertEquals(parsePrefix("2001:db8:1:2::5/48").text, "2001:db8:1::/48");
  assertEquals(parsePrefix("::/0").text, "::/0");
  assertEquals(parsePrefix("fd00::1").length, 128);
  assertEquals(parsePrefix("::ffff:10.0.0.1/128").text, "::ffff:a00:1/128");
});

Deno.test("rejects malformed prefixes with a SyntaxError", () => {
  for (
    const bad of ["10.0.0/8", "10.0.0.256/8", "10.0.0.0/33", "1::2::3/64", "fd00::/129", "x/1", ""]
  ) {
    assertThrows(() => parsePrefix(bad), SyntaxError, "Cannot parse prefix");
  }
});

Deno.test("prints prefix text in RFC 5952 shortest form, IPv4-mapped in hex groups", () => {
  const f = (t: string) => parsePrefix(t).text;
  assertEquals(f("2001:0db8:0000:0000:0000:0000:0000:0001"), "2001:db8::1/128");
  assertEquals(f("2001:db8:0:1:0:0:0:1"), "2001:db8:0:1::1/128");
  assertEquals(f("0:0:0:0:0:0:0:0"), "::/128");
  assertEquals(f("1:2:3:4:5:6:7:8"), "1:2:3:4:5:6:7:8/128");
  assertEquals(f("10.1.2.3"), "10.1.2.3/32");
  assertEquals(f("::ffff:198.51.100.1"), "::ffff:c633:6401/128");
});

Deno.test("builds prefixes from 4- and 16-byte addresses", () => {
  assertEquals(prefixFromBytes(new Uint8Array([10, 2, 0, 9]), 24).text, "10.2.0.0/24");
  const v6 = new Uint8Array(16);
  v6[0] = 0xfd;
  v6[15] = 1;
  assertEquals(prefixFromBytes(v6, 64).text, "fd00::/64");
  assertEquals(prefixFromBytes(v6, 128).text, "fd00::1/128");
  assertThrows(() => prefixFromBytes(new Uint8Array(5), 8), RangeError);
  assertThrows(() => prefixFromBytes(new Uint8Array(4), 33), RangeError);
});

Deno.test("checks a packet's source address against prefixes of its family", () => {
  const v4 = [parsePrefix("10.1.0.0/16")];
  assert(sourceInPrefixes(ipv4Packet(40, { src: "10.1.200.3" }), v4));
  assert(!sourceInPrefixes(ipv4Packet(40, { src: "10.2.0.1" }), v4));
  assert(!sourceInPrefixes(ipv6Packet(60), v4), "IPv6 never matches an IPv4 prefix");
  const v6 = [parsePrefix("fd00:1::/32")];
  assert(sourceInPrefixes(ipv6Packet(60), v6));
  assert(!sourceInPrefixes(ipv6Packet(60, { src: [0xfd00, 2, 0, 0, 0, 0, 0, 1] }), v6));
  assert(!sourceInPrefixes(new Uint8Array(10), v4), "truncated packet");
});
