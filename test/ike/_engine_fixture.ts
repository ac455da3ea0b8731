/**
 * Two IKE engines back to back over an in-memory transport, with a recording child SA
 * installer: the strongSwan-style "two SAs in one process" test bed.
 */
import type { AuthConfig, RealmConfig } from "../../lib/config/types.ts";
import { NodeCryptoProvider } from "../../lib/crypto/node_provider.ts";
import { type AuthService, LocalAuthService } from "../../lib/auth/mod.ts";
import { IkeEngine, type IkeEngineOptions, type IkeTransport } from "../../lib/ike/engine.ts";
import type { IkeSa } from "../../lib/ike/ike_sa.ts";
import {
  type LifecyclePolicy,
  type NatTraversalMode,
  type RealmPolicy,
  STATIC_LIFECYCLE,
} from "../../lib/ike/realm_policy.ts";
import { espSuitesByName, ikeSuitesByName } from "../../lib/ike/suites.ts";
import { selectorFromCidr } from "../../lib/ike/traffic_selectors.ts";
import {
  decodeMessage,
  encodeMessage,
  type NotifyPayload,
  parseIdentity,
} from "../../lib/ike/payloads/mod.ts";
import { ExchangeType, HeaderFlag, NotifyType, PayloadType } from "../../lib/ike/constants.ts";
import { exactIdRule, parseMatchRule } from "../../lib/realm/mod.ts";
import type {
  ChildSaInstaller,
  NegotiatedChildSa,
  VirtualIpInstaller,
} from "../../lib/ike/tasks/task.ts";
import type { ChildSaRecord } from "../../lib/ike/ike_sa.ts";
import type { Endpoint } from "../../lib/net/datagram.ts";

export const crypto = new NodeCryptoProvider();

export interface RealmSpec {
  id?: number;
  name?: string;
  ikeSuites?: string[];
  espSuites?: string[];
  local: string[];
  remote: string[];
  localId: string;
  peers: { id: string; address?: string; port?: number }[];
  lifecycle?: Partial<LifecyclePolicy>;
  /** `<ike nat_t>`; default `force` (ESP in UDP, as against strongSwan's kernel-libipsec). */
  natT?: NatTraversalMode;
  /** `<role>` rules beyond the listed peers. */
  roles?: { type: string; match?: string }[];
}

export function realm(spec: RealmSpec): RealmPolicy {
  return {
    id: spec.id ?? 1,
    name: spec.name ?? "test",
    ikeSuites: ikeSuitesByName(spec.ikeSuites ?? ["aes256gcm16-prfsha384-x25519"]),
    espSuites: espSuitesByName(spec.espSuites ?? ["aes256gcm16"]),
    localTs: spec.local.map(selectorFromCidr),
    remoteTs: spec.remote.map(selectorFromCidr),
    localId: spec.localId,
    peers: spec.peers.map((p) => ({
      id: p.id,
      address: p.address,
      port: p.port ?? 500,
      auto: "add",
    })),
    rules: [
      ...spec.peers.map((p) => exactIdRule(parseIdentity(p.id), p.id)),
      ...(spec.roles ?? []).map((r) => parseMatchRule(r.type, r.match)),
    ],
    natT: spec.natT ?? "force",
    replayWindow: 1024,
    lifecycle: {
      ...STATIC_LIFECYCLE,
      retransmit: { initialTimeoutMs: 200, factor: 1.5, retries: 4 },
      ...spec.lifecycle,
    },
    config: {} as RealmConfig,
  };
}

export function authConfig(
  realmId: number,
  localId: string,
  peers: Record<string, string>,
): AuthConfig {
  return {
    file: "test-auth.xml",
    realms: [{
      id: realmId,
      myAuth: { method: "psk", id: localId },
      peers: Object.entries(peers).map(([id, psk]) => ({
        id,
        auth: "psk" as const,
        psk,
        pskBytes: new TextEncoder().encode(psk),
      })),
      cas: [],
      crls: [],
    }],
  };
}

