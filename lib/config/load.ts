/**
 * Loads and validates conf/rockhopper.xml (and, through {@link loadAuthConfig}, conf/auth.xml)
 * into the value types of `types.ts`. The format is documented in conf/README.md; every
 * problem is a one-line {@link ConfigError} naming file, line, element and attribute.
 */
import { REPLAY_WINDOW_MAX, REPLAY_WINDOW_MIN } from "../esp/mod.ts";
import {
  DEFAULT_ESP_SUITES,
  DEFAULT_IKE_SUITES,
  DEFAULT_INIT_ADMISSION_LIMITS,
  ESP_SUITES,
  IKE_SUITES,
} from "../ike/mod.ts";
import { checkRoot, ElementReader, failAtSource, sourceOf } from "./element_reader.ts";
import { checkPoolsDistinct, readPrefixList, readRealmAddressing } from "./addressing.ts";
import { ConfigError } from "./errors.ts";
import { parseAuthConfig } from "./auth_file.ts";
import { parseIdentity } from "./identity.ts";
import {
  formatIpAddress,
  formatPrefix,
  hasHostBits,
  type IpPrefix,
  isAllOnesHost,
  networkOf,
  parseIpAddress,
  parsePrefix,
  prefixesOverlap,
} from "./ip_prefix.ts";
import { parseXml } from "./xml.ts";
import type {
  AdminConfig,
  AuthConfig,
  DataPlaneConfig,
  EspPolicyConfig,
  IkeGlobalConfig,
  IkePolicyConfig,
  InterfaceConfig,
  PeerConfig,
  RealmConfig,
  RockhopperConfig,
  TrafficConfig,
  TunnelInterfaceConfig,
} from "./types.ts";

export { checkAuthAgainstConfig } from "./cross_check.ts";
export { parseAuthConfig };

/** Defaults documented in conf/README.md. */
export const CONFIG_DEFAULTS = {
  interface: { name: "any", address: "0.0.0.0", priority: 10 },
  admin: {
    enabled: true,
    address: "127.0.0.1",
    port: 32501,
    allow: ["127.0.0.0/8"],
    readTimeout: 30,
  },
  ike: {
    dpd: 30,
    dpdAction: "clear",
    rekey: 4 * 3600,
    retransmitTimeout: 1,
    retransmitTries: 5,
    natT: "auto",
    fragmentation: true,
    fragmentSize: 1280,
    mobike: false,
  },
  esp: { rekey: 3600, replayWindow: 1024, pfs: true },
  /** The root `<ike>`: IKE_SA_INIT admission limits and the NAT keepalive interval (RFC 3948). */
  globalIke: { ...DEFAULT_INIT_ADMISSION_LIMITS, natKeepalive: 20 },
  /**
   * `<data_plane>`: ESP in two worker threads with TUN offloads (falls back to the main thread
   * where workers cannot run).
   */
  dataPlane: { workers: 2, offload: true },
  peer: { port: 500, auto: "add" },
  /** Rekey intervals other than 0 (off) must be at least this long, to avoid rekey storms. */
  minRekeySeconds: 10,
} as const;

const INTERFACE_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,14}$/;
const REALM_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const MAX_REALM_ID = 0xffffffff;

/**
 * Reads a configuration file as text.
 *
 * @throws {ConfigError} naming the file when it cannot be read.
 */
export async function readConfigFile(path: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (e) {
    const problem = e instanceof Deno.errors.NotFound
      ? "cannot read the file: it does not exist"
      : e instanceof Deno.errors.NotCapable
      ? "cannot read the file: the program has no read permission for it (Deno --allow-read)"
      : e instanceof Deno.errors.PermissionDenied
      ? "cannot read the file: permission denied"
      : e instanceof Deno.errors.IsADirectory
      ? "cannot read the file: it is a directory"
      : `cannot read the file: ${e instanceof Error ? e.message : String(e)}`;
    throw new ConfigError({ file: path, problem }, { cause: e });
  }
}

