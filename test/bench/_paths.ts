/**
 * The benchmark's paths (private to test/bench): the shared two-namespace layout, the proof
 * that a path is up, and how each path is built — plain veth, our appliance, strongSwan
 * kernel-libipsec, wireguard-go and OpenVPN. throughput.ts measures them; load_checks.ts reuses
 * {@link oursNodeOptions}.
 *
 * Layout of every path: namespaces `left` (198.51.100.1, inner 10.1.0.1, iperf3 client) and
 * `right` (198.51.100.2, inner 10.2.0.1, iperf3 server) joined by one veth; every tunnel maps
 * 10.1.0.0/24 ⇄ 10.2.0.0/24.
 */
import { NetnsError, type NetnsLab } from "../netns/harness.ts";
import {
  FailureArtifacts,
  RockhopperNode,
  type RockhopperNodeOptions,
} from "../netns/rockhopper_node.ts";
import { startCharonPair } from "../interop/strongswan.ts";

export const LEFT_OUTER = "198.51.100.1";
export const RIGHT_OUTER = "198.51.100.2";
export const LEFT_INNER = "10.1.0.1";
export const RIGHT_INNER = "10.2.0.1";
export const LEFT_LAN = "10.1.0.0/24";
export const RIGHT_LAN = "10.2.0.0/24";
export const OUR_TUNNEL_DEVICE = "rhp1";
const LIBIPSEC_DEVICE = "ipsec0";
const PING_COUNT = 3;
/**
 * Tunnel MTUs: each path gets the largest inner packet its framing fits into the 1500-byte veth
 * over IPv4, as our `mtu="auto"` picks 1438 for AES-GCM in UDP (ESP datagrams of 1472 bytes).
 * OpenVPN gets the same 1438 (its AES-GCM data channel adds 24 bytes to the UDP payload, ESP
 * 34); wireguard-go 1440 (32 bytes); kernel-libipsec hard-codes 1400 for its TUN device (it
 * sizes its read buffer from it, so it cannot be raised from outside).
 */
const OPENVPN_TUNNEL_MTU = 1438;
const WIREGUARD_TUNNEL_MTU = 1440;
const WIREGUARD_PORT = 51820;
const OPENVPN_PORT = 1194;
/** wireguard-go's control sockets: one directory shared by every namespace. */
const WIREGUARD_RUN_DIR = "/run/wireguard";
/** How long a peer daemon may take to come up. */
const PEER_START_TIMEOUT_MS = 20_000;

/** Where iperf3 runs once a path is up, and what proves that the traffic took the tunnel. */
export interface Endpoints {
  client: string;
  server: string;
  clientAddress: string;
  serverAddress: string;
  /** Device in the client's namespace that carries the measured traffic. */
  device: string;
  /** Marks the path as done (its logs are then not kept as failure artifacts). */
  passed(): void;
}

/** A measured path: a name and how to build it inside a fresh lab. */
export interface BenchPath {
  name: string;
  setUp(lab: NetnsLab): Promise<Endpoints>;
}

/** Row names, as the issue fixes them for throughput.json. */
export const VETH_PATH = "veth";
export const STRONGSWAN_PATH = "strongswan-libipsec-aes128gcm";
export const WIREGUARD_PATH = "wireguard-go";
export const OPENVPN_PATH = "openvpn";
/** Prefix of the rows of our appliance. */
export const OURS_PREFIX = "ours-";

/** A random base64 pre-shared key of 32 bytes. */
export function randomPsk(): string {
  return btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32))));
}

/** Two namespaces joined by a veth; the short names are `left` (client) and `right`. */
export async function vethPair(lab: NetnsLab): Promise<{ leftDevice: string }> {
  await lab.addNamespace("left");
  await lab.addNamespace("right");
  const { devA } = await lab.link("left", `${LEFT_OUTER}/24`, "right", `${RIGHT_OUTER}/24`);
  return { leftDevice: devA };
}

/** Pings both ways between the inner addresses; throws unless every echo comes back. */
export async function assertInnerPing(lab: NetnsLab, path: string): Promise<void> {
  for (
    const [ns, from, to] of [
      ["left", LEFT_INNER, RIGHT_INNER],
      ["right", RIGHT_INNER, LEFT_INNER],
    ] as const
  ) {
    const received = await lab.ping(ns, to, { from, count: PING_COUNT });
    if (received !== PING_COUNT) {
      throw new Error(
        `Cannot measure ${path}: ${received} of ${PING_COUNT} pings from ${from} to ${to} came back`,
      );
    }
  }
}

