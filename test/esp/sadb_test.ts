import { assert, assertEquals, assertThrows } from "../_assert.ts";
import { parsePrefix, PrefixTable, Sadb } from "../../lib/esp/mod.ts";
import { ipv4Packet, ipv6Packet, PROVIDERS, saPair } from "./_helpers.ts";

const crypto = PROVIDERS[0]!;

Deno.test("prefix table returns the longest matching prefix", () => {
  const t = new PrefixTable<string>();
  t.set(parsePrefix("0.0.0.0/0"), "default");
  t.set(parsePrefix("10.0.0.0/8"), "ten");
  t.set(parsePrefix("10.2.0.0/16"), "ten-two");
  t.set(parsePrefix("10.2.3.0/24"), "ten-two-three");
  t.set(parsePrefix("10.2.3.4/32"), "host");
  assertEquals(t.lookupAddress("10.2.3.4"), "host");
  assertEquals(t.lookupAddress("10.2.3.5"), "ten-two-three");
  assertEquals(t.lookupAddress("10.2.4.5"), "ten-two");
  assertEquals(t.lookupAddress("10.9.9.9"), "ten");
  assertEquals(t.lookupAddress("172.16.0.1"), "default");
  assertEquals(t.lookup(ipv4Packet(40, { dst: "10.2.3.9" })), "ten-two-three");
  assertEquals(t.lookup(ipv4Packet(40, { src: "10.9.0.1" }), "source"), "ten");
  assertEquals(t.size, 5);
  assert(t.delete(parsePrefix("10.2.3.0/24")));
  assert(!t.delete(parsePrefix("10.2.3.0/24")));
  assertEquals(t.lookupAddress("10.2.3.5"), "ten-two");
  assertEquals(t.size, 4);
});

Deno.test("prefix table matches IPv6 by longest prefix", () => {
  const t = new PrefixTable<string>();
  t.set(parsePrefix("fd00::/16"), "wide");
  t.set(parsePrefix("fd00:2::/32"), "narrow");
  t.set(parsePrefix("fd00:2::1/128"), "host");
  assertEquals(t.lookup(ipv6Packet(60)), "host");
  assertEquals(t.lookup(ipv6Packet(60, { dst: [0xfd00, 2, 0, 0, 0, 0, 0, 9] })), "narrow");
  assertEquals(t.lookup(ipv6Packet(60, { dst: [0xfd00, 7, 0, 0, 0, 0, 0, 9] })), "wide");
  assertEquals(t.lookup(ipv6Packet(60, { dst: [0xfe80, 0, 0, 0, 0, 0, 0, 1] })), undefined);
  assertEquals(t.lookupAddress("fd00:2::1"), "host");
  t.set(parsePrefix("fd00:2::/32"), "replaced");
  assertEquals(t.lookupAddress("fd00:2::5"), "replaced");
  assertEquals(t.size, 3);
});

Deno.test("prefix table ignores packets without a complete IP header", () => {
  const t = new PrefixTable<string>();
  t.set(parsePrefix("0.0.0.0/0"), "any");
  assertEquals(t.lookup(new Uint8Array([0x45, 0, 0])), undefined);
  assertEquals(t.lookup(new Uint8Array(0)), undefined);
});

