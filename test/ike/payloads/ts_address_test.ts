import { TsType } from "../../../lib/ike/constants.ts";
import {
  parseIpAddress,
  selectorContainsAddress,
  trafficSelectorFromText,
  trafficSelectorToText,
} from "../../../lib/ike/payloads/mod.ts";
import { assert, assertThrowsError, hex } from "./_helpers.ts";

Deno.test("TS text: a CIDR block becomes a full address range", () => {
  assert.deepEqual(trafficSelectorFromText("10.1.0.0/24"), {
    tsType: TsType.Ipv4AddrRange,
    ipProtocol: 0,
    startPort: 0,
    endPort: 65535,
    startAddress: hex("0a010000"),
    endAddress: hex("0a0100ff"),
  });
  const v6 = trafficSelectorFromText("2001:db8::/32");
  assert.equal(v6.tsType, TsType.Ipv6AddrRange);
  assert.deepEqual(v6.startAddress, hex("20010db8000000000000000000000000"));
  assert.deepEqual(v6.endAddress, hex("20010db8ffffffffffffffffffffffff"));
  const odd = trafficSelectorFromText("10.1.0.0/23");
  assert.deepEqual(odd.endAddress, hex("0a0101ff"));
  const all = trafficSelectorFromText("0.0.0.0/0");
  assert.deepEqual(all.endAddress, hex("ffffffff"));
});

Deno.test("TS text: masks host bits after the prefix length", () => {
  const ts = trafficSelectorFromText("10.1.0.77/24");
  assert.deepEqual(ts.startAddress, hex("0a010000"));
  assert.deepEqual(ts.endAddress, hex("0a0100ff"));
});

Deno.test("TS text: a single address and an explicit range", () => {
  const one = trafficSelectorFromText("198.51.100.7");
  assert.deepEqual(one.startAddress, hex("c6336407"));
  assert.deepEqual(one.endAddress, hex("c6336407"));
  const range = trafficSelectorFromText("10.1.0.5-10.1.0.9");
  assert.deepEqual(range.startAddress, hex("0a010005"));
  assert.deepEqual(range.endAddress, hex("0a010009"));
});

Deno.test("TS text: reads a protocol and port suffix", () => {
  const ts = trafficSelectorFromText("10.1.0.0/24[6/1024-2048]");
  assert.equal(ts.ipProtocol, 6);
  assert.equal(ts.startPort, 1024);
  assert.equal(ts.endPort, 2048);
  const udp = trafficSelectorFromText("10.1.0.0/24[17]");
  assert.deepEqual([udp.ipProtocol, udp.startPort, udp.endPort], [17, 0, 65535]);
});

Deno.test("TS text: prints what it reads", () => {
  for (
    const text of [
      "10.1.0.0/24",
      "10.1.0.0/23",
      "0.0.0.0/0",
      "198.51.100.7",
      "10.1.0.5-10.1.0.9",
      "2001:db8::/32",
      "::/0",
      "2001:db8::1",
      "2001:db8::1-2001:db8::5",
      "10.1.0.0/24[6/443]",
      "10.1.0.0/24[6/1024-2048]",
      "10.1.0.0/24[17]",
    ]
  ) {
    assert.equal(trafficSelectorToText(trafficSelectorFromText(text)), text);
  }
});

Deno.test("TS text: throws SyntaxError for bad text", () => {
  const bad: [string, string][] = [
    ["10.1.0.0/33", 'prefix length "33" is outside 0..32'],
    ["10.1.0.0/", 'prefix length "" is outside'],
    ["2001:db8::/129", "outside 0..128"],
    ["gw.example.com", "it does not start with an IP address"],
    ["10.1.0.9-10.1.0.5", "the range starts after it ends"],
    ["10.1.0.1-2001:db8::1", "a range cannot mix IPv4 and IPv6"],
    ["10.1.0.1-", "a range needs two IP addresses"],
    ["10.1.0.0/24[300]", "protocol 300 is outside 0..255"],
    ["10.1.0.0/24[6/70000]", "a port is outside 0..65535"],
  ];
  for (const [text, why] of bad) {
    const e = assertThrowsError(() => trafficSelectorFromText(text), SyntaxError, why);
    assert.ok(e.message.startsWith("Cannot parse traffic selector"), e.message);
  }
});

Deno.test("TS text: selectorContainsAddress checks the range and family", () => {
  const ts = trafficSelectorFromText("10.1.0.0/24");
  assert.ok(selectorContainsAddress(ts, parseIpAddress("10.1.0.0")));
  assert.ok(selectorContainsAddress(ts, parseIpAddress("10.1.0.255")));
  assert.ok(!selectorContainsAddress(ts, parseIpAddress("10.1.1.0")));
  assert.ok(!selectorContainsAddress(ts, parseIpAddress("10.0.255.255")));
  assert.ok(!selectorContainsAddress(ts, parseIpAddress("::ffff:10.1.0.1")));
});