/** Runs `command -v`; false when the binary is not on the PATH. */
async function hasCommand(command: string): Promise<boolean> {
  const r = await new Deno.Command("sh", {
    args: ["-c", `command -v "$0"`, command],
    stdout: "null",
    stderr: "null",
  }).output();
  return r.success;
}

/**
 * Installs the Debian `packages` with apt-get unless every command of `commands` is already
 * there (scripts/setup.sh lists them too; this covers a bench started without it). Throws when
 * they cannot be installed.
 */
export async function ensureCommands(
  commands: readonly string[],
  packages: readonly string[],
): Promise<void> {
  const missing = [];
  for (const c of commands) if (!await hasCommand(c)) missing.push(c);
  if (missing.length === 0) return;
  const apt = async (args: string[]) =>
    await new Deno.Command("apt-get", {
      args,
      env: { DEBIAN_FRONTEND: "noninteractive" },
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).output();
  const install = ["install", "-y", "-q", "--no-install-recommends", ...packages];
  let r = await apt(install);
  if (!r.success) {
    await apt(["update", "-q"]);
    r = await apt(install);
  }
  if (!r.success) {
    throw new Error(
      `Cannot install ${packages.join(" ")} (for ${missing.join(", ")}): ${
        new TextDecoder().decode(r.stderr).trim().split("\n").slice(-3).join(" ")
      }`,
    );
  }
}

export const vethPath: BenchPath = {
  name: VETH_PATH,
  async setUp(lab) {
    const { leftDevice } = await vethPair(lab);
    return {
      client: "left",
      server: "right",
      clientAddress: LEFT_OUTER,
      serverAddress: RIGHT_OUTER,
      device: leftDevice,
      passed: () => {},
    };
  },
};

/** What an ours-* row runs: the negotiated suites and the ESP transport. */
export interface OursSettings {
  ikeSuite: string;
  espSuite: string;
  /**
   * The realms' `nat_t`: `force` runs ESP in UDP 4500 (UDP GSO/GRO apply: the fastest setting
   * between our peers), `auto` runs raw ESP (IP protocol 50) here, as there is no NAT.
   */
  natT: "force" | "auto";
}

/**
 * Data-path overrides for comparing runs (not a benchmark row of their own):
 * `RHP_BENCH_NAT_T=force|auto|no` overrides every row's {@link OursSettings.natT},
 * `RHP_BENCH_OFFLOAD=no` turns the offloads off (`<data_plane offload="no"/>`).
 */
function benchDataPathEnv(): Partial<RockhopperNodeOptions> {
  const natT = Deno.env.get("RHP_BENCH_NAT_T");
  const offload = Deno.env.get("RHP_BENCH_OFFLOAD");
  return {
    ...(natT === "force" || natT === "auto" || natT === "no" ? { natT } : {}),
    ...(offload === "yes" || offload === "no" ? { dataPlaneOffload: offload === "yes" } : {}),
  };
}

/**
 * The appliance options of one side of an ours-* path: the single place where the benchmark
 * builds our configuration. `left` initiates to `right`; `extra` overrides per side (the load
 * checks add peers and liveness checks). Data-path knobs (e.g. a worker count) belong here.
 *
 * @example
 * ```ts
 * const left = new RockhopperNode(lab, oursNodeOptions("left", settings, psk));
 * ```
 */
export function oursNodeOptions(
  side: "left" | "right",
  settings: OursSettings,
  psk: string,
  extra: Partial<RockhopperNodeOptions> = {},
): RockhopperNodeOptions {
  const common = {
    tunnelInterface: OUR_TUNNEL_DEVICE,
    ikeSuites: [settings.ikeSuite],
    espSuites: [settings.espSuite],
    dpd: "0",
    logLevel: "info" as const,
    natT: settings.natT,
    ...benchDataPathEnv(),
  };
  const sideOptions: RockhopperNodeOptions = side === "left"
    ? {
      ...common,
      namespace: "left",
      listenAddress: LEFT_OUTER,
      tunnelAddress: `${LEFT_INNER}/24`,
      trafficLocal: [LEFT_LAN],
      trafficRemote: [RIGHT_LAN],
      myId: "fqdn:left.example.com",
      peers: [{ id: "fqdn:right.example.com", address: RIGHT_OUTER, auto: "start", psk }],
    }
    : {
      ...common,
      namespace: "right",
      listenAddress: RIGHT_OUTER,
      tunnelAddress: `${RIGHT_INNER}/24`,
      trafficLocal: [RIGHT_LAN],
      trafficRemote: [LEFT_LAN],
      myId: "fqdn:right.example.com",
      peers: [{ id: "fqdn:left.example.com", auto: "add", psk }],
    };
  return { ...sideOptions, ...extra };
}

/** A running pair of our appliances with its proven child SA. */
export interface OursPair {
  left: RockhopperNode;
  right: RockhopperNode;
  artifacts: FailureArtifacts;
}

/**
 * Starts our pair (namespaces must exist) and proves the tunnel: both child SAs use the
 * expected suite, their SPIs pair up, and inner pings pass both ways.
 */
export async function startOursPair(
  lab: NetnsLab,
  name: string,
  settings: OursSettings,
  extra: {
    psk?: string;
    left?: Partial<RockhopperNodeOptions>;
    right?: Partial<RockhopperNodeOptions>;
  } = {},
): Promise<OursPair> {
  const psk = extra.psk ?? randomPsk();
  const left = new RockhopperNode(lab, oursNodeOptions("left", settings, psk, extra.left));
  const right = new RockhopperNode(lab, oursNodeOptions("right", settings, psk, extra.right));
  const artifacts = new FailureArtifacts(lab, `bench-${name}`);
  artifacts.add("left", left);
  artifacts.add("right", right);
  await right.start();
  await left.start();
  const [l, r] = [await left.waitForChildSa(), await right.waitForChildSa()];
  if (l.suite !== settings.espSuite || r.suite !== settings.espSuite) {
    throw new Error(
      `Cannot measure ${name}: child SAs use ${l.suite} / ${r.suite}, not ${settings.espSuite}`,
    );
  }
  if (l.spiIn !== r.spiOut || l.spiOut !== r.spiIn) {
    throw new Error(
      `Cannot measure ${name}: SPIs do not pair up (left in ${l.spiIn} out ${l.spiOut}, ` +
        `right in ${r.spiIn} out ${r.spiOut})`,
    );
  }
  await assertInnerPing(lab, name);
  return { left, right, artifacts };
}

/** Two of our appliances; `left` initiates. */
export function oursPath(name: string, settings: OursSettings): BenchPath {
  return {
    name,
    async setUp(lab) {
      await vethPair(lab);
      const { artifacts } = await startOursPair(lab, name, settings);
      return {
        client: "left",
        server: "right",
        clientAddress: LEFT_INNER,
        serverAddress: RIGHT_INNER,
        device: OUR_TUNNEL_DEVICE,
        passed: () => artifacts.passed(),
      };
    },
  };
}

/** Two charons with kernel-libipsec; `left` initiates. */
export function strongSwanPath(
  name: string,
  ikeProposals: string,
  espProposals: string,
): BenchPath {
  return {
    name,
    async setUp(lab) {
      await vethPair(lab);
      const { left, right } = await startCharonPair(lab, {
        psk: randomPsk(),
        ikeProposals,
        espProposals,
      });
      const artifacts = new FailureArtifacts(lab, `bench-${name}`);
      artifacts.add("left", left);
      artifacts.add("right", right);
      await left.initiate();
      for (const [side, peer] of [["left", left], ["right", right]] as const) {
        const ike = await peer.waitEstablished();
        const child = ike.childSas.find((c) => c.state === "INSTALLED");
        if (child?.encrAlg !== "AES_GCM_16" || child.encrKeySize !== "128") {
          throw new Error(
            `Cannot measure ${name}: ${side} charon's child SA uses ${child?.encrAlg} ` +
              `${child?.encrKeySize}, not AES_GCM_16 128`,
          );
        }
      }
      await assertInnerPing(lab, name);
      return {
        client: "left",
        server: "right",
        clientAddress: LEFT_INNER,
        serverAddress: RIGHT_INNER,
        device: LIBIPSEC_DEVICE,
        passed: () => artifacts.passed(),
      };
    },
  };
}

/** A private directory of a lab (keys, certificates, logs), removed by the lab's cleanup. */
async function labDir(lab: NetnsLab, label: string): Promise<string> {
  // Named after the lab so that a crashed run's leftovers can be told apart.
  const dir = await Deno.makeTempDir({ prefix: `${lab.prefix}-${label}-` });
  lab.onCleanup(() => Deno.remove(dir, { recursive: true }).catch(() => {}));
  return dir;
}

/** Polls `check` every 100 ms until it is true; throws `what` with `detail()` on timeout. */
async function waitUntil(
  check: () => Promise<boolean>,
  what: string,
  detail: () => Promise<string>,
  timeoutMs = PEER_START_TIMEOUT_MS,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!await check()) {
    if (Date.now() >= deadline) {
      throw new NetnsError(`Cannot ${what} within ${timeoutMs} ms: ${await detail()}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function readTail(path: string, lines = 15): Promise<string> {
  try {
    return (await Deno.readTextFile(path)).split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}

async function fileExists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

/** One end of a wireguard-go path. */
interface WireGuardSide {
  ns: "left" | "right";
  outer: string;
  inner: string;
  remoteOuter: string;
  remoteLan: string;
}

/**
 * Two wireguard-go daemons (`-f`, in the foreground, so that the lab owns them), configured
 * with `wg` (keys from `wg genkey`, MTU 1440 instead of its default 1420, see
 * WIREGUARD_TUNNEL_MTU). Their control sockets
 * share /run/wireguard across namespaces, so the interface names carry the lab prefix; a
 * SIGKILLed daemon leaves its socket, which cleanup removes.
 */
export const wireGuardPath: BenchPath = {
  name: WIREGUARD_PATH,
  async setUp(lab) {
    await ensureCommands(["wireguard-go", "wg"], ["wireguard-go", "wireguard-tools"]);
    await vethPair(lab);
    const dir = await labDir(lab, "wg");
    const sides: WireGuardSide[] = [
      {
        ns: "left",
        outer: LEFT_OUTER,
        inner: LEFT_INNER,
        remoteOuter: RIGHT_OUTER,
        remoteLan: RIGHT_LAN,
      },
      {
        ns: "right",
        outer: RIGHT_OUTER,
        inner: RIGHT_INNER,
        remoteOuter: LEFT_OUTER,
        remoteLan: LEFT_LAN,
      },
    ];
    const device = (ns: string) => `${lab.prefix}${ns === "left" ? "wl" : "wr"}`;
    const publicKeys = new Map<string, string>();
    for (const side of sides) {
      const key = (await lab.execChecked(side.ns, ["wg", "genkey"])).stdout.trim();
      await Deno.writeTextFile(`${dir}/${side.ns}.key`, `${key}\n`, { mode: 0o600 });
      const pub = await lab.execChecked(side.ns, [
        "sh",
        "-c",
        'wg pubkey <"$0"',
        `${dir}/${side.ns}.key`,
      ]);
      publicKeys.set(side.ns, pub.stdout.trim());
    }
    let passed = false;
    for (const side of sides) {
      const name = device(side.ns);
      const socket = `${WIREGUARD_RUN_DIR}/${name}.sock`;
      const logFile = `${dir}/${side.ns}.log`;
      const daemon = lab.spawn(side.ns, ["wireguard-go", "-f", name], {
        logFile,
        env: { LOG_LEVEL: "error" },
      });
      lab.onCleanup(async () => {
        await daemon.kill();
        await Deno.remove(socket).catch(() => {});
        if (!passed && await fileExists(logFile)) {
          console.error(`bench: wireguard-go ${side.ns}: ${await readTail(logFile)}`);
        }
      });
      await waitUntil(
        async () => await fileExists(socket) || daemon.exited,
        `start wireguard-go in ${side.ns}`,
        () => readTail(logFile),
      );
      if (daemon.exited) {
        throw new NetnsError(`Cannot start wireguard-go in ${side.ns}: ${await readTail(logFile)}`);
      }
      const peer = side.ns === "left" ? "right" : "left";
      await lab.execChecked(side.ns, [
        "wg",
        "set",
        name,
        "listen-port",
        String(WIREGUARD_PORT),
        "private-key",
        `${dir}/${side.ns}.key`,
        "peer",
        publicKeys.get(peer)!,
        "endpoint",
        `${side.remoteOuter}:${WIREGUARD_PORT}`,
        "allowed-ips",
        side.remoteLan,
      ]);
      await lab.addAddress(side.ns, `${side.inner}/24`, name);
      await lab.execChecked(side.ns, [
        "ip",
        "link",
        "set",
        name,
        "mtu",
        String(WIREGUARD_TUNNEL_MTU),
        "up",
      ]);
      await lab.addRoute(side.ns, side.remoteLan, ["dev", name]);
    }
    await assertInnerPing(lab, WIREGUARD_PATH);
    return {
      client: "left",
      server: "right",
      clientAddress: LEFT_INNER,
      serverAddress: RIGHT_INNER,
      device: device("left"),
      passed: () => {
        passed = true;
      },
    };
  },
};

/** Creates a self-signed P-256 certificate; returns its SHA-256 fingerprint (`AB:CD:…`). */
async function selfSignedCertificate(dir: string, name: string): Promise<string> {
  const run = async (args: string[]) => {
    const r = await new Deno.Command("openssl", { args, stdout: "piped", stderr: "piped" })
      .output();
    if (!r.success) {
      throw new Error(
        `Cannot run openssl ${args[0]}: ${new TextDecoder().decode(r.stderr).trim()}`,
      );
    }
    return new TextDecoder().decode(r.stdout);
  };
  await run([
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
    "-keyout",
    `${dir}/${name}.key`,
    "-out",
    `${dir}/${name}.crt`,
    "-days",
    "2",
    "-subj",
    `/CN=${name}.example.com`,
  ]);
  const out = await run(["x509", "-in", `${dir}/${name}.crt`, "-noout", "-fingerprint", "-sha256"]);
  const match = /Fingerprint=([0-9A-F:]+)/i.exec(out);
  if (match === null) throw new Error(`Cannot read the fingerprint of ${name}.crt: ${out}`);
  return match[1]!;
}

/** The line OpenVPN logs once the data channel uses `cipher`. */
const OPENVPN_CIPHER_PATTERN = /Data Channel: [Cc]ipher '([^']+)'/;
const OPENVPN_READY_PATTERN = /Initialization Sequence Completed/;

/**
 * Two OpenVPN 2.6 processes in p2p TLS mode (AES-256-GCM needs TLS): self-signed certificates
 * pinned with `peer-fingerprint` (no CA), `disable-dco` (no kernel module: user-space data
 * path, like ours), tun-mtu 1438 (as ours), `--ifconfig` giving the same inner addresses as the other
 * paths. `right` is the TLS server, `left` the client.
 */
export const openVpnPath: BenchPath = {
  name: OPENVPN_PATH,
  async setUp(lab) {
    await ensureCommands(["openvpn", "openssl"], ["openvpn", "openssl"]);
    await vethPair(lab);
    const dir = await labDir(lab, "ovpn");
    const fingerprints = {
      left: await selfSignedCertificate(dir, "left"),
      right: await selfSignedCertificate(dir, "right"),
    };
    const device = `${lab.prefix}o`;
    let passed = false;
    const logs: string[] = [];
    for (const ns of ["right", "left"] as const) {
      const peer = ns === "left" ? "right" : "left";
      const [local, remote, inner, remoteInner] = ns === "left"
        ? [LEFT_OUTER, RIGHT_OUTER, LEFT_INNER, RIGHT_INNER]
        : [RIGHT_OUTER, LEFT_OUTER, RIGHT_INNER, LEFT_INNER];
      const logFile = `${dir}/${ns}.log`;
      logs.push(logFile);
      lab.spawn(ns, [
        "openvpn",
        "--dev",
        device,
        "--dev-type",
        "tun",
        "--proto",
        "udp",
        "--local",
        local,
        "--lport",
        String(OPENVPN_PORT),
        "--remote",
        remote,
        "--rport",
        String(OPENVPN_PORT),
        "--ifconfig",
        inner,
        remoteInner,
        ...(ns === "right" ? ["--tls-server", "--dh", "none"] : ["--tls-client"]),
        "--cert",
        `${dir}/${ns}.crt`,
        "--key",
        `${dir}/${ns}.key`,
        "--peer-fingerprint",
        fingerprints[peer],
        "--data-ciphers",
        "AES-256-GCM",
        "--data-ciphers-fallback",
        "AES-256-GCM",
        "--disable-dco",
        "--tun-mtu",
        String(OPENVPN_TUNNEL_MTU),
        "--verb",
        "3",
      ], { logFile });
    }
    lab.onCleanup(async () => {
      if (passed) return;
      for (const log of logs) console.error(`bench: openvpn ${log}:\n${await readTail(log)}`);
    });
    for (const log of logs) {
      const text = async () => {
        try {
          return await Deno.readTextFile(log);
        } catch {
          return "";
        }
      };
      await waitUntil(
        async () => OPENVPN_READY_PATTERN.test(await text()),
        `see OpenVPN's "Initialization Sequence Completed" in ${log}`,
        () => readTail(log),
      );
      const cipher = OPENVPN_CIPHER_PATTERN.exec(await text())?.[1];
      if (cipher !== "AES-256-GCM") {
        throw new Error(
          `Cannot measure ${OPENVPN_PATH}: data channel uses ${cipher}, not AES-256-GCM`,
        );
      }
    }
    await assertInnerPing(lab, OPENVPN_PATH);
    return {
      client: "left",
      server: "right",
      clientAddress: LEFT_INNER,
      serverAddress: RIGHT_INNER,
      device,
      passed: () => {
        passed = true;
      },
    };
  },
};