Deno.test("sadb finds inbound SAs by SPI and outbound SAs by destination", () => {
  const sadb = new Sadb();
  const a = saPair("aes128gcm16", crypto, {}, 0x1001);
  const b = saPair("aes128gcm16", crypto, {}, 0x1002);
  sadb.installChild({
    inbound: a.inbound,
    outbound: a.outbound,
    remotePrefixes: [parsePrefix("10.2.0.0/16")],
  });
  sadb.installChild({
    inbound: b.inbound,
    outbound: b.outbound,
    remotePrefixes: [parsePrefix("10.2.5.0/24"), parsePrefix("fd00:2::/32")],
  });
  assertEquals(sadb.lookupInbound(0x1001)?.sa, a.inbound);
  assertEquals(sadb.lookupInbound(0x1002)?.sa, b.inbound);
  assertEquals(sadb.lookupInbound(0x9999), undefined);
  assertEquals(sadb.lookupOutbound(ipv4Packet(40, { dst: "10.2.5.1" })), b.outbound);
  assertEquals(sadb.lookupOutbound(ipv4Packet(40, { dst: "10.2.6.1" })), a.outbound);
  assertEquals(sadb.lookupOutbound(ipv4Packet(40, { dst: "10.3.0.1" })), undefined);
  assertEquals(sadb.lookupOutbound(ipv6Packet(60)), b.outbound);
  assertEquals(sadb.lookupOutboundAddress("10.2.5.77"), b.outbound);
  assertEquals(sadb.inboundCount, 2);
  assertEquals(sadb.outboundCount, 2);
});

Deno.test("sadb rekey is make-before-break: the newest SA wins and removal falls back", () => {
  const sadb = new Sadb();
  const remote = [parsePrefix("10.2.0.0/16")];
  const old = saPair("aes256gcm16", crypto, {}, 0x2001);
  const fresh = saPair("aes256gcm16", crypto, {}, 0x2002);
  const oldChild = { inbound: old.inbound, outbound: old.outbound, remotePrefixes: remote };
  const newChild = { inbound: fresh.inbound, outbound: fresh.outbound, remotePrefixes: remote };
  sadb.installChild(oldChild);
  const packet = ipv4Packet(40, { dst: "10.2.0.9" });
  assertEquals(sadb.lookupOutbound(packet), old.outbound);
  // Install the new inbound first: both inbound SAs accept traffic during the rekey.
  sadb.addInbound(fresh.inbound, remote);
  assert(sadb.lookupInbound(0x2001) && sadb.lookupInbound(0x2002));
  assertEquals(sadb.lookupOutbound(packet), old.outbound);
  sadb.addOutbound(fresh.outbound, remote);
  assertEquals(sadb.lookupOutbound(packet), fresh.outbound);
  sadb.removeChild(oldChild);
  assertEquals(sadb.lookupOutbound(packet), fresh.outbound);
  assertEquals(sadb.lookupInbound(0x2001), undefined);
  assert(!old.outbound.disposed, "the table never disposes SAs");
  // Removing the newest with an older one still present falls back to the older one.
  sadb.installChild(oldChild);
  assertEquals(sadb.lookupOutbound(packet), old.outbound);
  sadb.removeChild(oldChild);
  assertEquals(sadb.lookupOutbound(packet), fresh.outbound);
  sadb.removeChild(newChild);
  assertEquals(sadb.lookupOutbound(packet), undefined);
  assertEquals(sadb.inboundCount + sadb.outboundCount, 0);
});

Deno.test("sadb refuses a duplicate SPI or a wrong-direction SA", () => {
  const sadb = new Sadb();
  const a = saPair("aes128gcm16", crypto, {}, 0x3001);
  const dup = saPair("aes128gcm16", crypto, {}, 0x3001);
  sadb.addInbound(a.inbound, []);
  assertThrows(() => sadb.addInbound(dup.inbound, []), RangeError, "SPI already in use");
  assertThrows(() => sadb.addInbound(a.outbound, []), RangeError, "it is outbound");
  assertThrows(() => sadb.addOutbound(a.inbound, []), RangeError, "it is inbound");
  sadb.addOutbound(a.outbound, []);
  assertThrows(() => sadb.addOutbound(a.outbound, []), RangeError, "already installed");
  // A failed installChild leaves nothing behind.
  assertThrows(
    () => sadb.installChild({ inbound: dup.outbound, outbound: dup.outbound, remotePrefixes: [] }),
    RangeError,
  );
  assertEquals(sadb.inboundCount, 1);
});
