/**
 * The in-process AuthService: PSKs and, for realms with certificates, the trust store and our
 * signing key, loaded from the files auth.xml names. (It moves into the secure process with
 * the secure-process work; nothing here is handed out except AUTH values and verdicts.)
 */
import type { AuthConfig, RealmAuthConfig } from "../config/mod.ts";
import type { CryptoProvider } from "../crypto/mod.ts";
import { Logger } from "../log/mod.ts";
import { LocalPskAuthService } from "./psk.ts";
import { EapSessions } from "./eap_sessions.ts";
import type {
  AuthMethodName,
  AuthService,
  CertificateVerifyRequest,
  CertificateVerifyResult,
  EapAuthRequest,
  EapRound,
  EapStartRequest,
  EapVerifyRequest,
  SignatureAuthRequest,
} from "./service.ts";
import { AuthUnavailableError } from "./service.ts";
import * as x509 from "./x509/mod.ts";
import { parseIdentity } from "../ike/payloads/mod.ts";
import { parseMatchRule, selectRealm } from "../realm/mod.ts";

interface RealmCredentials {
  config: RealmAuthConfig;
  store: x509.TrustStore | undefined;
  key: x509.SigningKey | undefined;
  /** CERT bodies: ours, then the chain. */
  certificates: Uint8Array[];
}

/** A configuration problem with a certificate or key file, found at start. */
export class CredentialError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CredentialError";
  }
}

const log = new Logger("auth");

export class LocalAuthService extends LocalPskAuthService implements AuthService {
  readonly #realms: Map<number, RealmCredentials>;
  readonly #log = new Logger("auth");
  readonly #eap: EapSessions;

