/** Shared fixtures for the ESP tests: providers, SA pairs per suite, IPv4/IPv6 packets. */
import { randomFillSync } from "node:crypto";
import type { CryptoProvider } from "../../lib/crypto/mod.ts";
import { LibcryptoProvider, NodeCryptoProvider } from "../../lib/crypto/mod.ts";
import { ESP_SUITES } from "../../lib/ike/suites.ts";
import { EspSa, espSuiteTransforms } from "../../lib/esp/mod.ts";
import type { EspSaParams } from "../../lib/esp/mod.ts";

/** Both providers: libcrypto (FFI) and node:crypto. */
export const PROVIDERS: readonly CryptoProvider[] = [
  new LibcryptoProvider(),
  new NodeCryptoProvider(),
];

/** The four built-in ESP suites. */
export const SUITE_NAMES = ["aes128gcm16", "aes256gcm16", "aes256-sha256", "aes128-sha256"];

export function randomBytes(n: number): Uint8Array {
  const b = new Uint8Array(n);
  randomFillSync(b);
  return b;
}

export interface SaPair {
  outbound: EspSa;
  inbound: EspSa;
  encryptionKey: Uint8Array;
  integrityKey: Uint8Array | undefined;
}

/** An outbound SA and the matching inbound SA (same SPI and keys), as the two peers hold. */
export function saPair(
  suiteName: string,
  crypto: CryptoProvider,
  extra: Partial<EspSaParams> = {},
  spi = 0xc0ffee01,
): SaPair {
  const suite = ESP_SUITES.get(suiteName)!;
  const t = espSuiteTransforms(suite);
  const encryptionKey = randomBytes(t.encryptionKeyLength);
  const integrityKey = t.integrityKeyLength > 0 ? randomBytes(t.integrityKeyLength) : undefined;
  const base: EspSaParams = {
    spi,
    direction: "out",
    encryption: t.encryption,
    encryptionKey,
    integrity: t.integrity,
    encapsulation: null,
    peerAddress: "198.51.100.2",
    crypto,
    ...(integrityKey ? { integrityKey } : {}),
    ...extra,
  };
  return {
    outbound: new EspSa({ ...base, direction: "out" }),
    inbound: new EspSa({ ...base, direction: "in" }),
    encryptionKey,
    integrityKey,
  };
}

function ipv4ToBytes(a: string): number[] {
  return a.split(".").map(Number);
}

/** A well-formed-enough IPv4 packet of `length` bytes (≥ 20) with a recognisable payload. */
export function ipv4Packet(
  length: number,
  options: { src?: string; dst?: string; id?: number } = {},
): Uint8Array {
  const p = new Uint8Array(length);
  p[0] = 0x45;
  p[2] = length >> 8;
  p[3] = length & 0xff;
  const id = options.id ?? 0;
  p[4] = (id >> 8) & 0xff;
  p[5] = id & 0xff;
  p[8] = 64;
  p[9] = 17;
  p.set(ipv4ToBytes(options.src ?? "10.1.0.1"), 12);
  p.set(ipv4ToBytes(options.dst ?? "10.2.0.1"), 16);
  for (let i = 20; i < length; i++) p[i] = (i * 7 + id) & 0xff;
  if (length >= 24) {
    // Sequence number in the payload so order can be checked.
    new DataView(p.buffer).setUint32(20, id);
  }
  return p;
}

/** An IPv6 packet of `length` bytes (≥ 40) between two addresses given as 8 groups. */
export function ipv6Packet(
  length: number,
  options: { src?: number[]; dst?: number[] } = {},
): Uint8Array {
  const p = new Uint8Array(length);
  const view = new DataView(p.buffer);
  p[0] = 0x60;
  view.setUint16(4, length - 40);
  p[6] = 17;
  p[7] = 64;
  const src = options.src ?? [0xfd00, 1, 0, 0, 0, 0, 0, 1];
  const dst = options.dst ?? [0xfd00, 2, 0, 0, 0, 0, 0, 1];
  src.forEach((g, i) => view.setUint16(8 + 2 * i, g));
  dst.forEach((g, i) => view.setUint16(24 + 2 * i, g));
  for (let i = 40; i < length; i++) p[i] = i & 0xff;
  return p;
}
