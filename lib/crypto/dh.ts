/**
 * Diffie-Hellman for IKEv2 over `node:crypto` (IKE-only, never per packet), in the KE payload
 * encodings:
 *
 * | group | name | public value | shared secret |
 * |---|---|---|---|
 * | 14 | MODP-2048 (RFC 3526) | g^x left-padded to 256 bytes (RFC 7296 §3.4) | g^xy left-padded to 256 |
 * | 19 | ECP-256 (RFC 5903) | x ‖ y, 64 bytes, no 0x04 prefix (§7) | x coordinate, 32 bytes |
 * | 20 | ECP-384 (RFC 5903) | x ‖ y, 96 bytes | x coordinate, 48 bytes |
 * | 31 | Curve25519 (RFC 8031) | raw 32-byte u-coordinate (§3.1) | 32 bytes, all-zero rejected |
 */
import { Buffer } from "node:buffer";
import {
  createECDH,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  type ECDH,
  generateKeyPairSync,
  getDiffieHellman,
  type KeyObject,
} from "node:crypto";
import type { DhExchange } from "./provider.ts";

/** The DH groups this module implements, by IANA Transform Type 4 ID (RFC 7296 §3.3.2). */
export const DhGroupSpec = {
  14: { name: "MODP-2048", publicLength: 256, secretLength: 256 },
  19: { name: "ECP-256", publicLength: 64, secretLength: 32 },
  20: { name: "ECP-384", publicLength: 96, secretLength: 48 },
  31: { name: "Curve25519", publicLength: 32, secretLength: 32 },
} as const;

/** A group number of {@link DhGroupSpec}. */
export type SupportedDhGroup = keyof typeof DhGroupSpec;

/** True when `group` is implemented here. */
export function isSupportedDhGroup(group: number): group is SupportedDhGroup {
  return Object.hasOwn(DhGroupSpec, group);
}

/**
 * Length of the KE payload's key exchange data for `group`; throws `RangeError` if unsupported.
 *
 * @example
 * ```ts
 * dhPublicKeyLength(19); // 64
 * ```
 */
export function dhPublicKeyLength(group: number): number {
  return specOf(group).publicLength;
}

/** Options of {@link createDh}. */
export interface DhOptions {
  /**
   * A fixed private key for known-answer tests: the scalar for groups 19/20 (32/48 bytes) or
   * the X25519 scalar for group 31 (32 bytes). Not supported for group 14.
   */
  privateKey?: Uint8Array;
}

/**
 * Starts a DH exchange with a fresh private key (or `options.privateKey`). Throws `RangeError`
 * for an unsupported group or a bad fixed key.
 *
 * @example
 * ```ts
 * const mine = createDh(31);
 * const theirs = createDh(31);
 * const secret = mine.computeSecret(theirs.publicKey); // equals theirs.computeSecret(mine.publicKey)
 * ```
 */
export function createDh(group: number, options: DhOptions = {}): DhExchange {
  const spec = specOf(group);
  switch (group as SupportedDhGroup) {
    case 14:
      if (options.privateKey !== undefined) {
        throw new RangeError("Cannot create DH exchange: group 14 takes no fixed private key");
      }
      return new ModpExchange();
    case 19:
      return new EcpExchange(19, "prime256v1", spec.secretLength, options.privateKey);
    case 20:
      return new EcpExchange(20, "secp384r1", spec.secretLength, options.privateKey);
    case 31:
      return new Curve25519Exchange(options.privateKey);
  }
}

function specOf(group: number): (typeof DhGroupSpec)[SupportedDhGroup] {
  if (!isSupportedDhGroup(group)) {
    throw new RangeError(`Cannot create DH exchange: group ${group} is not supported`);
  }
  return DhGroupSpec[group];
}

function checkPeerLength(group: SupportedDhGroup, peer: Uint8Array): void {
  const expected = DhGroupSpec[group].publicLength;
  if (peer.length !== expected) {
    throw new RangeError(
      `Cannot compute DH secret: group ${group} public value is ${peer.length} bytes, expected ${expected}`,
    );
  }
}

/** A copy of `bytes` left-padded with zeros to `length` (big-endian integers). */
function leftPad(bytes: Uint8Array, length: number): Uint8Array {
  if (bytes.length > length) {
    throw new RangeError(`Cannot encode DH value: ${bytes.length} bytes exceed ${length}`);
  }
  const out = new Uint8Array(length);
  out.set(bytes, length - bytes.length);
  return out;
}

function toBigInt(bytes: Uint8Array): bigint {
  let hex = "0x0";
  for (const b of bytes) hex += b.toString(16).padStart(2, "0");
  return BigInt(hex);
}

let modp2048Prime: bigint | undefined;

/** MODP-2048: `node:crypto`'s built-in RFC 3526 group 14. */
class ModpExchange implements DhExchange {
  readonly group = 14;
  readonly publicKey: Uint8Array;
  readonly #dh = getDiffieHellman("modp14");

