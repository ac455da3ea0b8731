import {
  compareAddresses,
  formatIpAddress,
  parseIpAddress,
  tryParseIpAddress,
} from "../../../lib/ike/payloads/mod.ts";
import { assert, assertThrowsError, hex } from "./_helpers.ts";

Deno.test("IP address: parses IPv4 and IPv6 text", () => {
  assert.deepEqual(parseIpAddress("198.51.100.1"), hex("c6336401"));
  assert.deepEqual(parseIpAddress("0.0.0.0"), new Uint8Array(4));
  assert.deepEqual(parseIpAddress("::"), new Uint8Array(16));
  assert.deepEqual(parseIpAddress("::1"), hex("00000000000000000000000000000001"));
  assert.deepEqual(parseIpAddress("2001:DB8::"), hex("20010db8000000000000000000000000"));
  assert.deepEqual(parseIpAddress("1:2:3:4:5:6:7:8"), hex("00010002000300040005000600070008"));
  assert.deepEqual(parseIpAddress("1:2:3:4:5:6:7::"), hex("00010002000300040005000600070000"));
  assert.deepEqual(parseIpAddress("::ffff:203.0.113.9"), hex("00000000000000000000ffffcb007109"));
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
    assert.equal(tryParseIpAddress(text), undefined, text);
  }
  assertThrowsError(
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
  for (const [input, output] of cases) assert.equal(formatIpAddress(parseIpAddress(input)), output);
  assertThrowsError(() => formatIpAddress(new Uint8Array(5)), RangeError, "5 bytes");
});

Deno.test("IP address: compares as unsigned numbers, IPv4 first", () => {
  const a = parseIpAddress("10.0.0.9");
  const b = parseIpAddress("10.0.0.10");
  assert.equal(compareAddresses(a, b), -1);
  assert.equal(compareAddresses(b, a), 1);
  assert.equal(compareAddresses(a, parseIpAddress("10.0.0.9")), 0);
  assert.equal(compareAddresses(parseIpAddress("255.255.255.255"), parseIpAddress("::")), -1);
  assert.equal(compareAddresses(parseIpAddress("8000::"), parseIpAddress("7fff::ffff")), 1);
});
