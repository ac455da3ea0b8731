/**
 * Our appliance as a node of a {@link NetnsLab}: typed options become `rockhopper.xml` and
 * `auth.xml` in a private temp dir, and `deno run --allow-all main.ts -f … -a … -l debug` runs
 * inside a lab namespace (in its own session, output appended to `rockhopper.log`).
 *
 * The appliance creates the realm's TUN device itself and puts `<tunnel_interface address>` on
 * it, so the inner address (e.g. `10.1.0.1/24`) needs no extra set-up in the namespace.
 *
 * @example
 * ```ts
 * const gw1 = new RockhopperNode(lab, {
 *   namespace: "gw1",
 *   listenAddress: "198.51.100.1",
 *   tunnelInterface: "rhp1",
 *   tunnelAddress: "10.1.0.1/24",
 *   trafficLocal: ["10.1.0.0/24"],
 *   trafficRemote: ["10.2.0.0/24"],
 *   myId: "fqdn:gw1.example.com",
 *   peers: [{ id: "fqdn:gw2.example.com", address: "198.51.100.2", auto: "start", psk }],
 * });
 * await gw1.start();
 * await gw1.waitForLog(/CHILD_SA installed/);
 * ```
 */
import { NetnsError, type NetnsLab, type NetnsProcess } from "./harness.ts";

/** The repository root (the directory of main.ts and deno.json). */
export const REPO_ROOT: string = new URL("../../", import.meta.url).pathname;
/** Where failing tests leave their logs. */
export const ARTIFACTS_DIR: string = new URL("../artifacts/", import.meta.url).pathname;
/** The line the appliance logs once its IKE sockets are open. */
export const LISTENING_PATTERN = /main\s+listening for IKE on /;
/**
 * `CHILD_SA installed: <suite>, SPIs in 0x<in> out 0x<out>, <local> === <remote>[, UDP-encapsulated]`
 * (one prefix per side; lists of several are space separated and not matched).
 */
export const CHILD_SA_INSTALLED_PATTERN =
  /CHILD_SA installed: (\S+), SPIs in 0x([0-9a-f]{8}) out 0x([0-9a-f]{8}), (\S+) === (\S+?)(, UDP-encapsulated)?$/m;

/** A child SA as the appliance logged it. */
export interface LoggedChildSa {
  /** ESP suite name, e.g. `aes256gcm16`. */
  suite: string;
  /** Our inbound SPI, 8 lower-case hex digits. */
  spiIn: string;
  /** Our outbound SPI, 8 lower-case hex digits. */
  spiOut: string;
  /** Our traffic selector. */
  localTs: string;
  /** The peer's traffic selector. */
  remoteTs: string;
  udpEncapsulated: boolean;
}

/** How long {@link RockhopperNode.stop} waits after SIGTERM (the appliance deletes its SAs). */
export const STOP_GRACE_MS = 5_000;

/**
 * The deno binary to run main.ts with: the one running the tests. When `node_modules` was
 * reinstalled meanwhile, Linux reports the old file as `<path> (deleted)`; the path itself then
 * holds the new copy.
 */
export function denoExecutable(): string {
  return Deno.execPath().replace(/ \(deleted\)$/, "");
}

/** A `<peer>` of the realm plus its key in auth.xml. */
export interface RockhopperPeerOptions {
  /** Identity the peer sends, e.g. `fqdn:gw2.example.com`. */
  id: string;
  /** The peer's outer address (needed for `auto: "start"`). */
  address?: string;
  /** The peer's IKE port (default 500). */
  port?: number;
  /** `start`: initiate at start-up; `add` (default): respond only. */
  auto?: "start" | "add";
  /** The key shared with this peer (`<peer psk>` in auth.xml); absent: realm-wide key only. */
  psk?: string;
  /**
   * How the peer authenticates (`<peer auth>` in auth.xml): `cert` needs
   * {@link RockhopperNodeOptions.caFiles}; `psk` (default) uses {@link psk} or the realm key.
   */
  auth?: "psk" | "cert" | "eap-md5" | "eap-mschapv2";
}

