/**
 * The running appliance: realms with their TUN devices, the IKE sockets (500 and 4500), the
 * raw ESP socket (IP protocol 50), the IKE engine and the ESP data path, wired together.
 *
 * Data flow:
 *   1. TUN (per realm) → runTunToPeer: outbound SA by destination → encrypt → UDP 4500
 *      (encapsulated SA) or the raw ESP socket (SA without encapsulation: remote port 0)
 *   2. UDP 4500 → RFC 3948 demux: ESP → realm by SPI → decrypt → TUN; IKE → engine
 *   3. raw ESP → IPv4 header stripped → realm by SPI → decrypt → TUN
 *   4. UDP 500 → engine
 *
 * With `<data_plane workers="N">` (lib/dispatch) steps 1–3 run in N worker threads instead: the
 * appliance opens N queues of each realm's TUN, N NAT-T sockets in a SO_REUSEPORT group and N raw
 * ESP sockets, and mirrors every child SA into the workers (EspInstaller's mirror); IKE on the
 * NAT-T port reaches the engine through worker 0.
 *
 * Every IKE datagram (steps 2 and 4, and worker 0's) waits for the engine in the IKE scheduler
 * (lib/dispatch/ike_queue.ts): datagrams of known IKE SAs before new IKE_SA_INIT requests, so
 * that a flood of the latter cannot delay liveness checks, rekeys or IKE_AUTH.
 *
 * The raw ESP socket is opened when some realm may run ESP without UDP (`nat_t` "auto" or
 * "no"); when it cannot be (no CAP_NET_RAW, an IPv6 listening address), "auto" realms act as
 * "force" and a "no" realm stops the start.
 */
import { type AuthService, LocalAuthService } from "../auth/mod.ts";
import type { AuthConfig, RockhopperConfig } from "../config/mod.ts";
import { type CryptoProvider, selectCryptoProvider } from "../crypto/mod.ts";
import {
  buildNatKeepalive,
  classifyUdpEncap,
  ESP_HEADER_LENGTH,
  type EspSender,
  espSpiOf,
  handleInboundEsp,
  InboundResult,
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
  type DatagramSocket,
  type Endpoint,
  openRawEspSocket,
  openTun,
  openUdpSocket,
  type PacketDevice,
  type RawEspSocket,
  sourceAddressFor,
  type TunDevice,
} from "../net/mod.ts";
import { IpSysService, type SysService } from "../sys_control/mod.ts";
import { DataPlanePool, IKE_QUEUE_COUNTERS, IkeScheduler } from "../dispatch/mod.ts";
import { EspInstaller } from "./esp_installer.ts";
import { VirtualIpManager } from "./virtual_ips.ts";
import { RealmRuntime } from "./realm_runtime.ts";
import { autoTunnelMtu } from "./tunnel_mtu.ts";

const RECEIVE_BUFFER_LENGTH = 65535;
/** First retry of a failed `auto="start"` attempt; the engine doubles it up to 60 s. */
const RETRY_MIN_MS = 5_000;
/** Raw ESP packets handled back to back before the receive loop lets timers and I/O run. */
const RAW_ESP_YIELD_EVERY = 1024;

