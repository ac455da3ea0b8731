/**
 * In-process PSK authentication (RFC 7296 §2.15) over the realm keys of auth.xml.
 */
import type { AuthConfig } from "../config/mod.ts";
import { prf } from "../crypto/mod.ts";
import type { CryptoProvider } from "../crypto/mod.ts";
import { bytesEqual } from "../wire/mod.ts";
import {
  AuthUnavailableError,
  type PskAuthRequest,
  type PskAuthService,
  type PskVerifyRequest,
} from "./service.ts";

const KEY_PAD = new TextEncoder().encode("Key Pad for IKEv2");

/** Computes PSK AUTH values with keys held in this process. */
export class LocalPskAuthService implements PskAuthService {
  readonly #auth: AuthConfig;
  readonly #crypto: CryptoProvider;

  constructor(auth: AuthConfig, crypto: CryptoProvider) {
    this.#auth = auth;
    this.#crypto = crypto;
  }

  #key(realmId: number, peerId: string): Uint8Array | undefined {
    const realm = this.#auth.realms.find((r) => r.id === realmId);
    if (!realm) return undefined;
    const peer = realm.peers.find((p) => p.id.toLowerCase() === peerId.toLowerCase());
    return peer?.pskBytes ?? realm.myAuth.pskBytes;
  }

  computePskAuth(request: PskAuthRequest): Promise<Uint8Array> {
    const key = this.#key(request.realmId, request.peerId);
    if (!key) {
      return Promise.reject(
        new AuthUnavailableError(
          `Cannot compute AUTH: realm ${request.realmId} has no shared key for ${request.peerId}`,
        ),
      );
    }
    return Promise.resolve(pskAuth(this.#crypto, request.prf, key, request.signedOctets));
  }

  async verifyPskAuth(request: PskVerifyRequest): Promise<boolean> {
    const expected = await this.computePskAuth(request);
    return bytesEqual(expected, request.auth);
  }

  hasPsk(realmId: number, peerId: string): Promise<boolean> {
    return Promise.resolve(this.#key(realmId, peerId) !== undefined);
  }
}

/** AUTH = prf(prf(Shared Secret, "Key Pad for IKEv2"), <SignedOctets>). */
export function pskAuth(
  crypto: CryptoProvider,
  hash: PskAuthRequest["prf"],
  key: Uint8Array,
  signedOctets: Uint8Array,
): Uint8Array {
  const padded = prf(crypto, hash, key, KEY_PAD);
  const out = prf(crypto, hash, padded, signedOctets);
  padded.fill(0);
  return out;
}
