/**
 * Stateless COOKIEs against IKE_SA_INIT floods (RFC 7296 §2.6): above a number of half-open
 * SAs the responder answers with a cookie and keeps no state until the initiator repeats its
 * request with that cookie. Cookie = version (4) | SHA-256(Ni | IPi | SPIi | secret); the
 * secret is replaced every `rotateMs`, and cookies of the previous secret stay valid.
 */
import { createHash, randomBytes } from "node:crypto";
import { bytesEqual } from "../wire/mod.ts";
import { parseIpAddress } from "./payloads/mod.ts";

const SECRET_LENGTH = 32;
export const COOKIE_LENGTH = 4 + 32;

interface Secret {
  version: number;
  bytes: Uint8Array;
  createdAt: number;
}

export class CookieJar {
  readonly #rotateMs: number;
  #current: Secret;
  #previous: Secret | undefined;

  constructor(rotateMs = 120_000) {
    this.#rotateMs = rotateMs;
    this.#current = {
      version: 1,
      bytes: new Uint8Array(randomBytes(SECRET_LENGTH)),
      createdAt: Date.now(),
    };
  }

  #rotate(): void {
    if (Date.now() - this.#current.createdAt < this.#rotateMs) return;
    this.#previous = this.#current;
    this.#current = {
      version: (this.#current.version + 1) >>> 0,
      bytes: new Uint8Array(randomBytes(SECRET_LENGTH)),
      createdAt: Date.now(),
    };
  }

  #compute(secret: Secret, nonce: Uint8Array, address: string, spiI: Uint8Array): Uint8Array {
    const hash = createHash("sha256");
    hash.update(nonce);
    hash.update(parseIpAddress(address));
    hash.update(spiI);
    hash.update(secret.bytes);
    const out = new Uint8Array(COOKIE_LENGTH);
    new DataView(out.buffer).setUint32(0, secret.version);
    out.set(hash.digest(), 4);
    return out;
  }

  /** The cookie for this initiator's request. */
  issue(nonce: Uint8Array, address: string, spiI: Uint8Array): Uint8Array {
    this.#rotate();
    return this.#compute(this.#current, nonce, address, spiI);
  }

  /** True when `cookie` was issued by us for this request (current or previous secret). */
  verify(cookie: Uint8Array, nonce: Uint8Array, address: string, spiI: Uint8Array): boolean {
    this.#rotate();
    if (cookie.length !== COOKIE_LENGTH) return false;
    const version = new DataView(cookie.buffer, cookie.byteOffset, 4).getUint32(0);
    const secret = version === this.#current.version
      ? this.#current
      : version === this.#previous?.version
      ? this.#previous
      : undefined;
    return secret !== undefined && bytesEqual(cookie, this.#compute(secret, nonce, address, spiI));
  }
}