/**
 * Our own certificate (`<my_auth method="cert">` in auth.xml).
 *
 * @example
 * ```ts
 * const gw1 = new RockhopperNode(lab, { namespace: "gw1", listenAddress: "198.51.100.1",
 *   tunnelInterface: "rhp1", tunnelAddress: "10.1.0.1/24", myId: "fqdn:gw-rsa.example.com",
 *   myCert: { cert: `${pki}/gw-rsa.crt`, key: `${pki}/gw-rsa.key`,
 *     chain: [`${pki}/intermediate.crt`] },
 *   caFiles: [`${pki}/root.crt`], crlFiles: [`${pki}/intermediate.crl`],
 *   peers: [{ id: "fqdn:gw-p256.example.com", address: "198.51.100.2", auto: "start",
 *     auth: "cert" }] });
 * ```
 */
export interface RockhopperCertOptions {
  /** Certificate file (PEM or DER); copied into the node's directory. */
  cert: string;
  /** Its private key file (PEM, not encrypted); copied with mode 0600. */
  key: string;
  /** Intermediate CA certificate files sent along with ours (`chain`). */
  chain?: readonly string[];
}

/** Where a certificate-related file of a node lives, relative to its auth.xml. */
export interface NodeCredentialFile {
  source: string;
  /** Path relative to the node's directory (the folder of auth.xml). */
  target: string;
  mode: number;
}

/**
 * The files {@link RockhopperNode.start} copies into the node's directory for certificate
 * authentication, under fixed names (`pki/my.crt`, `pki/my.key`, `pki/chain-0.crt`,
 * `pki/ca-0.crt`, `pki/crl-0.crl`, ...) that {@link renderAuthXml} refers to.
 */
export function nodeCredentialFiles(options: RockhopperNodeOptions): NodeCredentialFile[] {
  const files: NodeCredentialFile[] = [];
  if (options.myCert !== undefined) {
    files.push({ source: options.myCert.cert, target: "pki/my.crt", mode: 0o644 });
    files.push({ source: options.myCert.key, target: "pki/my.key", mode: 0o600 });
    (options.myCert.chain ?? []).forEach((source, i) =>
      files.push({ source, target: `pki/chain-${i}.crt`, mode: 0o644 })
    );
  }
  (options.caFiles ?? []).forEach((source, i) =>
    files.push({ source, target: `pki/ca-${i}.crt`, mode: 0o644 })
  );
  (options.crlFiles ?? []).forEach((source, i) =>
    files.push({ source, target: `pki/crl-${i}.crl`, mode: 0o644 })
  );
  return files;
}