export interface ApplianceOptions {
  config: RockhopperConfig;
  auth: AuthConfig;
  crypto?: CryptoProvider;
  /** Overrides for tests; default 500 and 4500. */
  ikePort?: number;
  natTPort?: number;
  /** Opens a realm's packet device; default a Linux TUN configured through {@link sys}. */
  openDevice?: (realm: RealmPolicy) => Promise<PacketDevice>;
  /**
   * Authentication results; default a LocalAuthService over `auth` in this process. The
   * appliance passes the secure process's RemoteAuthService (lib/auth/secure).
   */
  authService?: AuthService;
  /**
   * Addresses, MTU, link state and routes; default `ip` in this process (IpSysService). The
   * appliance passes the secure process's RemoteSysService, which checks each change.
   */
  sys?: SysService;
  /** Opens a UDP socket; default a real one. */
  openSocket?: (endpoint: Endpoint) => Promise<DatagramSocket>;
  /**
   * Opens the raw ESP socket on the listening address (throws when it cannot); default a real
   * one ({@link openRawEspSocket}), needing CAP_NET_RAW.
   */
  openRawEsp?: (address: string) => RawEspSocket;
  /**
   * Our source address toward a peer, asked before initiating when listening on a wildcard
   * address (honest NAT detection); default a route lookup ({@link sourceAddressFor}).
   */
  sourceAddressFor?: (remote: Endpoint) => string | undefined;
  /**
   * Install kernel routes for negotiated selectors, and inner addresses a responder assigns
   * us on the realm's device (default true).
   */
  manageRoutes?: boolean;
  /**
   * Interval of NAT keepalives (RFC 3948 §2.3) on established UDP-encapsulated IKE SAs whose
   * local side is behind a NAT; default the root `<ike nat_keepalive>` (20 s), 0 = none.
   */
  natKeepaliveMs?: number;
}

/** Default interval of NAT keepalives (RFC 3948 §2.3). */
export const NAT_KEEPALIVE_MS = 20_000;

const APPLIANCE_COUNTERS = [
  "rxNatKeepalive",
  "txNatKeepalive",
  /** Authenticated ESP from a new NAT mapping moved a child's outbound SA. */
  "espRemoteChanged",
  "rxEspNoRealm",
  "txIkeErrors",
  "txEspErrors",
  /** Raw ESP packets too short for an ESP header. */
  "rxRawEspMalformed",
  /** ESP for an SA without UDP encapsulation while no raw ESP socket is open. */
  "txEspNoRawSocket",
  ...IKE_QUEUE_COUNTERS,
] as const;

async function openRealmTun(
  realm: RealmPolicy,
  sys: SysService,
  listenAddress: string,
): Promise<PacketDevice> {
  return (await openRealmQueues(realm, sys, listenAddress, 0, false))[0]!;
}

/** The realm's tunnel MTU: as configured, or {@link autoTunnelMtu} for its suites and path. */
function realmTunnelMtu(realm: RealmPolicy, listenAddress: string): number {
  const mtu = realm.config.tunnelInterface.mtu;
  if (mtu !== "auto") return mtu;
  return autoTunnelMtu(realm.espSuites, {
    ipv6: listenAddress.includes(":"),
    udp: realm.natT !== "no",
  });
}

/**
 * Opens a realm's TUN device and configures it; with `queues` > 0 as that many queues of a
 * multi-queue device (one per data-plane worker), else as a plain device; `offload` opens them
 * with IFF_VNET_HDR and TSO (workers only).
 */
async function openRealmQueues(
  realm: RealmPolicy,
  sys: SysService,
  listenAddress: string,
  queues: number,
  offload: boolean,
): Promise<PacketDevice[]> {
  const tunnel = realm.config.tunnelInterface;
  const mtu = realmTunnelMtu(realm, listenAddress);
  const multiQueue = queues > 0;
  const device = openTun({ name: tunnel.name, mode: "tun", mtu, multiQueue, offload });
  const devices: PacketDevice[] = [device];
  try {
    for (let i = 1; i < queues; i++) {
      devices.push(openTun({ name: device.name, mode: "tun", mtu, multiQueue, offload }));
    }
    await sys.setMtu(device.name, mtu);
    await sys.addAddress(device.name, tunnel.address);
    // No IPv6 link-local address: the kernel would send router solicitations into the tunnel.
    await sys.disableAddressGeneration(device.name);
    await sys.linkUp(device.name);
  } catch (e) {
    for (const d of devices) d.close();
    throw e;
  }
  return devices;
}

/** The descriptor of a TUN queue the appliance opened (a {@link TunDevice}). */
function queueFd(device: PacketDevice): number {
  return (device as TunDevice).fd;
}

