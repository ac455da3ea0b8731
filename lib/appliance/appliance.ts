/**
 * The running appliance: realms with their TUN devices, the IKE sockets (500 and 4500), the
 * IKE engine and the ESP data path, wired together.
 *
 * Data flow:
 *   1. TUN (per realm) → runTunToPeer: outbound SA by destination → encrypt → UDP 4500
 *   2. UDP 4500 → RFC 3948 demux: ESP → realm by SPI → decrypt → TUN; IKE → engine
 *   3. UDP 500 → engine
 */
import { type AuthService, LocalPskAuthService } from "../auth/mod.ts";
import type { AuthConfig, RockhopperConfig } from "../config/mod.ts";
import { type CryptoProvider, selectCryptoProvider } from "../crypto/mod.ts";
import {
  classifyUdpEncap,
  espSpiOf,
  handleInboundEsp,
  runTunToPeer,
  stripNonEspMarker,
  UdpEncapKind,
} from "../esp/mod.ts";
import {
  IKE_PORT,
  IkeEngine,
  type IkeSa,
  IkeSaState,
  NAT_T_PORT,
  NON_ESP_MARKER_LENGTH,
  realmPolicies,
  type RealmPolicy,
} from "../ike/mod.ts";
import { Counters, Logger } from "../log/mod.ts";
import {
  addAddress,
  type DatagramSocket,
  type Endpoint,
  linkUp,
  openTun,
  openUdpSocket,
  type PacketDevice,
  runIp,
  setMtu,
} from "../net/mod.ts";
import { EspInstaller } from "./esp_installer.ts";
import { RealmRuntime } from "./realm_runtime.ts";

/** The tunnel MTU for `mtu="auto"`: 1500 minus IPv4, UDP, ESP header, CBC IV, pad, ICV. */
export const AUTO_TUNNEL_MTU = 1400;
const RECEIVE_BUFFER_LENGTH = 65535;
const RETRY_MIN_MS = 5_000;
const RETRY_MAX_MS = 60_000;

export interface ApplianceOptions {
  config: RockhopperConfig;
  auth: AuthConfig;
  crypto?: CryptoProvider;
  /** Overrides for tests; default 500 and 4500. */
  ikePort?: number;
  natTPort?: number;
  /** Opens a realm's packet device; default a Linux TUN configured with `ip`. */
  openDevice?: (realm: RealmPolicy) => Promise<PacketDevice>;
  /** Opens a UDP socket; default a real one. */
  openSocket?: (endpoint: Endpoint) => Promise<DatagramSocket>;
  /** Install kernel routes for negotiated selectors (default true). */
  manageRoutes?: boolean;
}

const APPLIANCE_COUNTERS = [
  "rxNatKeepalive",
  "rxEspNoRealm",
  "txIkeErrors",
  "txEspErrors",
] as const;

async function openRealmTun(realm: RealmPolicy): Promise<PacketDevice> {
  const tunnel = realm.config.tunnelInterface;
  const mtu = tunnel.mtu === "auto" ? AUTO_TUNNEL_MTU : tunnel.mtu;
  const device = openTun({ name: tunnel.name, mode: "tun", mtu });
  try {
    await setMtu(device.name, mtu);
    await addAddress(device.name, tunnel.address);
    // No IPv6 link-local address: the kernel would send router solicitations into the tunnel.
    await runIp(["link", "set", "dev", device.name, "addrgenmode", "none"]);
    await linkUp(device.name);
  } catch (e) {
    device.close();
    throw e;
  }
  return device;
}

export class Appliance {
  readonly engine: IkeEngine;
  readonly realms: ReadonlyMap<number, RealmRuntime>;
  readonly counters: Counters<typeof APPLIANCE_COUNTERS[number]> = new Counters(APPLIANCE_COUNTERS);
  readonly log: Logger = new Logger("main");
  readonly #installer: EspInstaller;
  readonly #ikeSocket: DatagramSocket;
  readonly #natTSocket: DatagramSocket;
  readonly #abort = new AbortController();
  readonly #loops: Promise<void>[] = [];
  readonly #retryTimers = new Set<ReturnType<typeof setTimeout>>();
  #stopping = false;