/**
 * Reads and validates conf/rockhopper.xml.
 *
 * @throws {ConfigError} when the file is unreadable, malformed or invalid.
 *
 * @example
 * ```ts
 * const config = await loadConfig("conf/rockhopper.xml");
 * config.realms[0]?.tunnelInterface.name; // "rhp0"
 * ```
 */
export async function loadConfig(path: string): Promise<RockhopperConfig> {
  return parseConfig(await readConfigFile(path), path);
}

/**
 * Reads and validates conf/auth.xml. Secrets never appear in errors or logs.
 *
 * @throws {ConfigError} when the file is unreadable, malformed or invalid.
 *
 * @example
 * ```ts
 * const auth = await loadAuthConfig("conf/auth.xml");
 * auth.realms[0]?.myAuth.id; // "fqdn:rockhopper.local"
 * ```
 */
export async function loadAuthConfig(path: string): Promise<AuthConfig> {
  return parseAuthConfig(await readConfigFile(path), path);
}

/**
 * Validates the text of a rockhopper.xml; `file` names it in errors.
 *
 * @throws {ConfigError} on the first problem found.
 *
 * @example
 * ```ts
 * const config = parseConfig(
 *   `<rockhopper version="1">
 *      <realm id="1" name="default"><tunnel_interface name="rhp0" address="10.255.0.1/24"/></realm>
 *    </rockhopper>`,
 *   "inline.xml",
 * );
 * config.realms[0]?.ike.suites; // DEFAULT_IKE_SUITES
 * ```
 */
export function parseConfig(text: string, file: string): RockhopperConfig {
  const root = new ElementReader(parseXml(text, file), file);
  checkRoot(root, {
    expected: "rockhopper",
    hints: {
      rockhopper_auth: "this is an auth file (root <rockhopper_auth>): pass it with -a, not -f",
      rhp_config:
        'this is a configuration of the original C Rockhopper: convert it to <rockhopper version="1"> (see conf/README.md)',
    },
  });
  root.allow(["version"], ["interfaces", "admin", "ike", "data_plane", "realm"]);

  const interfacesElement = root.optionalChild("interfaces");
  const interfaces = interfacesElement
    ? readInterfaces(interfacesElement)
    : [{ ...CONFIG_DEFAULTS.interface }];
  const adminElement = root.optionalChild("admin");
  const admin = adminElement ? readAdmin(adminElement) : {
    ...CONFIG_DEFAULTS.admin,
    allow: [...CONFIG_DEFAULTS.admin.allow],
  };

  const ikeElement = root.optionalChild("ike");
  const ike = ikeElement ? readGlobalIke(ikeElement) : { ...CONFIG_DEFAULTS.globalIke };
  const dataPlaneElement = root.optionalChild("data_plane");
  const dataPlane = dataPlaneElement
    ? readDataPlane(dataPlaneElement)
    : { ...CONFIG_DEFAULTS.dataPlane };

  const realmElements = root.children("realm");
  if (realmElements.length === 0) {
    root.fail("no <realm>: define at least one realm, or the appliance has nothing to do");
  }
  const realms = realmElements.map(readRealm);
  checkRealmsDistinct(realms, interfaces, file);
  checkPoolsDistinct(realms, file);
  return { file, interfaces, admin, ike, dataPlane, realms };
}

function readInterfaces(element: ElementReader): InterfaceConfig[] {
  element.allow([], ["interface"]);
  const items = element.children("interface");
  if (items.length === 0) {
    element.fail('no <interface>: list at least one, e.g. <interface address="0.0.0.0"/>');
  }
  const seen = new Map<string, number>();
  const result = items.map((item) => {
    item.allow(["name", "address", "priority"], []);
    const name = item.optional("name") ?? CONFIG_DEFAULTS.interface.name;
    if (!INTERFACE_NAME.test(name)) {
      item.fail(`"${name}" is not a network interface name (1-15 of A-Z a-z 0-9 _ . -)`, "name");
    }
    const address = requiredAddress(item, "address");
    const previous = seen.get(address);
    if (previous !== undefined) {
      item.fail(`duplicate address ${address} (already on line ${previous})`, "address");
    }
    seen.set(address, item.line);
    const priority = item.integer("priority", {
      min: 0,
      max: 65535,
      fallback: CONFIG_DEFAULTS.interface.priority,
    });
    return item.remember({ name, address, priority });
  });
  // A wildcard already listens on every address of its family; a second socket would clash.
  for (const [wildcard, family] of [["0.0.0.0", 4], ["::", 6]] as const) {
    if (!seen.has(wildcard)) continue;
    const clash = result.find((i) =>
      i.address !== wildcard && parseIpAddress(i.address)?.family === family
    );
    if (clash) {
      const item = items[result.indexOf(clash)]!;
      item.fail(
        `${wildcard} already covers every IPv${family} address: remove it or the specific addresses`,
        "address",
      );
    }
  }
  return result;
}

