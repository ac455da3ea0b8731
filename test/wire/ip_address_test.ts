import { assert, assertEquals, assertThrows } from "../_assert.ts";
import {
  compareAddresses,
  formatIpAddress,
  fromHex,
  parseIpAddress,
  tryParseIpAddress,
} from "../../lib/wire/mod.ts";

Deno.test("IP address: parses IPv4 and IPv6 text", () => {
  assertEquals(parseIpAddress("198.51.100.1"), fromHex("c6336401"));
  assertEquals(parseIpAddress("0.0.0.0"), new Uint8Array(4));
  assertEquals(parseIpAddress("::"), new Uint8Array(16));
  assertEquals(parseIpAddress("::1"), fromHex("00000000000000000000000000000001"));
  assertEquals(parseIpAddress("2001:DB8::"), fromHex("20010db8000000000000000000000000"));
  assertEquals(parseIpAddress("1:2:3:4:5:6:7:8"), fromHex("00010002000300040005000600070008"));
  assertEquals(parseIpAddress("1:2:3:4:5:6:7::"), fromHex("00010002000300040005000600070000"));
  assertEquals(parseIpAddress("::ffff:203.0.113.9"), fromHex("00000000000000000000ffffcb007109"));
});

Deno.test("IP address: rejects malformed text", () => {
  for (
    const text of [
      "",
      "1.2.3",
      "1.2.3.4.5",
      "256.1.1.1",
      "01.2.3.4",
      "1.2.3.-4",
      ":::",
      "1::2::3",
      "1:2:3:4:5:6:7:8:9",
      "1:2:3:4:5:6:7",
      "12345::",
      "fe80::1%eth0",
      "1.2.3.4::",
      "::g",
      ":1::",
    ]
  ) {
    assertEquals(tryParseIpAddress(text), undefined, text);
  }
  assertThrows(
    () => parseIpAddress("10.0.0"),
    SyntaxError,
    'Cannot parse IP address: "10.0.0" is not an IPv4 or IPv6 address',
  );
});

Deno.test("IP address: prints RFC 5952 text", () => {
  const cases: [string, string][] = [
    ["2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1"],
    ["2001:db8:0:1:0:0:0:1", "2001:db8:0:1::1"],
    ["2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"],
    ["2001:db8:1:1:1:1:0:1", "2001:db8:1:1:1:1:0:1"],
    ["::", "::"],
    ["1::", "1::"],
    ["::ffff:198.51.100.1", "::ffff:198.51.100.1"],
    ["198.51.100.1", "198.51.100.1"],
  ];
  for (const [input, output] of cases) assertEquals(formatIpAddress(parseIpAddress(input)), output);
  assertThrows(() => formatIpAddress(new Uint8Array(5)), RangeError, "5 bytes");
});

Deno.test("IP address: prints IPv4-mapped addresses in hex groups without mixed notation", () => {
  const mapped = parseIpAddress("::ffff:198.51.100.1");
  assertEquals(formatIpAddress(mapped, { mixedNotation: false }), "::ffff:c633:6401");
  assertEquals(formatIpAddress(mapped, { mixedNotation: true }), "::ffff:198.51.100.1");
  // Only the ::ffff:0:0/96 block is printed in mixed notation.
  assertEquals(formatIpAddress(parseIpAddress("::1.2.3.4")), "::102:304");
  assertEquals(
    formatIpAddress(parseIpAddress("2001:db8::1"), { mixedNotation: false }),
    "2001:db8::1",
  );
});

Deno.test("IP address: compares as unsigned numbers, IPv4 first", () => {
  const a = parseIpAddress("10.0.0.9");
  const b = parseIpAddress("10.0.0.10");
  assertEquals(compareAddresses(a, b), -1);
  assertEquals(compareAddresses(b, a), 1);
  assertEquals(compareAddresses(a, parseIpAddress("10.0.0.9")), 0);
  assertEquals(compareAddresses(parseIpAddress("255.255.255.255"), parseIpAddress("::")), -1);
  assertEquals(compareAddresses(parseIpAddress("8000::"), parseIpAddress("7fff::ffff")), 1);
  assert(compareAddresses(parseIpAddress("::"), parseIpAddress("0.0.0.0")) > 0);
});