/** Options of {@link RockhopperNode}. */
export interface RockhopperNodeOptions {
  /** Lab namespace (short name) the appliance runs in. */
  namespace: string;
  /** Outer address to listen on (`<interface address>`); must exist in the namespace. */
  listenAddress: string;
  /** `<interface name>` (logs only), default `eth0`. */
  interfaceName?: string;
  /**
   * The root `<ike>`: IKE_SA_INIT admission limits and the NAT keepalive interval (e.g. `5s`);
   * absent attributes keep the appliance's defaults.
   */
  globalIke?: {
    cookieThreshold?: number;
    initRateLimit?: number;
    cookieRateLimit?: number;
    halfOpenLimit?: number;
    natKeepalive?: string;
  };
  /**
   * `<data_plane workers>`: ESP in that many worker threads (0 = main thread). Default: the
   * environment variable `RHP_DATA_PLANE_WORKERS` when set (to run any test or the benchmark
   * against the worker data plane), else the appliance's default.
   */
  dataPlaneWorkers?: number;
  /**
   * `<data_plane offload>`; default: `RHP_DATA_PLANE_OFFLOAD` (`yes`/`no`) when set, else the
   * appliance's default.
   */
  dataPlaneOffload?: boolean;
  /** Realm id, default 1. */
  realmId?: number;
  /** Realm name, default `lab`. */
  realmName?: string;
  /** Name of the TUN device the appliance creates, e.g. `rhp1`. */
  tunnelInterface: string;
  /** Inner address with prefix length, e.g. `10.1.0.1/24`. */
  tunnelAddress: string;
  /** IKE suites in preference order; the appliance's default when absent. */
  ikeSuites?: readonly string[];
  /** ESP suites in preference order; the appliance's default when absent. */
  espSuites?: readonly string[];
  /** `<ike dpd>`, e.g. `30s` or `0`. */
  dpd?: string;
  /** `<ike dpd_action>`: `clear`, `restart` or `hold`. */
  dpdAction?: "clear" | "restart" | "hold";
  /** `<ike rekey>`, e.g. `10s`; `0` = off. */
  ikeRekey?: string;
  /** `<ike retransmit_timeout>` (e.g. `1s`) and `<ike retransmit_tries>`. */
  retransmitTimeout?: string;
  retransmitTries?: number;
  /** `<esp rekey>`, e.g. `10s`; `0` = off. */
  espRekey?: string;
  /** `<esp pfs>`. */
  pfs?: boolean;
  /** `<esp replay_window>`: anti-replay window in packets (a multiple of 32 in 32..4096). */
  replayWindow?: number;
  /** `<ike nat_t>`: `auto` (the appliance's default), `force` or `no`. */
  natT?: "auto" | "force" | "no";
  /** `<ike fragmentation>` (the appliance's default: yes). */
  fragmentation?: boolean;
  /** `<ike fragment_size>`: largest IP datagram of an IKE fragment (default 1280). */
  fragmentSize?: number;
  /** Our traffic selectors; the tunnel network when absent. */
  trafficLocal?: readonly string[];
  /** The peers' traffic selectors; the tunnel network when absent. */
  trafficRemote?: readonly string[];
  /** `<pool>`: inner addresses (and DNS settings) the realm lends to peers. */
  pool?: { address: string; dns?: string; domain?: string; subnets?: string };
  /** `<request_address family>`: ask the responder for an inner address. */
  requestAddress?: "ipv4" | "ipv6" | "both";
  /** Our identity (`<my_auth id>`), e.g. `fqdn:gw1.example.com`. */
  myId: string;
  /** Realm-wide key (`<my_auth psk>`). */
  realmPsk?: string;
  /** Our certificate: `<my_auth method="cert">` instead of `psk` (then no {@link realmPsk}). */
  myCert?: RockhopperCertOptions;
  /**
   * We are an EAP client (`<my_auth method="eap-...">` with `eap_id` and `password`); the
   * responder proves itself with the `psk` of its {@link peers} entry.
   */
  myEap?: { method: "eap-md5" | "eap-mschapv2"; identity: string; password: string };
  /** `<role>` rules of the realm in auth.xml (peers admitted without a `<peer>` listing). */
  roles?: readonly { type: string; match?: string; auth?: string }[];
  /** `<eap_user>` entries for peers with `auth: "eap-..."`. */
  eapUsers?: readonly { name: string; password: string }[];
  /** Trusted CA certificate files for peers with `auth: "cert"` (`<ca file>`). */
  caFiles?: readonly string[];
  /** Revocation lists checked for peer certificates (`<crl file>`). */
  crlFiles?: readonly string[];
  /** Peers of the realm with their keys. */
  peers: readonly RockhopperPeerOptions[];
  /**
   * Web users of the management server (`<admin>` in auth.xml; `hash` from
   * `rockhopper hash-password`). The server itself runs with the default `<admin>`:
   * 127.0.0.1:32501 inside the node's namespace.
   */
  webUsers?: readonly { user: string; hash: string; realm: "any" | number }[];
  /** `-l` level, default `debug`. Never `private` in tests that check logs for secrets. */
  logLevel?: "error" | "warn" | "info" | "debug" | "trace" | "private";
  /** `-u`: the user the main process switches to once its devices and sockets are open. */
  mainUser?: string;
  /**
   * `-s`: the user the secure process switches to. auth.xml and the key store are given to
   * `uid`/`gid` (only it may read them) and the node's directory is made traversable.
   */
  secureUser?: { spec: string; uid: number; gid: number };
  /**
   * Deno permission flags of the main process instead of `--allow-all`; `{dir}` stands for
   * the node's directory, e.g. `--allow-read={dir}/rockhopper.xml`.
   */
  denoPermissions?: readonly string[];
  /** Extra environment variables of the appliance's process (e.g. a debug switch). */
  env?: Readonly<Record<string, string>>;
}

function escapeXml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;");
}

function attributes(values: Record<string, string | number | undefined>): string {
  return Object.entries(values)
    .filter((entry): entry is [string, string | number] => entry[1] !== undefined)
    .map(([k, v]) => ` ${k}="${escapeXml(String(v))}"`)
    .join("");
}

/** An environment variable, undefined when unset or not readable (no --allow-env). */
function envText(name: string): string | undefined {
  try {
    return Deno.env.get(name);
  } catch {
    return undefined;
  }
}