export class Appliance {
  readonly engine: IkeEngine;
  readonly realms: ReadonlyMap<number, RealmRuntime>;
  readonly counters: Counters<typeof APPLIANCE_COUNTERS[number]> = new Counters(APPLIANCE_COUNTERS);
  readonly log: Logger = new Logger("main");
  readonly #installer: EspInstaller;
  readonly #ikeSocket: DatagramSocket;
  readonly #natTSocket: DatagramSocket;
  /** IP protocol 50; null when no realm needs it or it could not be opened. */
  readonly #rawEspSocket: RawEspSocket | null;
  /** The data-plane workers; null when ESP runs on the main thread. */
  readonly #pool: DataPlanePool | null;
  /** Where every IKE datagram and worker event waits for the engine, by priority. */
  readonly #ikeScheduler: IkeScheduler;
  /** Realm TUN devices of the workers are opened with offloads (`<data_plane offload>`). */
  #offload = false;
  /** Where the outbound data path of every realm sends ESP. */
  readonly #sendEsp: EspSender = (datagram, remote) => this.#sendEspPacket(datagram, remote);
  readonly #abort = new AbortController();
  readonly #loops: Promise<void>[] = [];
  #stopping = false;
  #natKeepaliveMs = NAT_KEEPALIVE_MS;
  #keepaliveTimer: ReturnType<typeof setInterval> | undefined;
  /** How realms opened at run time get their device (see {@link openRealm}). */
  #openDevice: (realm: RealmPolicy) => Promise<PacketDevice> = (realm) =>
    openRealmTun(realm, new IpSysService(), this.#listenAddress);
  /** The address the IKE and ESP sockets listen on (its family sizes `mtu="auto"`). */
  #listenAddress = "0.0.0.0";
  /** Where system changes go (see {@link ApplianceOptions.sys}). */
  #sys: SysService = new IpSysService();

  private constructor(parts: {
    engine: IkeEngine;
    realms: Map<number, RealmRuntime>;
    installer: EspInstaller;
    ikeSocket: DatagramSocket;
    natTSocket: DatagramSocket;
    rawEspSocket: RawEspSocket | null;
    pool: DataPlanePool | null;
  }) {
    this.engine = parts.engine;
    this.realms = parts.realms;
    this.#installer = parts.installer;
    this.#ikeSocket = parts.ikeSocket;
    this.#natTSocket = parts.natTSocket;
    this.#rawEspSocket = parts.rawEspSocket;
    this.#pool = parts.pool;
    this.#ikeScheduler = new IkeScheduler(
      (data, from, localPort) => this.engine.handleDatagram(data, from, localPort),
      { counters: this.counters },
    );
  }