  constructor() {
    this.#dh.generateKeys();
    this.publicKey = leftPad(this.#dh.getPublicKey(), DhGroupSpec[14].publicLength);
    modp2048Prime ??= toBigInt(this.#dh.getPrime());
  }

  computeSecret(peerPublic: Uint8Array): Uint8Array {
    checkPeerLength(14, peerPublic);
    // RFC 7296 §5 / SP 800-56A: 1 < y < p-1, else the secret is predictable.
    const y = toBigInt(peerPublic);
    if (y <= 1n || y >= modp2048Prime! - 1n) {
      throw new RangeError("Cannot compute DH secret: group 14 public value is out of range");
    }
    const secret = this.#dh.computeSecret(Buffer.from(peerPublic));
    return leftPad(secret, DhGroupSpec[14].secretLength);
  }
}

/** ECP-256/384 (RFC 5903): KE data is x ‖ y without the SEC1 0x04 prefix. */
class EcpExchange implements DhExchange {
  readonly group: 19 | 20;
  readonly publicKey: Uint8Array;
  readonly #ecdh: ECDH;
  readonly #coordinateLength: number;

  constructor(group: 19 | 20, curve: string, coordinateLength: number, privateKey?: Uint8Array) {
    this.group = group;
    this.#coordinateLength = coordinateLength;
    this.#ecdh = createECDH(curve);
    if (privateKey === undefined) {
      this.#ecdh.generateKeys();
    } else {
      if (privateKey.length !== coordinateLength) {
        throw new RangeError(
          `Cannot create DH exchange: group ${group} private key is ${privateKey.length} bytes, expected ${coordinateLength}`,
        );
      }
      this.#ecdh.setPrivateKey(Buffer.from(privateKey));
    }
    const uncompressed = this.#ecdh.getPublicKey(); // 0x04 ‖ x ‖ y
    this.publicKey = new Uint8Array(uncompressed.subarray(1));
  }

  computeSecret(peerPublic: Uint8Array): Uint8Array {
    checkPeerLength(this.group, peerPublic);
    const point = new Uint8Array(peerPublic.length + 1);
    point[0] = 0x04;
    point.set(peerPublic, 1);
    let x: Uint8Array;
    try {
      x = this.#ecdh.computeSecret(Buffer.from(point));
    } catch {
      throw new RangeError(
        `Cannot compute DH secret: group ${this.group} public value is not a point on the curve`,
      );
    }
    return leftPad(x, this.#coordinateLength);
  }
}

/** PKCS#8 prefix of an X25519 private key (RFC 8410): SEQ { 0, AlgId 1.3.101.110, OCTET STRING { OCTET STRING(32) } }. */
const X25519_PKCS8_PREFIX = Uint8Array.of(
  0x30,
  0x2e,
  0x02,
  0x01,
  0x00,
  0x30,
  0x05,
  0x06,
  0x03,
  0x2b,
  0x65,
  0x6e,
  0x04,
  0x22,
  0x04,
  0x20,
);

/** Curve25519 (RFC 8031): raw 32-byte public values; an all-zero secret is rejected (§2). */
class Curve25519Exchange implements DhExchange {
  readonly group = 31;
  readonly publicKey: Uint8Array;
  readonly #privateKey: KeyObject;

  constructor(privateKey?: Uint8Array) {
    if (privateKey === undefined) {
      this.#privateKey = generateKeyPairSync("x25519").privateKey;
    } else {
      if (privateKey.length !== 32) {
        throw new RangeError(
          `Cannot create DH exchange: group 31 private key is ${privateKey.length} bytes, expected 32`,
        );
      }
      const der = new Uint8Array(X25519_PKCS8_PREFIX.length + 32);
      der.set(X25519_PKCS8_PREFIX);
      der.set(privateKey, X25519_PKCS8_PREFIX.length);
      this.#privateKey = createPrivateKey({ key: Buffer.from(der), format: "der", type: "pkcs8" });
    }
    const jwk = createPublicKey(this.#privateKey).export({ format: "jwk" });
    if (typeof jwk.x !== "string") {
      throw new RangeError("Cannot create DH exchange: X25519 public key has no JWK x value");
    }
    this.publicKey = new Uint8Array(Buffer.from(jwk.x, "base64url"));
  }

  computeSecret(peerPublic: Uint8Array): Uint8Array {
    checkPeerLength(31, peerPublic);
    let secret: Uint8Array;
    try {
      const publicKey = createPublicKey({
        key: { kty: "OKP", crv: "X25519", x: Buffer.from(peerPublic).toString("base64url") },
        format: "jwk",
      });
      secret = diffieHellman({ privateKey: this.#privateKey, publicKey });
    } catch {
      // OpenSSL (under node:crypto) refuses a derivation whose output would be all zero, i.e.
      // a low-order peer point; the explicit check below covers providers that do not.
      throw new RangeError(
        "Cannot compute DH secret: group 31 public value is a low-order point (all-zero secret)",
      );
    }
    let any = 0;
    for (const b of secret) any |= b;
    if (any === 0) {
      throw new RangeError(
        "Cannot compute DH secret: group 31 public value is a low-order point (all-zero secret)",
      );
    }
    return new Uint8Array(secret);
  }
}