  private constructor(
    auth: AuthConfig,
    crypto: CryptoProvider,
    realms: Map<number, RealmCredentials>,
  ) {
    super(auth, crypto);
    this.#realms = realms;
    this.#eap = new EapSessions({
      auth,
      crypto,
      peerMethod: (realmId, peerId) => this.peerMethod(realmId, peerId),
    });
  }

  /**
   * Loads every realm's certificates, keys and CAs. Throws {@link CredentialError} naming the
   * realm and file when one cannot be read, or when our certificate does not carry our ID.
   */
  static async create(auth: AuthConfig, crypto: CryptoProvider): Promise<LocalAuthService> {
    const realms = new Map<number, RealmCredentials>();
    for (const realm of auth.realms) {
      const where = `${auth.file}: realm ${realm.id}`;
      let store: x509.TrustStore | undefined;
      if (realm.cas.length > 0) {
        try {
          store = await x509.TrustStore.load({ caFiles: realm.cas, crlFiles: realm.crls });
        } catch (e) {
          throw new CredentialError(`${where}: cannot load CA/CRL files: ${(e as Error).message}`);
        }
      }
      let key: x509.SigningKey | undefined;
      const certificates: Uint8Array[] = [];
      const my = realm.myAuth;
      if (my.method === "cert") {
        let own: x509.Certificate;
        try {
          own = x509.parseCertificates(await Deno.readFile(my.cert!))[0]!;
          key = await x509.SigningKey.load(my.key!);
          for (const file of my.chain ?? []) {
            for (const c of x509.parseCertificates(await Deno.readFile(file))) {
              certificates.push(x509.encodeCertBody(c));
            }
          }
        } catch (e) {
          throw new CredentialError(
            `${where}: cannot load <my_auth> files: ${(e as Error).message}`,
          );
        }
        const id = parseIdentity(my.id);
        if (!x509.certificateMatchesIdentity(own, id)) {
          throw new CredentialError(
            `${where}: <my_auth id="${my.id}"> is not in certificate ${my.cert} (subject ${own.subject})`,
          );
        }
        if (!own.isValidAt(new Date())) {
          log.warn(
            `${where}: our certificate ${my.cert} (${own.subject}) is not valid now ` +
              `(${own.notBefore.toISOString()} to ${own.notAfter.toISOString()}): peers will refuse it`,
          );
        }
        certificates.unshift(x509.encodeCertBody(own));
      }
      realms.set(realm.id, { config: realm, store, key, certificates });
    }
    return new LocalAuthService(auth, crypto, realms);
  }

  /**
   * A service for configurations without certificate files (PSK only), built synchronously.
   * Throws {@link CredentialError} if a realm names certificate or CA files.
   */
  static withoutCertificates(auth: AuthConfig, crypto: CryptoProvider): LocalAuthService {
    const realms = new Map<number, RealmCredentials>();
    for (const realm of auth.realms) {
      if (realm.myAuth.method === "cert" || realm.cas.length > 0) {
        throw new CredentialError(
          `${auth.file}: realm ${realm.id} uses certificates: load it with LocalAuthService.create`,
        );
      }
      realms.set(realm.id, { config: realm, store: undefined, key: undefined, certificates: [] });
    }
    return new LocalAuthService(auth, crypto, realms);
  }

  localMethod(realmId: number): Promise<AuthMethodName> {
    return Promise.resolve(this.#realms.get(realmId)?.config.myAuth.method ?? "psk");
  }

  peerMethod(realmId: number, peerId: string): Promise<AuthMethodName | undefined> {
    const realm = this.#realms.get(realmId)?.config;
    const peer = realm?.peers.find((p) => p.id.toLowerCase() === peerId.toLowerCase());
    if (peer) return Promise.resolve(peer.auth);
    // Not listed: the most specific <role> that admits it decides.
    const roles = (realm?.roles ?? []).map((role) => ({
      id: 0,
      name: role.auth,
      rules: [parseMatchRule(role.type, role.match)],
      auth: role.auth,
    }));
    let identity;
    try {
      identity = parseIdentity(peerId);
    } catch {
      return Promise.resolve(undefined);
    }
    // An EAP client usually proves the value of its IDi as EAP identity: `eap` roles see it.
    const eapIdentity = peerId.slice(peerId.indexOf(":") + 1);
    const chosen = selectRealm(roles, { identity, eapIdentity })?.realm.auth;
    return Promise.resolve(chosen ?? (realm?.myAuth.pskBytes ? "psk" : undefined));
  }

  localCertificates(realmId: number): Promise<Uint8Array[]> {
    return Promise.resolve(this.#realms.get(realmId)?.certificates ?? []);
  }

  certificateRequest(realmId?: number): Promise<Uint8Array | undefined> {
    const stores = realmId === undefined
      ? [...this.#realms.values()].map((r) => r.store)
      : [this.#realms.get(realmId)?.store];
    const hashes = stores.flatMap((s) => s?.authorityHashes() ?? []);
    const unique = hashes.filter((h, i) =>
      hashes.findIndex((o) => o.every((b, j) => b === h[j])) === i
    );
    return Promise.resolve(unique.length > 0 ? x509.encodeCertReqBody(unique) : undefined);
  }

  signAuth(request: SignatureAuthRequest): Promise<{ method: number; data: Uint8Array }> {
    const key = this.#realms.get(request.realmId)?.key;
    if (!key) {
      return Promise.reject(
        new AuthUnavailableError(`Cannot sign AUTH: realm ${request.realmId} has no private key`),
      );
    }
    const signature = x509.signAuth(key, request.signedOctets, {
      peerHashAlgorithms: request.peerHashAlgorithms,
    });
    return Promise.resolve({ method: signature.authMethod, data: signature.authData });
  }

  async verifyCertificateAuth(request: CertificateVerifyRequest): Promise<CertificateVerifyResult> {
    const realm = this.#realms.get(request.realmId);
    if (!realm?.store) {
      return {
        ok: false,
        reason: `realm ${request.realmId} has no <ca> to check certificates with`,
      };
    }
    if (request.certificates.length === 0) {
      return { ok: false, reason: `${request.peerId} sent no certificate (CERT payload)` };
    }
    let endEntity: x509.Certificate;
    const intermediates: x509.Certificate[] = [];
    try {
      endEntity = x509.certificateFromCertBody(request.certificates[0]!);
      for (const body of request.certificates.slice(1)) {
        intermediates.push(x509.certificateFromCertBody(body));
      }
    } catch (e) {
      return {
        ok: false,
        reason: `unreadable certificate from ${request.peerId}: ${(e as Error).message}`,
      };
    }
    try {
      await x509.validateChain(endEntity, intermediates, realm.store);
    } catch (e) {
      return { ok: false, reason: (e as Error).message };
    }
    if (
      !x509.certificateMatchesIdentity(endEntity, { idType: request.idType, data: request.idData })
    ) {
      return {
        ok: false,
        reason: `identity ${request.peerId} is not in certificate ${endEntity.subject}`,
      };
    }
    try {
      const { valid, scheme } = x509.verifyAuthSignature(endEntity, {
        authMethod: request.method,
        authData: request.data,
        signedOctets: request.signedOctets,
      });
      if (!valid) {
        return {
          ok: false,
          reason: `AUTH signature (${scheme.name}) of ${endEntity.subject} does not verify`,
        };
      }
    } catch (e) {
      return { ok: false, reason: (e as Error).message };
    }
    this.#log.debug(`certificate of ${request.peerId} verified: ${endEntity.subject}`);
    return { ok: true, subject: endEntity.subject };
  }

  eapStart(request: EapStartRequest): Promise<EapRound> {
    return this.#eap.start(request);
  }

  eapProcess(session: number, packet: Uint8Array): Promise<EapRound> {
    return this.#eap.process(session, packet);
  }

  eapAuth(request: EapAuthRequest): Promise<Uint8Array> {
    return this.#eap.auth(request);
  }

  eapVerifyAuth(request: EapVerifyRequest): Promise<boolean> {
    return this.#eap.verifyAuth(request);
  }

  eapEnd(session: number): Promise<void> {
    return this.#eap.end(session);
  }
}