/** `RHP_DATA_PLANE_WORKERS` as a number, when set (and readable). */
function dataPlaneWorkersFromEnv(): number | undefined {
  const text = envText("RHP_DATA_PLANE_WORKERS");
  if (text === undefined || text === "") return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0) {
    throw new RangeError(`RHP_DATA_PLANE_WORKERS=${text} is not a number of workers`);
  }
  return n;
}

/** Renders `rockhopper.xml` for `options`. */
export function renderRockhopperXml(options: RockhopperNodeOptions): string {
  const join = (list: readonly string[] | undefined) => list?.join(" ");
  const lines = [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<!-- Generated by test/netns/rockhopper_node.ts -->`,
    `<rockhopper version="1">`,
    `  <interfaces>`,
    `    <interface${
      attributes({ name: options.interfaceName ?? "eth0", address: options.listenAddress })
    }/>`,
    `  </interfaces>`,
  ];
  const globalIke = options.globalIke;
  if (globalIke !== undefined) {
    lines.push(`  <ike${
      attributes({
        cookie_threshold: globalIke.cookieThreshold,
        init_rate_limit: globalIke.initRateLimit,
        cookie_rate_limit: globalIke.cookieRateLimit,
        half_open_limit: globalIke.halfOpenLimit,
        nat_keepalive: globalIke.natKeepalive,
      })
    }/>`);
  }
  const workers = options.dataPlaneWorkers ?? dataPlaneWorkersFromEnv();
  const offloadText = envText("RHP_DATA_PLANE_OFFLOAD");
  const offload = options.dataPlaneOffload ??
    (offloadText === "yes" || offloadText === "no" ? offloadText === "yes" : undefined);
  if (workers !== undefined || offload !== undefined) {
    lines.push(
      `  <data_plane${
        attributes({ workers, offload: offload === undefined ? undefined : offload ? "yes" : "no" })
      }/>`,
    );
  }
  lines.push(
    `  <realm${attributes({ id: options.realmId ?? 1, name: options.realmName ?? "lab" })}>`,
    `    <tunnel_interface${
      attributes({ name: options.tunnelInterface, address: options.tunnelAddress })
    }/>`,
  );
  const ike = attributes({
    suites: join(options.ikeSuites),
    dpd: options.dpd,
    dpd_action: options.dpdAction,
    rekey: options.ikeRekey,
    retransmit_timeout: options.retransmitTimeout,
    retransmit_tries: options.retransmitTries,
    nat_t: options.natT,
    fragmentation: options.fragmentation === undefined
      ? undefined
      : options.fragmentation
      ? "yes"
      : "no",
    fragment_size: options.fragmentSize,
  });
  if (ike !== "") lines.push(`    <ike${ike}/>`);
  const esp = attributes({
    suites: join(options.espSuites),
    rekey: options.espRekey,
    pfs: options.pfs === undefined ? undefined : options.pfs ? "yes" : "no",
    replay_window: options.replayWindow,
  });
  if (esp !== "") lines.push(`    <esp${esp}/>`);
  const traffic = attributes({
    local: join(options.trafficLocal),
    remote: join(options.trafficRemote),
  });
  if (traffic !== "") lines.push(`    <traffic${traffic}/>`);
  if (options.pool !== undefined) lines.push(`    <pool${attributes({ ...options.pool })}/>`);
  if (options.requestAddress !== undefined) {
    lines.push(`    <request_address${attributes({ family: options.requestAddress })}/>`);
  }
  for (const peer of options.peers) {
    lines.push(
      `    <peer${
        attributes({ id: peer.id, address: peer.address, port: peer.port, auto: peer.auto })
      }/>`,
    );
  }
  lines.push(`  </realm>`, `</rockhopper>`, ``);
  return lines.join("\n");
}

/** Renders `auth.xml` for `options` (holds the keys: write it with mode 0600). */
export function renderAuthXml(options: RockhopperNodeOptions): string {
  const lines = [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<rockhopper_auth version="1">`,
    `  <realm${attributes({ id: options.realmId ?? 1 })}>`,
  ];
  const files = nodeCredentialFiles(options);
  const targets = (prefix: string) =>
    files.filter((f) => f.target.startsWith(prefix)).map((f) => f.target);
  if (options.myEap !== undefined) {
    lines.push(`    <my_auth${
      attributes({
        method: options.myEap.method,
        id: options.myId,
        eap_id: options.myEap.identity,
        password: options.myEap.password,
      })
    }/>`);
  } else if (options.myCert === undefined) {
    lines.push(
      `    <my_auth${attributes({ method: "psk", id: options.myId, psk: options.realmPsk })}/>`,
    );
  } else {
    const chain = targets("pki/chain-");
    lines.push(`    <my_auth${
      attributes({
        method: "cert",
        id: options.myId,
        cert: "pki/my.crt",
        key: "pki/my.key",
        chain: chain.length > 0 ? chain.join(" ") : undefined,
      })
    }/>`);
  }
  for (const file of targets("pki/ca-")) lines.push(`    <ca${attributes({ file })}/>`);
  for (const file of targets("pki/crl-")) lines.push(`    <crl${attributes({ file })}/>`);
  for (const peer of options.peers) {
    if (peer.auth !== undefined && peer.auth !== "psk") {
      lines.push(`    <peer${attributes({ id: peer.id, auth: peer.auth })}/>`);
    } else if (peer.psk !== undefined) {
      lines.push(`    <peer${attributes({ id: peer.id, psk: peer.psk })}/>`);
    }
  }
  for (const role of options.roles ?? []) {
    lines.push(`    <role${attributes({ type: role.type, match: role.match, auth: role.auth })}/>`);
  }
  for (const user of options.eapUsers ?? []) {
    lines.push(`    <eap_user${attributes({ name: user.name, password: user.password })}/>`);
  }
  lines.push(`  </realm>`);
  for (const user of options.webUsers ?? []) {
    lines.push(`  <admin${attributes({ user: user.user, hash: user.hash, realm: user.realm })}/>`);
  }
  lines.push(`</rockhopper_auth>`, ``);
  return lines.join("\n");
}