export class RecordingInstaller implements ChildSaInstaller {
  readonly installed: NegotiatedChildSa[] = [];
  readonly removed: ChildSaRecord[] = [];
  install(_sa: IkeSa, child: NegotiatedChildSa): Promise<void> {
    // Keep copies: the engine wipes key buffers after installation.
    this.installed.push({
      ...child,
      inbound: {
        encryptionKey: child.inbound.encryptionKey.slice(),
        integrityKey: child.inbound.integrityKey.slice(),
      },
      outbound: {
        encryptionKey: child.outbound.encryptionKey.slice(),
        integrityKey: child.outbound.integrityKey.slice(),
      },
    });
    return Promise.resolve();
  }
  remove(_sa: IkeSa, child: ChildSaRecord): Promise<void> {
    this.removed.push(child);
    return Promise.resolve();
  }
}

/** Delivers datagrams between engines by address; `drop` can discard chosen datagrams. */
export class Wire {
  readonly engines = new Map<string, IkeEngine>();
  drop: (bytes: Uint8Array, from: Endpoint, to: Endpoint) => boolean = () => false;
  sent = 0;
  pending = new Set<Promise<void>>();

  transport(address: string): IkeTransport {
    return {
      send: (bytes, to, localPort) => {
        this.sent++;
        const from = { address, port: localPort };
        if (this.drop(bytes, from, to)) return;
        const engine = this.engines.get(to.address);
        if (!engine) return;
        const copy = bytes.slice();
        const p = Promise.resolve().then(() => engine.handleDatagram(copy, from, to.port));
        this.pending.add(p);
        p.finally(() => this.pending.delete(p));
      },
    };
  }
}

export interface Side {
  engine: IkeEngine;
  installer: RecordingInstaller;
  address: string;
}

export function side(wire: Wire, address: string, realms: RealmPolicy[], auth: AuthConfig, opts: {
  retransmitMs?: number;
  cookieThreshold?: number;
  /** Where addresses a peer assigns us go (CFG_REPLY); default nowhere. */
  virtualIps?: VirtualIpInstaller;
  /** An AuthService with certificates (LocalAuthService.create); default PSK only. */
  authService?: AuthService;
  /** Further engine options (admission limits, a fake clock). */
  engine?: Partial<IkeEngineOptions>;
} = {}): Side {
  const installer = new RecordingInstaller();
  const engine = new IkeEngine({
    crypto,
    auth: opts.authService ?? LocalAuthService.withoutCertificates(auth, crypto),
    realms,
    childSas: installer,
    transport: wire.transport(address),
    localAddress: address,
    localAddresses: () => [address],
    retransmit: { initialTimeoutMs: opts.retransmitMs ?? 200, factor: 1.5, retries: 4 },
    halfOpenTimeoutMs: 5000,
    ...(opts.cookieThreshold === undefined ? {} : { cookieThreshold: opts.cookieThreshold }),
    ...(opts.virtualIps === undefined ? {} : { virtualIps: opts.virtualIps }),
    ...opts.engine,
  });
  wire.engines.set(address, engine);
  return { engine, installer, address };
}

/** Resolves with the first event of `type` for any SA of `engine`, or rejects after `ms`. */
export function nextEvent(
  engine: IkeEngine,
  type: "established" | "destroyed",
  ms = 5000,
): Promise<IkeSa> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`no ${type} event within ${ms} ms`));
    }, ms);
    const off = engine.on((e) => {
      if (e.type === type) {
        clearTimeout(timer);
        off();
        resolve(e.sa);
      }
    });
  });
}