function requiredAddress(element: ElementReader, attribute: string): string {
  const text = element.required(attribute);
  const address = parseIpAddress(text);
  if (!address) element.fail(`"${text}" is not an IPv4 or IPv6 address`, attribute);
  return formatIpAddress(address);
}

/** Bounds of `<admin read_timeout>` in seconds. */
const ADMIN_READ_TIMEOUT = { min: 1, max: 300 } as const;

function readAdmin(element: ElementReader): AdminConfig {
  element.allow(["enabled", "address", "port", "allow", "cert", "key", "read_timeout"], []);
  const d = CONFIG_DEFAULTS.admin;
  const admin: AdminConfig = {
    enabled: element.yesNo("enabled", d.enabled),
    address: element.has("address") ? requiredAddress(element, "address") : d.address,
    port: element.integer("port", { min: 1, max: 65535, fallback: d.port }),
    allow: readPrefixList(element, "allow")?.map(formatPrefix) ?? [...d.allow],
    readTimeout: element.duration("read_timeout", d.readTimeout),
  };
  const { min, max } = ADMIN_READ_TIMEOUT;
  if (admin.readTimeout < min || admin.readTimeout > max) {
    element.fail(
      `read timeout ${admin.readTimeout}s is out of range ${min}s-${max}s`,
      "read_timeout",
    );
  }
  const cert = element.optional("cert");
  const key = element.optional("key");
  if ((cert === undefined) !== (key === undefined)) {
    element.fail(
      "HTTPS needs both cert and key (PEM files); give both or neither",
      cert === undefined ? "key" : "cert",
    );
  }
  if (cert !== undefined && key !== undefined) {
    admin.cert = cert;
    admin.key = key;
  }
  return element.remember(admin);
}

/** Bounds of the root `<ike>`'s attributes. */
const GLOBAL_IKE_LIMITS = {
  count: 1_000_000,
  natKeepalive: { min: 1, max: 300 },
} as const;

/** Most data-plane workers `<data_plane workers>` accepts. */
export const MAX_DATA_PLANE_WORKERS = 64;

function readDataPlane(element: ElementReader): DataPlaneConfig {
  element.allow(["workers", "offload"], []);
  const workers = element.integer("workers", {
    min: 0,
    max: MAX_DATA_PLANE_WORKERS,
    fallback: CONFIG_DEFAULTS.dataPlane.workers,
  });
  const offload = element.choice("offload", {
    allowed: ["yes", "no"],
    fallback: CONFIG_DEFAULTS.dataPlane.offload ? "yes" : "no",
  }) === "yes";
  return element.remember({ workers, offload });
}