  /**
   * Whether ESP can run raw (IP protocol 50). Pass it to `realmPolicies` (`rawEsp`) for realm
   * policies made at run time, so that "auto" acts as "force" when it is false.
   */
  get rawEspAvailable(): boolean {
    if (this.#pool) return this.#pool.rawEsp;
    return this.#rawEspSocket !== null && !this.#rawEspSocket.closed;
  }

  /** Number of data-plane workers; 0 when the ESP data path runs on the main thread. */
  get dataPlaneWorkers(): number {
    return this.#pool?.workers ?? 0;
  }

  /** Counters of the data-plane workers (status output); undefined without workers. */
  dataPlaneStatistics(): Record<string, number> | undefined {
    return this.#pool?.statistics();
  }

  /** Counters of the raw ESP socket, if open (status output). */
  get rawEspCounters(): RawEspSocket["counters"] | undefined {
    return this.#rawEspSocket?.counters;
  }

  /** Opens devices and sockets, starts the loops and initiates `auto="start"` peers. */
  static async start(options: ApplianceOptions): Promise<Appliance> {
    const log = new Logger("main");
    const crypto = options.crypto ?? selectCryptoProvider();
    const sys = options.sys ?? new IpSysService();
    const openSocket = options.openSocket ?? ((e: Endpoint) => openUdpSocket(e));
    const address = options.config.interfaces[0]?.address ?? "0.0.0.0";
    const openDevice = options.openDevice ??
      ((realm: RealmPolicy) => openRealmTun(realm, sys, address));
    if (options.config.interfaces.length > 1) {
      log.warn(`listening on ${address} only: several <interface> elements are not supported yet`);
    }
    const ikePort = options.ikePort ?? IKE_PORT;
    const natTPort = options.natTPort ?? NAT_T_PORT;
    const holder: { appliance?: Appliance } = {};
    const pool = Appliance.#openPoolIfWanted(options, address, natTPort, crypto, log, holder);
    const dataPlaneOffload = options.config.dataPlane?.offload ?? false;
    const rawEspSocket = pool ? null : Appliance.#openRawEspIfUseful(options, address, log);
    let policies: RealmPolicy[];
    try {
      policies = realmPolicies(options.config, options.auth, {
        rawEsp: pool ? pool.rawEsp : rawEspSocket !== null,
      });
    } catch (e) {
      rawEspSocket?.close();
      await pool?.stop();
      throw e;
    }

    const realms = new Map<number, RealmRuntime>();
    const sockets: DatagramSocket[] = [];
    try {
      for (const policy of policies) {
        const inner = policy.config.tunnelInterface?.address.split("/")[0];
        if (pool) {
          realms.set(
            policy.id,
            await Appliance.#openPooledRealm(policy, sys, pool, inner, dataPlaneOffload, address),
          );
          continue;
        }
        const device = await openDevice(policy);
        realms.set(policy.id, new RealmRuntime(policy, device, inner));
      }
      sockets.push(await openSocket({ address, port: ikePort }));
      sockets.push(pool ? pool.natTSocket : await openSocket({ address, port: natTPort }));
    } catch (e) {
      for (const r of realms.values()) Appliance.#closeDevices(r);
      for (const s of sockets) s.close();
      rawEspSocket?.close();
      await pool?.stop();
      throw e;
    }
    const [ikeSocket, natTSocket] = sockets as [DatagramSocket, DatagramSocket];
    const installer = new EspInstaller({
      crypto,
      realms,
      manageRoutes: options.manageRoutes ?? true,
      sys,
      ...(pool ? { mirror: pool } : {}),
    });
    const auth: AuthService = options.authService ??
      await LocalAuthService.create(options.auth, crypto);
    const globalIke = options.config.ike;
    const engine = new IkeEngine({
      crypto,
      auth,
      realms: policies,
      childSas: installer,
      virtualIps: new VirtualIpManager({
        realms,
        manageAddresses: options.manageRoutes ?? true,
        sys,
      }),
      localAddress: address,
      ...(address === "0.0.0.0" || address === "::"
        ? { localAddressFor: options.sourceAddressFor ?? sourceAddressFor }
        : {}),
      ikePort,
      natTPort,
      ...(pool
        ? {
          spiAffinity: (spi: number, replaces: number) =>
            pool.rules.inboundWorker(spi, pool.workers) ===
              pool.rules.inboundWorker(replaces, pool.workers),
        }
        : {}),
      transport: {
        send: (bytes, to, localPort) => holder.appliance!.#sendIke(bytes, to, localPort),
      },
      ...(globalIke === undefined ? {} : {
        cookieThreshold: globalIke.cookieThreshold,
        initRateLimit: globalIke.initRateLimit,
        cookieRateLimit: globalIke.cookieRateLimit,
        halfOpenLimit: globalIke.halfOpenLimit,
      }),
    });
    const appliance = new Appliance({
      engine,
      realms,
      installer,
      ikeSocket,
      natTSocket,
      rawEspSocket,
      pool,
    });
    holder.appliance = appliance;
    appliance.#offload = dataPlaneOffload;
    appliance.#listenAddress = address;
    appliance.#openDevice = openDevice;
    appliance.#sys = sys;
    appliance.#natKeepaliveMs = options.natKeepaliveMs ??
      (globalIke === undefined ? NAT_KEEPALIVE_MS : globalIke.natKeepalive * 1000);
    if (pool) {
      try {
        await pool.start([...realms.values()].map((r) => Appliance.#poolRealm(r)));
      } catch (e) {
        await appliance.stop();
        throw e;
      }
    }
    appliance.#startLoops();
    const limits = engine.admissionLimits;
    const keepalive = appliance.#natKeepaliveMs;
    log.info(
      `IKE_SA_INIT limits: COOKIE demanded from ${limits.cookieThreshold} half-open SAs or above ${limits.initRateLimit}/s, at most ${limits.cookieRateLimit} COOKIEs/s, dropped from ${limits.halfOpenLimit} half-open SAs; NAT keepalives ${
        keepalive > 0 ? `every ${keepalive / 1000} s` : "off"
      }`,
    );
    log.info(
      `listening for IKE on ${address}:${ikePort} and ${address}:${natTPort}${
        appliance.rawEspAvailable ? `, raw ESP (IP protocol 50) on ${address}` : ""
      } (crypto: ${crypto.name})`,
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

  /**
   * Run-time hook for the control facade (lib/appliance/control.ts): opens a realm's device,
   * starts its data path and initiates its `auto="start"` peers. The engine must already know
   * the realm (IkeEngine.setRealms).
   */
  async openRealm(policy: RealmPolicy): Promise<void> {
    if (this.#stopping) throw new RangeError(`Cannot open realm ${policy.id}: stopping`);
    if (this.realms.has(policy.id)) {
      throw new RangeError(`Cannot open realm ${policy.id}: it is already open`);
    }
    // A realm added or changed at run time: the secure process must know its device and
    // networks (it re-reads rockhopper.xml) before the first change on it.
    await this.#sys.reload?.();
    const inner = policy.config.tunnelInterface?.address.split("/")[0];
    const pool = this.#pool;
    const realm = pool
      ? await Appliance.#openPooledRealm(
        policy,
        this.#sys,
        pool,
        inner,
        this.#offload,
        this.#listenAddress,
      )
      : new RealmRuntime(policy, await this.#openDevice(policy), inner);
    (this.realms as Map<number, RealmRuntime>).set(policy.id, realm);
    if (pool) await pool.addRealm(Appliance.#poolRealm(realm));
    else this.#startRealmLoop(realm);
    for (const peer of policy.peers) {
      if (peer.auto === "start" && peer.address) this.#keepTrying(policy, peer.id);
    }
  }

  /**
   * Run-time hook for the control facade: closes a realm's device and stops its data path.
   * Delete the realm's SAs first; retries toward its peers stop.
   */
  async closeRealm(id: number): Promise<void> {
    const realm = this.realms.get(id);
    if (!realm) return;
    (this.realms as Map<number, RealmRuntime>).delete(id);
    // The workers let go of the queues before their descriptors are closed.
    await this.#pool?.removeRealm(id).catch((e) =>
      this.log.warn(`Cannot take realm ${id} from the data-plane workers: ${(e as Error).message}`)
    );
    Appliance.#closeDevices(realm);
    await realm.loop?.catch(() => {});
  }

  /** Stops initiating, deletes every SA (telling peers), closes sockets and devices. */
  async stop(): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    clearInterval(this.#keepaliveTimer);
    await this.engine.shutdown();
    this.#abort.abort();
    this.#ikeScheduler.stop();
    this.#ikeSocket.close();
    this.#natTSocket.close();
    this.#rawEspSocket?.close();
    await this.#pool?.stop();
    for (const r of this.realms.values()) Appliance.#closeDevices(r);
    await Promise.allSettled(this.#loops);
  }

  /**
   * The data-plane worker pool when `<data_plane workers>` asks for one and the appliance runs
   * on real devices (no injected device or socket openers), with FFI, libcrypto and an IPv4
   * listening address; else null (ESP on the main thread, logged when workers were asked for).
   * Opens the NAT-T socket group and, when a realm may run ESP raw, the raw ESP sockets.
   */
  static #openPoolIfWanted(
    options: ApplianceOptions,
    address: string,
    natTPort: number,
    crypto: CryptoProvider,
    log: Logger,
    holder: { appliance?: Appliance },
  ): DataPlanePool | null {
    const workers = options.config.dataPlane?.workers ?? 0;
    if (workers === 0) return null;
    const injected = options.openDevice ?? options.openSocket ?? options.openRawEsp;
    const ipv4 = /^\d+\.\d+\.\d+\.\d+$/.test(address);
    // Deno loads a worker's modules under the read permission (unlike the main program's).
    const sources = decodeURIComponent(new URL("../", import.meta.url).pathname);
    const readable =
      Deno.permissions.querySync({ name: "read", path: sources }).state === "granted";
    const reason = injected !== undefined
      ? "devices or sockets are injected"
      : !ipv4
      ? `the listening address ${address} is not IPv4`
      : crypto.name !== "libcrypto"
      ? "libcrypto is not available"
      : !readable
      ? `workers need read access to ${sources} (add it to --allow-read)`
      : undefined;
    if (reason !== undefined) {
      const text = `ESP runs on the main thread, not in ${workers} data-plane worker(s): ${reason}`;
      if (readable) log.info(text);
      else log.warn(text);
      return null;
    }
    const events = {
      onIke: (message: Uint8Array, from: Endpoint) => {
        const appliance = holder.appliance;
        if (appliance) appliance.#ikeScheduler.enqueue(message, from, natTPort);
      },
      onKeepalive: () => holder.appliance?.counters.add("rxNatKeepalive"),
      onRemote: (spi: number, from: Endpoint) => {
        const appliance = holder.appliance;
        if (appliance) appliance.#ikeScheduler.control(() => appliance.#followRemote(spi, from));
      },
      onNoRoute: (realm: number) => {
        const appliance = holder.appliance;
        if (appliance) appliance.#ikeScheduler.control(() => appliance.engine.acquire(realm));
      },
    };
    const realms = options.config.realms.filter((r) => r.enabled && r.ike.natT !== "force");
    const open = (rawEsp: boolean) =>
      DataPlanePool.open({ workers, address, natTPort, rawEsp, events });
    if (realms.length === 0) return open(false);
    try {
      return open(true);
    } catch (e) {
      const pool = open(false);
      log.warn(
        `${(e as Error).message}; ESP of realms with nat_t="auto" (${
          realms.filter((r) => r.ike.natT === "auto").map((r) => r.name).join(", ") || "none"
        }) will always run in UDP ${natTPort}, as with nat_t="force" (raw ESP needs CAP_NET_RAW and an IPv4 listening address)`,
      );
      return pool;
    }
  }

  /** A realm whose TUN device has one queue per worker and whose counters the workers share. */
  static async #openPooledRealm(
    policy: RealmPolicy,
    sys: SysService,
    pool: DataPlanePool,
    inner: string | undefined,
    offload: boolean,
    listenAddress: string,
  ): Promise<RealmRuntime> {
    const [device, ...extra] = await openRealmQueues(
      policy,
      sys,
      listenAddress,
      pool.workers,
      offload,
    );
    const counters = pool.createRealmCounters();
    const realm = new RealmRuntime(policy, device!, inner, counters);
    realm.extraQueues = extra;
    realm.sharedCounters = counters.shared;
    return realm;
  }

  static #poolRealm(realm: RealmRuntime) {
    return {
      id: realm.policy.id,
      name: realm.device.name,
      mtu: realm.device.mtu,
      queues: [realm.device, ...realm.extraQueues].map(queueFd),
      counters: realm.sharedCounters!,
      offload: (realm.device as TunDevice).offload === true,
    };
  }

  static #closeDevices(realm: RealmRuntime): void {
    realm.device.close();
    for (const queue of realm.extraQueues) queue.close();
  }

  /**
   * Opens the raw ESP socket when a realm may run ESP without UDP; null when none may or it
   * cannot be opened (logged: "auto" realms then encapsulate always).
   */
  static #openRawEspIfUseful(
    options: ApplianceOptions,
    address: string,
    log: Logger,
  ): RawEspSocket | null {
    const realms = options.config.realms.filter((r) => r.enabled && r.ike.natT !== "force");
    if (realms.length === 0) return null;
    try {
      return (options.openRawEsp ?? ((a: string) => openRawEspSocket({ address: a })))(address);
    } catch (e) {
      log.warn(
        `${(e as Error).message}; ESP of realms with nat_t="auto" (${
          realms.filter((r) => r.ike.natT === "auto").map((r) => r.name).join(", ") || "none"
        }) will always run in UDP 4500, as with nat_t="force" (raw ESP needs CAP_NET_RAW and an IPv4 listening address)`,
      );
      return null;
    }
  }

  /** Sends one outbound ESP packet: raw for SAs without encapsulation (port 0), else UDP. */
  #sendEspPacket(datagram: Uint8Array, remote: Endpoint): Promise<unknown> | void {
    if (remote.port !== 0) {
      return this.#natTSocket.send(datagram, remote).catch(() => this.counters.add("txEspErrors"));
    }
    const raw = this.#rawEspSocket;
    if (raw === null) {
      this.counters.add("txEspNoRawSocket");
      return;
    }
    // Synchronous: sendto copied the packet, so the buffer may return to the pool now.
    if (!raw.trySend(datagram, remote.address)) this.counters.add("txEspErrors");
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
    this.#loops.push(this.#receiveLoop(this.#ikeSocket, (data, from) => {
      this.#ikeScheduler.enqueue(data, from, this.#ikeSocket.local.port);
    }));
    // With workers, they run the NAT-T port, raw ESP and the TUN queues.
    if (!this.#pool) {
      this.#loops.push(
        this.#receiveLoop(this.#natTSocket, (data, from) => this.#onNatT(data, from)),
      );
      if (this.#rawEspSocket) this.#loops.push(this.#rawEspLoop(this.#rawEspSocket));
      for (const realm of this.realms.values()) this.#startRealmLoop(realm);
    }
    if (this.#natKeepaliveMs > 0) {
      this.#keepaliveTimer = setInterval(() => this.#sendNatKeepalives(), this.#natKeepaliveMs);
    }
  }

  /**
   * One NAT keepalive (RFC 3948 §2.3, the byte 0xFF) on the NAT-T socket to the peer of every
   * established UDP-encapsulated IKE SA whose local side is behind a NAT.
   */
  #sendNatKeepalives(): void {
    if (this.#natTSocket.closed) return;
    for (const sa of this.engine.list()) {
      if (sa.state !== IkeSaState.Established || !sa.udpEncapsulation || !sa.natLocal) continue;
      const to = { ...sa.remote };
      this.counters.add("txNatKeepalive");
      this.#natTSocket.send(buildNatKeepalive(), to).catch((e) => {
        this.counters.add("txEspErrors");
        this.log.debug(
          `Cannot send NAT keepalive to ${to.address}:${to.port}: ${(e as Error).message}`,
        );
      });
    }
  }

  /** TUN → ESP for one realm; traffic without an SA may re-initiate a held peer. */
  #startRealmLoop(realm: RealmRuntime): void {
    const realmId = realm.policy.id;
    realm.loop = runTunToPeer(realm.device, realm.sadb, this.#sendEsp, {
      signal: this.#abort.signal,
      counters: realm.outboundCounters,
      log: new Logger("esp", realm.policy.name),
      onNoRoute: () => this.engine.acquire(realmId),
    });
    this.#loops.push(realm.loop);
  }

  /** RFC 3948 demux of one datagram on the NAT-T port. */
  #onNatT(data: Uint8Array, from: Endpoint): void {
    switch (classifyUdpEncap(data)) {
      case UdpEncapKind.Esp: {
        const spi = espSpiOf(data);
        const realm = this.#installer.realmOfSpi(spi);
        if (!realm) {
          this.counters.add("rxEspNoRealm");
          return;
        }
        const result = handleInboundEsp(realm.sadb, data, realm.device, realm.inbound);
        // Only a packet that passed integrity may move the SA (never unauthenticated data).
        if (
          result !== InboundResult.Malformed && result !== InboundResult.UnknownSpi &&
          result !== InboundResult.Decap
        ) {
          this.#followRemote(spi, from);
        }
        return;
      }
      case UdpEncapKind.Ike:
        this.#ikeScheduler.enqueue(stripNonEspMarker(data), from, this.#natTSocket.local.port);
        return;
      case UdpEncapKind.Keepalive:
        this.counters.add("rxNatKeepalive");
        return;
      default:
        return;
    }
  }

  /**
   * Authenticated ESP for inbound SA `spi` came from `from`: when that is a new NAT mapping,
   * the child's SAs (and the workers' copies) move there.
   */
  #followRemote(spi: number, from: Endpoint): void {
    const previous = this.#installer.updateRemote(spi, from);
    if (!previous) return;
    this.counters.add("espRemoteChanged");
    const log = this.#installer.realmOfSpi(spi)?.inbound.log ?? this.log;
    log.info(
      `peer of ESP SA 0x${
        spi.toString(16).padStart(8, "0")
      } moved from ${previous.address}:${previous.port} to ${from.address}:${from.port} (NAT mapping change): outbound ESP follows`,
    );
  }

  /**
   * The raw ESP receive loop: drain the socket (IPv4 header already stripped), then wait.
   *   1. receive  tryReceive into the loop's buffer; nothing queued → waitReadable
   *   2. lookup   SPI → the realm whose SA database holds it
   *   3. decrypt and deliver to the realm's device (handleInboundEsp)
   */
  async #rawEspLoop(socket: RawEspSocket): Promise<void> {
    const buf = new Uint8Array(RECEIVE_BUFFER_LENGTH);
    const signal = this.#abort.signal;
    let sinceYield = 0;
    while (!socket.closed && !signal.aborted) {
      let data: Uint8Array;
      try {
        const received = socket.tryReceive(buf);
        if (received === null) {
          sinceYield = 0;
          await socket.waitReadable();
          continue;
        }
        data = received.data;
      } catch (e) {
        if (socket.closed || signal.aborted) return;
        this.log.warn(`raw ESP receive failed: ${(e as Error).message}`);
        await new Promise((r) => setTimeout(r, 100));
        continue;
      }
      if (data.length < ESP_HEADER_LENGTH) {
        this.counters.add("rxRawEspMalformed");
      } else {
        const realm = this.#installer.realmOfSpi(espSpiOf(data));
        if (realm) handleInboundEsp(realm.sadb, data, realm.device, realm.inbound);
        else this.counters.add("rxEspNoRealm");
      }
      if (++sinceYield >= RAW_ESP_YIELD_EVERY) {
        sinceYield = 0;
        await new Promise((r) => setTimeout(r, 0));
      }
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
          this.#keepTrying(realm.policy, peer.id);
        }
      }
    }
  }

  /** Brings up an `auto="start"` peer and keeps retrying until it is up (see IkeEngine.keepUp). */
  #keepTrying(realm: RealmPolicy, peerId: string): void {
    if (this.#stopping || this.realms.get(realm.id)?.policy !== realm) return;
    this.engine.keepUp(realm.id, peerId, RETRY_MIN_MS);
  }
}
