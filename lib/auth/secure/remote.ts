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
  PskAuthRequest,
  PskVerifyRequest,
  SignatureAuthRequest,
} from "../service.ts";
import type { WebUserAuthService, WebUserGrant } from "../web_users.ts";
import type { SecureClient } from "./client.ts";

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
}

/** The web-user check, answered by the secure process (which holds the hashes). */
export class RemoteWebUserService implements WebUserAuthService {
  readonly #client: SecureClient;

  constructor(client: SecureClient) {
    this.#client = client;
  }

  async verifyWebUser(user: string, password: string): Promise<WebUserGrant | null> {
    // Longer than the protocol allows: no such user could exist.
    if (user.length > 256 || password.length > 1024) return null;
    return await this.#client.request("verifyWebUser", { user, password });
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