  private constructor(parts: {
    engine: IkeEngine;
    realms: Map<number, RealmRuntime>;
    installer: EspInstaller;
    ikeSocket: DatagramSocket;
    natTSocket: DatagramSocket;
  }) {
    this.engine = parts.engine;
    this.realms = parts.realms;
    this.#installer = parts.installer;
    this.#ikeSocket = parts.ikeSocket;
    this.#natTSocket = parts.natTSocket;
  }

  /** Opens devices and sockets, starts the loops and initiates `auto="start"` peers. */
  static async start(options: ApplianceOptions): Promise<Appliance> {
    const log = new Logger("main");
    const crypto = options.crypto ?? selectCryptoProvider();
    const policies = realmPolicies(options.config, options.auth);
    const openDevice = options.openDevice ?? openRealmTun;
    const openSocket = options.openSocket ?? ((e: Endpoint) => openUdpSocket(e));
    const address = options.config.interfaces[0]?.address ?? "0.0.0.0";
    if (options.config.interfaces.length > 1) {
      log.warn(`listening on ${address} only: several <interface> elements are not supported yet`);
    }
    const ikePort = options.ikePort ?? IKE_PORT;
    const natTPort = options.natTPort ?? NAT_T_PORT;

    const realms = new Map<number, RealmRuntime>();
    const sockets: DatagramSocket[] = [];
    try {
      for (const policy of policies) {
        const device = await openDevice(policy);
        const inner = policy.config.tunnelInterface?.address.split("/")[0];
        realms.set(policy.id, new RealmRuntime(policy, device, inner));
      }
      sockets.push(await openSocket({ address, port: ikePort }));
      sockets.push(await openSocket({ address, port: natTPort }));
    } catch (e) {
      for (const r of realms.values()) r.device.close();
      for (const s of sockets) s.close();
      throw e;
    }
    const [ikeSocket, natTSocket] = sockets as [DatagramSocket, DatagramSocket];
    const installer = new EspInstaller({
      crypto,
      realms,
      manageRoutes: options.manageRoutes ?? true,
    });
    const auth: AuthService = new LocalPskAuthService(options.auth, crypto);
    const holder: { appliance?: Appliance } = {};
    const engine = new IkeEngine({
      crypto,
      auth,
      realms: policies,
      childSas: installer,
      localAddress: address,
      ikePort,
      natTPort,
      transport: {
        send: (bytes, to, localPort) => holder.appliance!.#sendIke(bytes, to, localPort),
      },
    });
    const appliance = new Appliance({ engine, realms, installer, ikeSocket, natTSocket });
    holder.appliance = appliance;
    appliance.#startLoops();
    log.info(
      `listening for IKE on ${address}:${ikePort} and ${address}:${natTPort} (crypto: ${crypto.name})`,
    );
    for (const r of realms.values()) {
      const peers = r.policy.peers;
      const starters = peers.filter((p) => p.auto === "start");
      log.info(
        `realm ${r.policy.id} (${r.policy.name}): ${r.device.name} ${r.policy.config.tunnelInterface.address}, ${peers.length} peer(s), ${
          starters.length
            ? `initiating to ${starters.map((p) => p.id).join(", ")}`
            : "responder only"
        }`,
      );
    }
    appliance.#autoStart();
    return appliance;
  }

  /** Starts an IKE SA toward a configured peer now. */
  connect(realm: number | string, peerId?: string): IkeSa {
    return this.engine.initiate(realm, peerId);
  }