function readGlobalIke(element: ElementReader): IkeGlobalConfig {
  element.allow([
    "cookie_threshold",
    "init_rate_limit",
    "cookie_rate_limit",
    "half_open_limit",
    "nat_keepalive",
  ], []);
  const d = CONFIG_DEFAULTS.globalIke;
  const max = GLOBAL_IKE_LIMITS.count;
  const ike: IkeGlobalConfig = {
    cookieThreshold: element.integer("cookie_threshold", {
      min: 0,
      max,
      fallback: d.cookieThreshold,
    }),
    initRateLimit: element.integer("init_rate_limit", { min: 1, max, fallback: d.initRateLimit }),
    cookieRateLimit: element.integer("cookie_rate_limit", {
      min: 1,
      max,
      fallback: d.cookieRateLimit,
    }),
    halfOpenLimit: element.integer("half_open_limit", { min: 1, max, fallback: d.halfOpenLimit }),
    natKeepalive: element.duration("nat_keepalive", d.natKeepalive),
  };
  if (ike.halfOpenLimit <= ike.cookieThreshold) {
    // Blame what the operator wrote; with both written, the limit.
    const attribute = element.has("half_open_limit") ? "half_open_limit" : "cookie_threshold";
    element.fail(
      `half_open_limit ${ike.halfOpenLimit} must be above cookie_threshold ${ike.cookieThreshold}, or COOKIEs are never asked for before requests are dropped`,
      attribute,
    );
  }
  const { min, max: maxKeepalive } = GLOBAL_IKE_LIMITS.natKeepalive;
  if (ike.natKeepalive !== 0 && (ike.natKeepalive < min || ike.natKeepalive > maxKeepalive)) {
    element.fail(
      `${ike.natKeepalive}s is outside ${min}s-${maxKeepalive}s (NAT mappings expire after 30-180 s); 0 turns keepalives off`,
      "nat_keepalive",
    );
  }
  return element.remember(ike);
}

function readRealm(element: ElementReader): RealmConfig {
  element.allow(["id", "name", "mode", "enabled"], [
    "tunnel_interface",
    "ike",
    "esp",
    "traffic",
    "peer",
    "pool",
    "request_address",
  ]);
  const id = element.requiredInteger("id", { min: 1, max: MAX_REALM_ID });
  const name = element.required("name");
  if (!REALM_NAME.test(name)) {
    element.fail(`"${name}" is not a realm name (1-64 of A-Z a-z 0-9 _ . -)`, "name");
  }
  const mode = element.choice("mode", { allowed: ["l3", "l2"], fallback: "l3" });
  const enabled = element.yesNo("enabled", true);
  const tunnel = readTunnelInterface(element.requiredChild("tunnel_interface"));
  const ikeElement = element.optionalChild("ike");
  const espElement = element.optionalChild("esp");
  const trafficElement = element.optionalChild("traffic");
  const ike = ikeElement ? readIke(ikeElement) : defaultIkePolicy();
  const esp = espElement ? readEsp(espElement) : defaultEspPolicy();
  const tunnelNetwork = formatPrefix(networkOf(parsePrefix(tunnel.address) as IpPrefix));
  const traffic = readTraffic(trafficElement, tunnelNetwork);

  const peerIds = new Map<string, number>();
  const peers = element.children("peer").map((peerElement) => {
    const peer = readPeer(peerElement);
    const previous = peerIds.get(peer.id);
    if (previous !== undefined) {
      peerElement.fail(`peer ${peer.id} is listed twice (first on line ${previous})`, "id");
    }
    peerIds.set(peer.id, peerElement.line);
    return peer;
  });
  return element.remember({
    id,
    name,
    mode,
    enabled,
    tunnelInterface: tunnel,
    ike,
    esp,
    traffic,
    peers,
    ...readRealmAddressing(element, tunnel.address),
  });
}

function readTunnelInterface(element: ElementReader): TunnelInterfaceConfig {
  element.allow(["name", "address", "mtu"], []);
  const name = element.required("name");
  if (!INTERFACE_NAME.test(name)) {
    element.fail(`"${name}" is not a network interface name (1-15 of A-Z a-z 0-9 _ . -)`, "name");
  }
  const addressText = element.required("address");
  if (!addressText.includes("/")) {
    element.fail(`"${addressText}" needs a prefix length, e.g. 10.1.0.1/24`, "address");
  }
  const prefix = parsePrefix(addressText);
  if (typeof prefix === "string") {
    element.fail(`bad address "${addressText}": ${prefix}`, "address");
  }
  const hostPrefix = prefix.family === 4 ? 31 : 127;
  if (prefix.length < hostPrefix && !hasHostBits(prefix)) {
    element.fail(
      `"${addressText}" is the network address itself; give this end's own address, e.g. ${
        formatPrefix({ ...prefix, bytes: withLastByte(prefix.bytes, 1) })
      }`,
      "address",
    );
  }
  if (prefix.family === 4 && prefix.length < hostPrefix && isAllOnesHost(prefix)) {
    element.fail(`"${addressText}" is the broadcast address of its network`, "address");
  }
  const mtuText = element.optional("mtu") ?? "auto";
  let mtu: number | "auto" = "auto";
  if (mtuText !== "auto") {
    const min = prefix.family === 6 ? 1280 : 576;
    mtu = element.integer("mtu", { min, max: 9000, fallback: 0 });
  }
  return element.remember({ name, address: formatPrefix(prefix), mtu });
}

