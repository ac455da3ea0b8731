/**
 * The services of the main process, implemented over the IPC: the same interfaces as the
 * in-process ones (AuthService, WebUserAuthService, SysService), so the IKE engine, the web
 * server and the appliance cannot tell the difference — except that no secret is ever here.
 */
import type { RouteChange, SysService } from "../../sys_control/mod.ts";
import type {
  AuthMethodName,
  AuthService,
  CertificateVerifyRequest,
  CertificateVerifyResult,
  EapAuthRequest,
  EapRound,
  EapStartRequest,
  EapVerifyRequest,
  PskAuthRequest,
  PskVerifyRequest,
  SignatureAuthRequest,
} from "../service.ts";
import type { WebUserAuthService, WebUserGrant } from "../web_users.ts";
import { type SecureClient, SecureProcessUnavailableError } from "./client.ts";
import type { ResultOf } from "./protocol.ts";

/**
 * AuthService answered by the secure process.
 *
 * @example
 * ```ts
 * const engine = new IkeEngine({ ..., auth: new RemoteAuthService(client) });
 * ```
 */
export class RemoteAuthService implements AuthService {
  readonly #client: SecureClient;

  constructor(client: SecureClient) {
    this.#client = client;
  }

  computePskAuth(request: PskAuthRequest): Promise<Uint8Array> {
    return this.#client.request("computePskAuth", {
      realmId: request.realmId,
      peerId: request.peerId,
      prf: request.prf,
      signedOctets: request.signedOctets,
    });
  }

  verifyPskAuth(request: PskVerifyRequest): Promise<boolean> {
    return this.#client.request("verifyPskAuth", {
      realmId: request.realmId,
      peerId: request.peerId,
      prf: request.prf,
      signedOctets: request.signedOctets,
      auth: request.auth,
    });
  }

  hasPsk(realmId: number, peerId: string): Promise<boolean> {
    return this.#client.request("hasPsk", { realmId, peerId });
  }

  localMethod(realmId: number): Promise<AuthMethodName> {
    return this.#client.request("localMethod", { realmId });
  }

  async peerMethod(realmId: number, peerId: string): Promise<AuthMethodName | undefined> {
    return (await this.#client.request("peerMethod", { realmId, peerId })) ?? undefined;
  }

  localCertificates(realmId: number): Promise<Uint8Array[]> {
    return this.#client.request("localCertificates", { realmId });
  }

  async certificateRequest(realmId?: number): Promise<Uint8Array | undefined> {
    const result = await this.#client.request(
      "certificateRequest",
      realmId === undefined ? {} : { realmId },
    );
    return result ?? undefined;
  }

  signAuth(request: SignatureAuthRequest): Promise<{ method: number; data: Uint8Array }> {
    return this.#client.request("signAuth", {
      realmId: request.realmId,
      signedOctets: request.signedOctets,
      peerHashAlgorithms: request.peerHashAlgorithms === undefined
        ? null
        : [...request.peerHashAlgorithms],
    });
  }

  verifyCertificateAuth(request: CertificateVerifyRequest): Promise<CertificateVerifyResult> {
    return this.#client.request("verifyCertificateAuth", {
      realmId: request.realmId,
      peerId: request.peerId,
      idType: request.idType,
      idData: request.idData,
      certificates: [...request.certificates],
      method: request.method,
      data: request.data,
      signedOctets: request.signedOctets,
    });
  }

  async eapStart(request: EapStartRequest): Promise<EapRound> {
    return roundOf(
      await this.#client.request("eapStart", {
        realmId: request.realmId,
        role: request.role,
        peerId: request.peerId,
      }),
    );
  }

  async eapProcess(session: number, packet: Uint8Array): Promise<EapRound> {
    return roundOf(await this.#client.request("eapProcess", { session, packet }));
  }

  eapAuth(request: EapAuthRequest): Promise<Uint8Array> {
    return this.#client.request("eapAuth", {
      session: request.session,
      prf: request.prf,
      signedOctets: request.signedOctets,
    });
  }

  eapVerifyAuth(request: EapVerifyRequest): Promise<boolean> {
    return this.#client.request("eapVerifyAuth", {
      session: request.session,
      prf: request.prf,
      signedOctets: request.signedOctets,
      auth: request.auth,
    });
  }

  async eapEnd(session: number): Promise<void> {
    await this.#client.request("eapEnd", { session });
  }
}