/** A standard gateway pair: A (198.51.100.1, 10.1.0.0/24) and B (198.51.100.2, 10.2.0.0/24). */
export function gatewayPair(options: {
  ikeA?: string[];
  ikeB?: string[];
  espA?: string[];
  espB?: string[];
  pskA?: string;
  pskB?: string;
  localA?: string[];
  remoteA?: string[];
  localB?: string[];
  remoteB?: string[];
  retransmitMs?: number;
  lifecycleA?: Partial<LifecyclePolicy>;
  lifecycleB?: Partial<LifecyclePolicy>;
  /** `nat_t` of both realms (default `force`). */
  natT?: NatTraversalMode;
  /** Further engine options of B, the responder (admission limits, a fake clock). */
  engineB?: Partial<IkeEngineOptions>;
} = {}): { wire: Wire; a: Side; b: Side } {
  const retransmit = options.retransmitMs === undefined
    ? {}
    : { retransmit: { initialTimeoutMs: options.retransmitMs, factor: 1.5, retries: 4 } };
  const wire = new Wire();
  const psk = "a-long-enough-test-psk-0123456789";
  const a = side(
    wire,
    "198.51.100.1",
    [realm({
      ...(options.ikeA ? { ikeSuites: options.ikeA } : {}),
      ...(options.espA ? { espSuites: options.espA } : {}),
      local: options.localA ?? ["10.1.0.0/24"],
      remote: options.remoteA ?? ["10.2.0.0/24"],
      localId: "fqdn:a.example.com",
      ...(options.natT ? { natT: options.natT } : {}),
      peers: [{ id: "fqdn:b.example.com", address: "198.51.100.2" }],
      lifecycle: { ...retransmit, ...options.lifecycleA },
    })],
    authConfig(1, "fqdn:a.example.com", { "fqdn:b.example.com": options.pskA ?? psk }),
    options.retransmitMs === undefined ? {} : { retransmitMs: options.retransmitMs },
  );
  const b = side(
    wire,
    "198.51.100.2",
    [realm({
      ...(options.ikeB ? { ikeSuites: options.ikeB } : {}),
      ...(options.espB ? { espSuites: options.espB } : {}),
      local: options.localB ?? ["10.2.0.0/24"],
      remote: options.remoteB ?? ["10.1.0.0/24"],
      localId: "fqdn:b.example.com",
      ...(options.natT ? { natT: options.natT } : {}),
      peers: [{ id: "fqdn:a.example.com" }],
      lifecycle: { ...retransmit, ...options.lifecycleB },
    })],
    authConfig(1, "fqdn:b.example.com", { "fqdn:a.example.com": options.pskB ?? psk }),
    {
      ...(options.retransmitMs === undefined ? {} : { retransmitMs: options.retransmitMs }),
      ...(options.engineB === undefined ? {} : { engine: options.engineB }),
    },
  );
  return { wire, a, b };
}

/** Deletes every SA on both sides and waits for in-flight deliveries. */
export async function closeAll(...sides: Side[]): Promise<void> {
  for (const s of sides) {
    for (const sa of s.engine.list()) await s.engine.deleteSa(sa);
  }
}

/**
 * A minimal well-formed IKE_SA_INIT request (x25519 proposal, KE, nonce) with an SPI and nonce
 * derived from `n`; `cookie` goes first as a COOKIE notify (RFC 7296 §2.6).
 */
export function initRequest(n: number, cookie?: Uint8Array): Uint8Array {
  const spi = new Uint8Array(8);
  new DataView(spi.buffer).setUint32(4, n + 1);
  return encodeMessage({
    initiatorSpi: spi,
    responderSpi: new Uint8Array(8),
    majorVersion: 2,
    minorVersion: 0,
    exchangeType: ExchangeType.IkeSaInit,
    flags: HeaderFlag.Initiator,
    messageId: 0,
  }, [
    ...(cookie === undefined ? [] : [
      {
        type: PayloadType.Notify,
        protocol: 0,
        spi: new Uint8Array(0),
        notifyType: NotifyType.Cookie,
        data: cookie,
      } as const,
    ]),
    {
      type: PayloadType.SecurityAssociation,
      proposals: [{
        number: 1,
        protocol: 1,
        spi: new Uint8Array(0),
        transforms: [{ type: 1, id: 20, keyLength: 256 }, { type: 2, id: 6 }, { type: 4, id: 31 }],
      }],
    },
    { type: PayloadType.KeyExchange, dhGroup: 31, keyData: new Uint8Array(32).fill(9) },
    { type: PayloadType.Nonce, nonce: new Uint8Array(32).fill(n & 0xff) },
  ]);
}

/** The data of a lone COOKIE notify in an IKE_SA_INIT response, or undefined. */
export function cookieOf(response: Uint8Array): Uint8Array | undefined {
  const { payloads } = decodeMessage(response);
  const first = payloads[0] as NotifyPayload | undefined;
  return payloads.length === 1 && first?.type === PayloadType.Notify &&
      first.notifyType === NotifyType.Cookie
    ? first.data
    : undefined;
}
