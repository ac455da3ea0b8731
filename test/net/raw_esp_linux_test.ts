/**
 * Raw ESP socket checks that need no root: the IPv4 header parser, the `sockaddr_in` layout,
 * argument checks and the source-address lookup over loopback. Sending and receiving IP
 * protocol 50 between namespaces is in test/netns/raw_esp_socket_test.ts.
 */
import { assertEquals, assertThrows } from "../_assert.ts";
import {
  openRawEspSocket,
  parseRawIpv4,
  RawIpv4Error,
  writeSockaddrIn,
} from "../../lib/net/raw_esp_linux.ts";
import { sourceAddressFor } from "../../lib/net/source_address_linux.ts";
import { fromHex } from "../../lib/wire/mod.ts";

const ESP = 50;

/** An IPv4 header (no checksum needed: the kernel checked it) in front of `payload`. */
function ipv4(payload: Uint8Array, options: { ihl?: number; protocol?: number } = {}): Uint8Array {
  const ihl = options.ihl ?? 5;
  const packet = new Uint8Array(ihl * 4 + payload.length);
  packet[0] = 0x40 | ihl;
  const total = packet.length;
  packet[2] = total >> 8;
  packet[3] = total & 0xff;
  packet[8] = 64;
  packet[9] = options.protocol ?? ESP;
  packet.set([198, 51, 100, 1], 12);
  packet.set([198, 51, 100, 2], 16);
  for (let i = 20; i < ihl * 4; i++) packet[i] = 1; // NOP options
  packet.set(payload, ihl * 4);
  return packet;
}

const ESP_PAYLOAD = fromHex("0000100100000001" + "aa".repeat(24));

Deno.test("parseRawIpv4 returns the header length of a 20-byte header", () => {
  const packet = ipv4(ESP_PAYLOAD);
  assertEquals(parseRawIpv4(packet, ESP), 20);
});

Deno.test("parseRawIpv4 skips IPv4 options (IHL above 5)", () => {
  const packet = ipv4(ESP_PAYLOAD, { ihl: 7 });
  assertEquals(parseRawIpv4(packet, ESP), 28);
  assertEquals(packet.subarray(28), ESP_PAYLOAD);
});

Deno.test("parseRawIpv4 accepts trailing bytes after the total length (a reused buffer)", () => {
  const buffer = new Uint8Array(200).fill(0xee);
  buffer.set(ipv4(ESP_PAYLOAD));
  assertEquals(parseRawIpv4(buffer, ESP), 20);
});

Deno.test("parseRawIpv4 refuses short, non-IPv4 and inconsistent headers", () => {
  assertEquals(parseRawIpv4(new Uint8Array(19), ESP), RawIpv4Error.TooShort);
  const v6 = ipv4(ESP_PAYLOAD);
  v6[0] = 0x65;
  assertEquals(parseRawIpv4(v6, ESP), RawIpv4Error.NotIpv4);
  const smallIhl = ipv4(ESP_PAYLOAD);
  smallIhl[0] = 0x44;
  assertEquals(parseRawIpv4(smallIhl, ESP), RawIpv4Error.BadHeaderLength);
  // IHL 15 (60 bytes) in a 40-byte packet.
  const bigIhl = ipv4(new Uint8Array(20));
  bigIhl[0] = 0x4f;
  assertEquals(parseRawIpv4(bigIhl, ESP), RawIpv4Error.TooShort);
  const truncated = ipv4(ESP_PAYLOAD);
  assertEquals(
    parseRawIpv4(truncated.subarray(0, truncated.length - 1), ESP),
    RawIpv4Error.BadTotalLength,
  );
  const totalBelowHeader = ipv4(ESP_PAYLOAD);
  totalBelowHeader[2] = 0;
  totalBelowHeader[3] = 19;
  assertEquals(parseRawIpv4(totalBelowHeader, ESP), RawIpv4Error.BadTotalLength);
});

Deno.test("parseRawIpv4 refuses another IP protocol", () => {
  assertEquals(parseRawIpv4(ipv4(ESP_PAYLOAD, { protocol: 17 }), ESP), RawIpv4Error.WrongProtocol);
});

Deno.test("writeSockaddrIn lays out AF_INET, the port in network order and the address", () => {
  const out = new Uint8Array(16).fill(0xff);
  assertEquals(writeSockaddrIn(out, "198.51.100.2", 500), true);
  assertEquals([...out], [2, 0, 0x01, 0xf4, 198, 51, 100, 2, 0, 0, 0, 0, 0, 0, 0, 0]);
  assertEquals(writeSockaddrIn(out, "2001:db8::1"), false);
  assertEquals(writeSockaddrIn(out, "gw2.example.com"), false);
});

Deno.test("openRawEspSocket refuses an IPv6 address and a bad poll timeout", () => {
  assertThrows(
    () => openRawEspSocket({ address: "2001:db8::1" }),
    RangeError,
    "Cannot open a raw ESP socket on 2001:db8::1: raw ESP is implemented for IPv4 only",
  );
  assertThrows(() => openRawEspSocket({ pollTimeoutMs: 0 }), RangeError, "poll timeout 0");
});

Deno.test("sourceAddressFor asks the kernel's routing for our address toward a peer", () => {
  assertEquals(sourceAddressFor({ address: "127.0.0.1", port: 500 }), "127.0.0.1");
  assertEquals(sourceAddressFor({ address: "127.3.4.5", port: 4500 }), "127.0.0.1");
  assertEquals(sourceAddressFor({ address: "::1", port: 500 }), "::1");
  assertEquals(sourceAddressFor({ address: "gw2.example.com", port: 500 }), undefined);
});
