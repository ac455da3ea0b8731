import { assertEquals, assertThrows } from "../_assert.ts";
import {
  clearVnetHdr,
  createVnetHdr,
  decodeVnetHdr,
  encodeVnetHdr,
  VNET_HDR_LENGTH,
  VnetGsoType,
  vnetGsoTypeName,
  VnetHdrFlag,
  vnetHdrLength,
} from "../../lib/net/mod.ts";

const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");

Deno.test("encodes a virtio-net header little-endian in 10 bytes", () => {
  const bytes = new Uint8Array(12).fill(0xee);
  encodeVnetHdr({
    flags: VnetHdrFlag.NEEDS_CSUM,
    gsoType: VnetGsoType.TCPV4 | VnetGsoType.ECN,
    hdrLen: 0x0034,
    gsoSize: 0x05a8,
    csumStart: 0x0014,
    csumOffset: 0x0010,
  }, bytes);
  assertEquals(hex(bytes), "0181" + "3400" + "a805" + "1400" + "1000" + "eeee");
  assertEquals(VNET_HDR_LENGTH, 10);
  assertEquals(vnetHdrLength(), 10);
});

Deno.test("decodes into the given object and round-trips every field width", () => {
  const out = createVnetHdr();
  const value = {
    flags: VnetHdrFlag.DATA_VALID,
    gsoType: VnetGsoType.TCPV6,
    hdrLen: 0xffff,
    gsoSize: 1,
    csumStart: 0x1234,
    csumOffset: 0xfedc,
  };
  const bytes = new Uint8Array(10);
  encodeVnetHdr(value, bytes);
  const decoded = decodeVnetHdr(bytes, out);
  assertEquals(decoded === out, true, "no new object");
  assertEquals({ ...decoded }, value);
  clearVnetHdr(bytes, 0);
  assertEquals({ ...decodeVnetHdr(bytes, out) }, createVnetHdr());
});

Deno.test("rejects a buffer shorter than the header", () => {
  assertThrows(() => decodeVnetHdr(new Uint8Array(9), createVnetHdr()), RangeError, "9 bytes");
  assertThrows(() => encodeVnetHdr(createVnetHdr(), new Uint8Array(4)), RangeError, "need 10");
});

Deno.test("names GSO types and prints unknown ones", () => {
  assertEquals(vnetGsoTypeName(0), "NONE");
  assertEquals(vnetGsoTypeName(VnetGsoType.TCPV4 | VnetGsoType.ECN), "TCPV4|ECN");
  assertEquals(vnetGsoTypeName(VnetGsoType.UDP_L4), "UDP_L4");
  assertEquals(vnetGsoTypeName(9), "UNKNOWN(9)");
});
