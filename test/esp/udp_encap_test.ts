import { assertEquals } from "../_assert.ts";
import {
  addNonEspMarker,
  buildNatKeepalive,
  classifyUdpEncap,
  espSpiOf,
  stripNonEspMarker,
  UdpEncapKind,
} from "../../lib/esp/mod.ts";
import { toHex } from "../../lib/wire/mod.ts";

Deno.test("classifies port-4500 datagrams as IKE, ESP, keepalive or invalid", () => {
  const ike = addNonEspMarker(new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]));
  assertEquals(toHex(ike.subarray(0, 4)), "00000000");
  assertEquals(classifyUdpEncap(ike), UdpEncapKind.Ike);
  assertEquals(toHex(stripNonEspMarker(ike)), "0102030405060708");
  assertEquals(classifyUdpEncap(buildNatKeepalive()), UdpEncapKind.Keepalive);
  assertEquals(toHex(buildNatKeepalive()), "ff");
  const esp = new Uint8Array([0xc0, 0xff, 0xee, 0x01, 0, 0, 0, 1, 9, 9]);
  assertEquals(classifyUdpEncap(esp), UdpEncapKind.Esp);
  assertEquals(espSpiOf(esp), 0xc0ffee01);
  assertEquals(classifyUdpEncap(new Uint8Array([0x00])), UdpEncapKind.Invalid);
  assertEquals(classifyUdpEncap(new Uint8Array([0xff, 0xff])), UdpEncapKind.Invalid);
  assertEquals(classifyUdpEncap(new Uint8Array(0)), UdpEncapKind.Invalid);
  assertEquals(classifyUdpEncap(new Uint8Array(4)), UdpEncapKind.Invalid, "marker only");
  assertEquals(classifyUdpEncap(new Uint8Array([1, 2, 3, 4, 5])), UdpEncapKind.Invalid);
});