/**
 * One running appliance in a lab namespace. {@link stop} is registered as a lab cleanup hook,
 * so a failing test never leaks the process or its directory; the log stays readable through
 * {@link logText} after the stop.
 */
export class RockhopperNode {
  readonly options: RockhopperNodeOptions;
  readonly #lab: NetnsLab;
  #dir: string | undefined;
  #process: NetnsProcess | undefined;
  #finalLog: string | undefined;
  #stopped = false;

  constructor(lab: NetnsLab, options: RockhopperNodeOptions) {
    this.#lab = lab;
    this.options = options;
    lab.onCleanup(async () => {
      await this.stop();
    });
  }

  /** The private directory (rockhopper.xml, auth.xml, rockhopper.log); set by {@link start}. */
  get dir(): string {
    if (this.#dir === undefined) throw new NetnsError("Cannot use Rockhopper node: not started");
    return this.#dir;
  }

  /** The appliance process (process-group leader), once started. */
  get process(): NetnsProcess | undefined {
    return this.#process;
  }

  /** The inner address without prefix length, e.g. `10.1.0.1`. */
  get innerAddress(): string {
    return this.options.tunnelAddress.split("/")[0]!;
  }

  /**
   * Writes both files, starts the appliance and waits for its "listening for IKE" line. Throws
   * (with the log's tail) when the process exits or the line does not come in time.
   */
  async start(timeoutMs = 30_000): Promise<void> {
    if (this.#dir !== undefined) {
      throw new NetnsError("Cannot start Rockhopper node: already started");
    }
    // Named after the lab so that scripts/remove_stale_namespaces.sh can tell whose it is.
    const dir = await Deno.makeTempDir({
      prefix: `${this.#lab.prefix}-rh-${this.options.namespace}-`,
    });
    this.#dir = dir;
    await Deno.writeTextFile(`${dir}/rockhopper.xml`, renderRockhopperXml(this.options));
    await Deno.writeTextFile(`${dir}/auth.xml`, renderAuthXml(this.options), { mode: 0o600 });
    for (const file of nodeCredentialFiles(this.options)) {
      await Deno.mkdir(`${dir}/pki`, { recursive: true, mode: 0o700 });
      await Deno.copyFile(file.source, `${dir}/${file.target}`);
      await Deno.chmod(`${dir}/${file.target}`, file.mode);
    }
    const secureUser = this.options.secureUser;
    if (secureUser !== undefined) {
      // Only the -s user may read the secrets; everyone may traverse to rockhopper.xml.
      await Deno.chmod(dir, 0o711);
      await Deno.chmod(`${dir}/rockhopper.xml`, 0o644);
      await Deno.chown(`${dir}/auth.xml`, secureUser.uid, secureUser.gid);
      for (const file of nodeCredentialFiles(this.options)) {
        await Deno.chown(`${dir}/pki`, secureUser.uid, secureUser.gid);
        await Deno.chown(`${dir}/${file.target}`, secureUser.uid, secureUser.gid);
      }
    }
    const permissions = (this.options.denoPermissions ?? ["--allow-all"])
      .map((flag) => flag.replaceAll("{dir}", dir));
    this.#process = this.#lab.spawn(
      this.options.namespace,
      [
        denoExecutable(),
        "run",
        ...permissions,
        "--config",
        `${REPO_ROOT}deno.json`,
        `${REPO_ROOT}main.ts`,
        "-f",
        `${dir}/rockhopper.xml`,
        "-a",
        `${dir}/auth.xml`,
        "-l",
        this.options.logLevel ?? "debug",
        ...(this.options.mainUser === undefined ? [] : ["-u", this.options.mainUser]),
        ...(secureUser === undefined ? [] : ["-s", secureUser.spec]),
      ],
      {
        logFile: `${dir}/rockhopper.log`,
        env: { DENO_NO_UPDATE_CHECK: "1", ...this.options.env },
      },
    );
    await this.waitForLog(LISTENING_PATTERN, timeoutMs);
  }