function withLastByte(bytes: Uint8Array, value: number): Uint8Array {
  const copy = bytes.slice();
  copy[copy.length - 1] = value;
  return copy;
}

function readSuites(
  element: ElementReader,
  kind: "IKE" | "ESP",
  known: ReadonlyMap<string, unknown>,
  fallback: readonly string[],
): string[] {
  const names = element.list("suites");
  if (names === undefined) return [...fallback];
  const seen = new Set<string>();
  for (const name of names) {
    if (!known.has(name)) {
      element.fail(
        `unknown ${kind} suite "${name}" (known: ${[...known.keys()].join(", ")})`,
        "suites",
      );
    }
    if (seen.has(name)) element.fail(`${kind} suite "${name}" is listed twice`, "suites");
    seen.add(name);
  }
  return names;
}

function readRekey(element: ElementReader, fallback: number): number {
  const seconds = element.duration("rekey", fallback);
  if (seconds !== 0 && seconds < CONFIG_DEFAULTS.minRekeySeconds) {
    element.fail(
      `rekey interval ${seconds}s is too short: use 0 (off) or at least ${CONFIG_DEFAULTS.minRekeySeconds}s`,
      "rekey",
    );
  }
  return seconds;
}

/** First retransmission timeout: 1 s to 60 s. */
function readRetransmitTimeout(element: ElementReader, fallback: number): number {
  const seconds = element.duration("retransmit_timeout", fallback);
  if (seconds < 1 || seconds > 60) {
    element.fail(`${seconds}s is outside 1s..60s`, "retransmit_timeout");
  }
  return seconds;
}

function defaultIkePolicy(): IkePolicyConfig {
  return { suites: [...DEFAULT_IKE_SUITES], ...CONFIG_DEFAULTS.ike };
}

function readIke(element: ElementReader): IkePolicyConfig {
  element.allow([
    "suites",
    "dpd",
    "dpd_action",
    "rekey",
    "retransmit_timeout",
    "retransmit_tries",
    "nat_t",
    "fragmentation",
    "fragment_size",
    "mobike",
  ], []);
  const d = CONFIG_DEFAULTS.ike;
  return element.remember({
    suites: readSuites(element, "IKE", IKE_SUITES, DEFAULT_IKE_SUITES),
    dpd: element.duration("dpd", d.dpd),
    dpdAction: element.choice("dpd_action", {
      allowed: ["clear", "restart", "hold"],
      fallback: d.dpdAction,
    }),
    rekey: readRekey(element, d.rekey),
    retransmitTimeout: readRetransmitTimeout(element, d.retransmitTimeout),
    retransmitTries: element.integer("retransmit_tries", {
      min: 0,
      max: 10,
      fallback: d.retransmitTries,
    }),
    natT: element.choice("nat_t", { allowed: ["auto", "force", "no"], fallback: d.natT }),
    fragmentation: element.yesNo("fragmentation", d.fragmentation),
    fragmentSize: element.integer("fragment_size", {
      min: 576,
      max: 9000,
      fallback: d.fragmentSize,
    }),
    mobike: element.yesNo("mobike", d.mobike),
  });
}

function defaultEspPolicy(): EspPolicyConfig {
  return { suites: [...DEFAULT_ESP_SUITES], ...CONFIG_DEFAULTS.esp };
}

function readEsp(element: ElementReader): EspPolicyConfig {
  element.allow(["suites", "rekey", "replay_window", "pfs"], []);
  const d = CONFIG_DEFAULTS.esp;
  return element.remember({
    suites: readSuites(element, "ESP", ESP_SUITES, DEFAULT_ESP_SUITES),
    rekey: readRekey(element, d.rekey),
    replayWindow: readReplayWindow(element, d.replayWindow),
    pfs: element.yesNo("pfs", d.pfs),
  });
}