  /** Stops initiating, deletes every SA (telling peers), closes sockets and devices. */
  async stop(): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    for (const t of this.#retryTimers) clearTimeout(t);
    this.#retryTimers.clear();
    await this.engine.shutdown();
    this.#abort.abort();
    this.#ikeSocket.close();
    this.#natTSocket.close();
    for (const r of this.realms.values()) r.device.close();
    await Promise.allSettled(this.#loops);
  }

  #sendIke(bytes: Uint8Array, to: Endpoint, localPort: number): void {
    let socket = this.#ikeSocket;
    let data = bytes;
    if (localPort === this.#natTSocket.local.port) {
      socket = this.#natTSocket;
      data = new Uint8Array(NON_ESP_MARKER_LENGTH + bytes.length);
      data.set(bytes, NON_ESP_MARKER_LENGTH);
    }
    socket.send(data, to).catch((e) => {
      this.counters.add("txIkeErrors");
      this.log.debug(`Cannot send IKE to ${to.address}:${to.port}: ${(e as Error).message}`);
    });
  }

  #startLoops(): void {
    const signal = this.#abort.signal;
    this.#loops.push(this.#receiveLoop(this.#ikeSocket, (data, from) => {
      void this.engine.handleDatagram(data, from, this.#ikeSocket.local.port);
    }));
    this.#loops.push(this.#receiveLoop(this.#natTSocket, (data, from) => this.#onNatT(data, from)));
    for (const realm of this.realms.values()) {
      realm.loop = runTunToPeer(
        realm.device,
        realm.sadb,
        (datagram, remote) =>
          this.#natTSocket.send(datagram, remote).catch(() => this.counters.add("txEspErrors")),
        {
          signal,
          counters: realm.outboundCounters,
          log: new Logger("esp", realm.policy.name),
        },
      );
      this.#loops.push(realm.loop);
    }
  }

  /** RFC 3948 demux of one datagram on the NAT-T port. */
  #onNatT(data: Uint8Array, from: Endpoint): void {
    switch (classifyUdpEncap(data)) {
      case UdpEncapKind.Esp: {
        const realm = this.#installer.realmOfSpi(espSpiOf(data));
        if (!realm) {
          this.counters.add("rxEspNoRealm");
          return;
        }
        handleInboundEsp(realm.sadb, data, realm.device, realm.inbound);
        return;
      }
      case UdpEncapKind.Ike:
        void this.engine.handleDatagram(stripNonEspMarker(data), from, this.#natTSocket.local.port);
        return;
      case UdpEncapKind.Keepalive:
        this.counters.add("rxNatKeepalive");
        return;
      default:
        return;
    }
  }

  async #receiveLoop(socket: DatagramSocket, handle: (data: Uint8Array, from: Endpoint) => void) {
    const buf = new Uint8Array(RECEIVE_BUFFER_LENGTH);
    while (!socket.closed && !this.#abort.signal.aborted) {
      try {
        const { data, from } = await socket.receive(buf);
        handle(data, from);
      } catch (e) {
        if (socket.closed || this.#abort.signal.aborted) return;
        this.log.warn(`receive on port ${socket.local.port} failed: ${(e as Error).message}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  /** Initiates every `auto="start"` peer and retries, with back-off, until it is up. */
  #autoStart(): void {
    for (const realm of this.realms.values()) {
      for (const peer of realm.policy.peers) {
        if (peer.auto === "start" && peer.address) {
          this.#keepTrying(realm.policy, peer.id, RETRY_MIN_MS);
        }
      }
    }
  }

  #keepTrying(realm: RealmPolicy, peerId: string, delayMs: number): void {
    if (this.#stopping) return;
    let sa: IkeSa;
    try {
      sa = this.engine.initiate(realm.id, peerId);
    } catch (e) {
      this.log.error((e as Error).message);
      return;
    }
    const off = this.engine.on((event) => {
      if (event.sa !== sa) return;
      if (event.type === "established") {
        off();
        return;
      }
      off();
      if (this.#stopping || sa.state === IkeSaState.Established) return;
      this.log.info(`retrying ${peerId} in ${Math.round(delayMs / 1000)} s`);
      const timer = setTimeout(() => {
        this.#retryTimers.delete(timer);
        this.#keepTrying(realm, peerId, Math.min(delayMs * 2, RETRY_MAX_MS));
      }, delayMs);
      this.#retryTimers.add(timer);
    });
  }
}