  /**
   * Polls the log until a line matches `pattern`; returns the match. Throws with the log's tail
   * when the appliance exits first or `timeoutMs` passes.
   */
  async waitForLog(pattern: RegExp, timeoutMs = 20_000): Promise<RegExpMatchArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const exited = this.#process?.exited ?? true;
      const match = (await this.logText()).match(pattern);
      if (match !== null) return match;
      if (exited) {
        throw new NetnsError(
          `Cannot see ${pattern} in the log of ${this.options.namespace}: the appliance exited:\n` +
            await this.#logTail(),
        );
      }
      if (Date.now() >= deadline) {
        throw new NetnsError(
          `Cannot see ${pattern} in the log of ${this.options.namespace} within ${timeoutMs} ms:\n` +
            await this.#logTail(),
        );
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Waits for the first "CHILD_SA installed" line and returns what it says. */
  async waitForChildSa(timeoutMs = 20_000): Promise<LoggedChildSa> {
    const [, suite, spiIn, spiOut, localTs, remoteTs, encap] = await this.waitForLog(
      CHILD_SA_INSTALLED_PATTERN,
      timeoutMs,
    );
    return {
      suite: suite!,
      spiIn: spiIn!,
      spiOut: spiOut!,
      localTs: localTs!,
      remoteTs: remoteTs!,
      udpEncapsulated: encap !== undefined,
    };
  }

  /** The appliance's log so far ("" before start); still available after {@link stop}. */
  async logText(): Promise<string> {
    if (this.#finalLog !== undefined) return this.#finalLog;
    if (this.#dir === undefined) return "";
    try {
      return await Deno.readTextFile(`${this.#dir}/rockhopper.log`);
    } catch {
      return "";
    }
  }

  /** Copies the log to `path` (e.g. under test/artifacts/ when a test fails). */
  async saveLog(path: string): Promise<void> {
    await Deno.writeTextFile(path, await this.logText());
  }

  /**
   * SIGTERM (the appliance deletes its SAs and exits), SIGKILL after {@link STOP_GRACE_MS};
   * keeps the log in memory and removes the directory (it holds the keys). Idempotent.
   */
  async stop(): Promise<Deno.CommandStatus | undefined> {
    if (this.#stopped) return await this.#process?.status;
    this.#stopped = true;
    const status = await this.#process?.kill(STOP_GRACE_MS);
    this.#finalLog = await this.logText();
    if (this.#dir !== undefined) await Deno.remove(this.#dir, { recursive: true }).catch(() => {});
    return status;
  }

  async #logTail(): Promise<string> {
    return (await this.logText()).split("\n").slice(-25).join("\n");
  }
}

/** Anything whose log can be saved: a {@link RockhopperNode} or a StrongSwanPeer. */
export interface LogSource {
  logText(): Promise<string>;
}

/**
 * Saves the logs of a lab's nodes under {@link ARTIFACTS_DIR} when a test does not reach
 * {@link passed} — also on a {@link withLab} timeout, because saving runs as a lab cleanup hook
 * registered after the node's own stop hook (hooks run newest first, so the files still exist).
 *
 * @example
 * ```ts
 * const artifacts = new FailureArtifacts(lab, "ours-to-ours");
 * artifacts.add("gw1", gw1);
 * // ... assertions ...
 * artifacts.passed();
 * ```
 */
export class FailureArtifacts {
  readonly #lab: NetnsLab;
  readonly #label: string;
  #passed = false;

  constructor(lab: NetnsLab, label: string) {
    this.#lab = lab;
    this.#label = label.replace(/[^A-Za-z0-9_.-]+/g, "_");
  }

  /** Saves `source`'s log as `<lab prefix>-<label>-<name>.log` unless the test passed. */
  add(name: string, source: LogSource): void {
    this.#lab.onCleanup(async () => {
      if (this.#passed) return;
      const text = await source.logText();
      if (text === "") return; // never started
      const path = `${ARTIFACTS_DIR}${this.#lab.prefix}-${this.#label}-${name}.log`;
      await Deno.mkdir(ARTIFACTS_DIR, { recursive: true });
      await Deno.writeTextFile(path, text);
      console.error(`saved ${path}`);
    });
  }

  /** Marks the test as passed: nothing is saved. */
  passed(): void {
    this.#passed = true;
  }
}

/**
 * Polls `source`'s log (e.g. a StrongSwanPeer's charon.log) until `pattern` matches; returns
 * the match or throws with the log's tail after `timeoutMs`.
 *
 * @example
 * ```ts
 * await waitForLogText(charon, /received AUTHENTICATION_FAILED notify/, 10_000);
 * ```
 */
export async function waitForLogText(
  source: LogSource,
  pattern: RegExp,
  timeoutMs = 20_000,
): Promise<RegExpMatchArray> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const text = await source.logText();
    const match = text.match(pattern);
    if (match !== null) return match;
    if (Date.now() >= deadline) {
      throw new NetnsError(
        `Cannot see ${pattern} in the log within ${timeoutMs} ms:\n` +
          text.split("\n").slice(-25).join("\n"),
      );
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Identities of the standard gateway pair of {@link gatewayPair}. */
export const GW1_ID = "fqdn:gw1.example.com";
export const GW2_ID = "fqdn:gw2.example.com";

/**
 * The standard pair: namespaces `gw1` (198.51.100.1, LAN 10.1.0.0/24, initiates) and `gw2`
 * (198.51.100.2, LAN 10.2.0.0/24, responds) on one veth, sharing `psk`, liveness checks off.
 * `gw1`/`gw2` add or override options per side. Creates and links the namespaces; the nodes are
 * not started.
 */
export async function gatewayPair(
  lab: NetnsLab,
  psk: string,
  extra: { gw1?: Partial<RockhopperNodeOptions>; gw2?: Partial<RockhopperNodeOptions> } = {},
): Promise<{ gw1: RockhopperNode; gw2: RockhopperNode }> {
  await lab.addNamespace("gw1");
  await lab.addNamespace("gw2");
  await lab.link("gw1", "198.51.100.1/24", "gw2", "198.51.100.2/24");
  const gw1 = new RockhopperNode(lab, {
    namespace: "gw1",
    listenAddress: "198.51.100.1",
    tunnelInterface: "rhp1",
    tunnelAddress: "10.1.0.1/24",
    trafficLocal: ["10.1.0.0/24"],
    trafficRemote: ["10.2.0.0/24"],
    dpd: "0",
    myId: GW1_ID,
    peers: [{ id: GW2_ID, address: "198.51.100.2", auto: "start", psk }],
    ...extra.gw1,
  });
  const gw2 = new RockhopperNode(lab, {
    namespace: "gw2",
    listenAddress: "198.51.100.2",
    tunnelInterface: "rhp1",
    tunnelAddress: "10.2.0.1/24",
    trafficLocal: ["10.2.0.0/24"],
    trafficRemote: ["10.1.0.0/24"],
    dpd: "0",
    myId: GW2_ID,
    peers: [{ id: GW1_ID, auto: "add", psk }],
    ...extra.gw2,
  });
  return { gw1, gw2 };
}