/** The anti-replay window: what `ReplayWindow` implements, a multiple of 32 in 32..4096. */
function readReplayWindow(element: ElementReader, fallback: number): number {
  const size = element.integer("replay_window", {
    min: REPLAY_WINDOW_MIN,
    max: REPLAY_WINDOW_MAX,
    fallback,
  });
  if (size % 32 !== 0) element.fail(`${size} is not a multiple of 32`, "replay_window");
  return size;
}

function readTraffic(element: ElementReader | undefined, tunnelNetwork: string): TrafficConfig {
  if (!element) return { local: [tunnelNetwork], remote: [tunnelNetwork] };
  element.allow(["local", "remote"], []);
  return element.remember({
    local: readPrefixList(element, "local")?.map(formatPrefix) ?? [tunnelNetwork],
    remote: readPrefixList(element, "remote")?.map(formatPrefix) ?? [tunnelNetwork],
  });
}

function readPeer(element: ElementReader): PeerConfig {
  element.allow(["id", "address", "port", "auto"], []);
  const idText = element.required("id");
  const identity = parseIdentity(idText);
  if (typeof identity === "string") element.fail(identity, "id");
  const auto = element.choice("auto", {
    allowed: ["start", "add"],
    fallback: CONFIG_DEFAULTS.peer.auto,
  });
  const port = element.integer("port", { min: 1, max: 65535, fallback: CONFIG_DEFAULTS.peer.port });
  let address: string | undefined;
  if (element.has("address")) {
    address = requiredAddress(element, "address");
    if (address === "0.0.0.0" || address === "::") {
      element.fail(`${address} is not a peer address (leave "address" out instead)`, "address");
    }
  }
  if (auto === "start" && address === undefined) {
    element.fail('auto="start" needs an address to initiate to', "auto");
  }
  const peer: PeerConfig = { id: identity.text, port, auto };
  if (address !== undefined) peer.address = address;
  return element.remember(peer);
}

function checkRealmsDistinct(
  realms: RealmConfig[],
  interfaces: InterfaceConfig[],
  file: string,
): void {
  const interfaceNames = new Set(interfaces.map((i) => i.name));
  realms.forEach((realm, i) => {
    const tunnel = realm.tunnelInterface;
    const fail = (value: object, problem: string, attribute: string): never =>
      failAtSource(value, { file, problem, attribute });
    if (interfaceNames.has(tunnel.name)) {
      fail(tunnel, `"${tunnel.name}" is already an <interface> the appliance listens on`, "name");
    }
    for (const other of realms.slice(0, i)) {
      const otherLine = sourceOf(other)?.line;
      if (other.id === realm.id) {
        fail(realm, `duplicate realm id ${realm.id} (first on line ${otherLine})`, "id");
      }
      if (other.name === realm.name) {
        fail(realm, `duplicate realm name "${realm.name}" (first on line ${otherLine})`, "name");
      }
      if (other.tunnelInterface.name === tunnel.name) {
        fail(
          tunnel,
          `tunnel interface "${tunnel.name}" is already used by realm ${other.id} (line ${
            sourceOf(other.tunnelInterface)?.line
          })`,
          "name",
        );
      }
      const mine = networkOf(parsePrefix(tunnel.address) as IpPrefix);
      const theirs = networkOf(parsePrefix(other.tunnelInterface.address) as IpPrefix);
      if (prefixesOverlap(mine, theirs)) {
        fail(
          tunnel,
          `tunnel network ${formatPrefix(mine)} overlaps realm ${other.id}'s ${
            formatPrefix(theirs)
          }`,
          "address",
        );
      }
      for (const peer of realm.peers) {
        if (other.peers.some((p) => p.id === peer.id)) {
          fail(
            peer,
            `peer ${peer.id} is also in realm ${other.id}: an identity belongs to one realm`,
            "id",
          );
        }
      }
    }
  });
}