/** An EAP round as the protocol delivers it, with absent fields left out. */
function roundOf(result: ResultOf<"eapStart">): EapRound {
  const round: EapRound = { session: result.session };
  if (result.send !== undefined) round.send = result.send;
  if (result.done !== undefined) {
    const d = result.done;
    round.done = { success: d.success, hasMsk: d.hasMsk };
    if (d.identity !== undefined) round.done.identity = d.identity;
    if (d.reason !== undefined) round.done.reason = d.reason;
  }
  return round;
}

/** How long a web-user check waits for a secure process that is down (restarting). */
export const WEB_USER_WAIT_MS = 5_000;

/**
 * The web-user check, answered by the secure process (which holds the hashes).
 *
 * Every management request is checked here, and the secure process restarts after each realm
 * change (a reload takes a few hundred ms). Unlike IKE, which must fail fast, a check made while
 * it is down waits up to {@link WEB_USER_WAIT_MS} for it to be back and is asked again; after
 * that it rejects with the {@link SecureProcessUnavailableError} (an AuthUnavailableError),
 * which the web server answers with 503 and Retry-After.
 */
export class RemoteWebUserService implements WebUserAuthService {
  readonly #client: SecureClient;
  readonly #waitMs: number;

  constructor(client: SecureClient, options: { waitMs?: number } = {}) {
    this.#client = client;
    this.#waitMs = options.waitMs ?? WEB_USER_WAIT_MS;
  }

  async verifyWebUser(user: string, password: string): Promise<WebUserGrant | null> {
    // Longer than the protocol allows: no such user could exist.
    if (user.length > 256 || password.length > 1024) return null;
    const deadline = Date.now() + this.#waitMs;
    for (;;) {
      try {
        return await this.#client.request("verifyWebUser", { user, password });
      } catch (e) {
        // Up but not answering (a timeout) or refused: waiting would not help.
        if (!(e instanceof SecureProcessUnavailableError) || this.#client.up) throw e;
        const left = deadline - Date.now();
        if (left <= 0) throw e;
        try {
          await this.#client.waitReady(left);
        } catch {
          // Not back in time, or it went down again before it was ready.
          throw e;
        }
      }
    }
  }
}

/**
 * System changes made by the secure process, which checks each against rockhopper.xml.
 * {@link reload} restarts it so that it reads a rewritten rockhopper.xml.
 */
export class RemoteSysService implements SysService {
  readonly #client: SecureClient;

  constructor(client: SecureClient) {
    this.#client = client;
  }

  async setMtu(device: string, mtu: number): Promise<void> {
    await this.#client.request("setMtu", { device, mtu });
  }

  async linkUp(device: string): Promise<void> {
    await this.#client.request("linkUp", { device });
  }

  async disableAddressGeneration(device: string): Promise<void> {
    await this.#client.request("disableAddressGeneration", { device });
  }

  async addAddress(device: string, cidr: string): Promise<void> {
    await this.#client.request("addAddress", { device, cidr });
  }

  async delAddress(device: string, cidr: string): Promise<void> {
    await this.#client.request("delAddress", { device, cidr });
  }

  async addRoute(prefix: string, change: RouteChange): Promise<void> {
    await this.#client.request("addRoute", {
      prefix,
      device: change.device,
      ...(change.src === undefined ? {} : { src: change.src }),
      ...(change.replace === undefined ? {} : { replace: change.replace }),
    });
  }

  async delRoute(prefix: string, options: { device: string }): Promise<void> {
    await this.#client.request("delRoute", { prefix, device: options.device });
  }

  async reload(): Promise<void> {
    await this.#client.restart();
  }
}
