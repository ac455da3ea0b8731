/**
 * Network-namespace test harness: the single place for namespace plumbing.
 *
 * A {@link NetnsLab} creates namespaces named `<run prefix><lab number>-<name>`, links them with
 * veth pairs, runs commands inside them (`ip netns exec`) with hard timeouts, starts background
 * processes in their own session (`setsid`) so that a whole process group can be killed, and
 * removes everything it created in {@link NetnsLab.cleanup} — also when the test runner gets
 * SIGTERM (e.g. from the global `timeout` in scripts/test.sh). Every process that sends test
 * traffic runs inside a lab namespace; nothing is ever configured in the root namespace.
 *
 * Namespaces need root: wrap such tests with `ignore: requireRoot()` so that they are reported
 * as ignored (never as passed) elsewhere.
 *
 * @example
 * ```ts
 * Deno.test({ name: "pings across a veth", ignore: requireRoot(), fn: () =>
 *   withLab(async (lab) => {
 *     await lab.addNamespace("a");
 *     await lab.addNamespace("b");
 *     await lab.link("a", "198.51.100.1/24", "b", "198.51.100.2/24");
 *     assert.equal(await lab.ping("a", "198.51.100.2", { count: 2 }), 2);
 *   }) });
 * ```
 */

/** Every namespace of every lab starts with this; see scripts/remove_stale_namespaces.sh. */
export const NAMESPACE_PREFIX_ROOT = "rht";

/** The per-run prefix: `rht` + 5 random base36 characters, e.g. `rht0k3zq`. */
export const RUN_PREFIX: string = NAMESPACE_PREFIX_ROOT + randomBase36(5);

/** Default timeout of {@link NetnsLab.exec}. */
export const DEFAULT_EXEC_TIMEOUT_MS = 15_000;
/** Default overall timeout of {@link withLab}. */
export const DEFAULT_LAB_TIMEOUT_MS = 180_000;
/** How long {@link NetnsProcess.kill} waits after SIGTERM before it sends SIGKILL. */
export const KILL_GRACE_MS = 2_000;

const decoder = new TextDecoder();

function randomBase36(length: number): string {
  const bytes = crypto.getRandomValues(new Uint8Array(length));
  let s = "";
  for (const b of bytes) s += (b % 36).toString(36);
  return s;
}

/** A harness operation failed: a command exited non-zero, timed out, or output was unparsable. */
export class NetnsError extends Error {
  /** The command line that failed, if any. */
  readonly argv: readonly string[];
  constructor(message: string, argv: readonly string[] = []) {
    super(message);
    this.name = "NetnsError";
    this.argv = argv;
  }
}

/** True when the current process runs as uid 0. */
export function isRoot(): boolean {
  try {
    return Deno.uid() === 0;
  } catch {
    return false; // --allow-sys not granted: we cannot know, so treat as unprivileged
  }
}

/**
 * The `ignore` flag for `Deno.test` of tests that need namespaces: true unless the process runs
 * as root with `--allow-run` granted (namespace tests run through `ip` and other binaries).
 *
 * @example
 * ```ts
 * Deno.test({ name: "tunnel carries ping", ignore: requireRoot(), fn: async () => {} });
 * ```
 */
export function requireRoot(): boolean {
  const run = Deno.permissions.querySync({ name: "run" }).state;
  return !(run === "granted" && isRoot());
}

/** Result of a finished command. */
export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Options of {@link NetnsLab.exec}. */
export interface ExecOptions {
  /** Hard limit; the process group is SIGKILLed and a {@link NetnsError} thrown. */
  timeoutMs?: number;
  /** Extra environment variables. */
  env?: Record<string, string>;
}

/** Options of {@link NetnsLab.spawn}. */
export interface SpawnOptions {
  /** Append stdout and stderr of the process to this file (else they are discarded). */
  logFile?: string;
  /** Make stdout readable through {@link NetnsProcess.stdout} (exclusive with `logFile`). */
  pipeStdout?: boolean;
  /** Append only stderr to this file (exclusive with `logFile`); useful with `pipeStdout`. */
  stderrFile?: string;
  /** Extra environment variables. */
  env?: Record<string, string>;
}

/**
 * Runs `argv` in its own session so that `pid` is also the process-group id. `ip netns exec`
 * and `setsid` both exec in place (the child of Deno is not a group leader), so no extra fork
 * hides the group.
 */
function spawnInSession(
  ns: string | undefined,
  argv: readonly string[],
  options: { stdout: "piped" | "null"; stderr: "piped" | "null"; env?: Record<string, string> },
): Deno.ChildProcess {
  const full = ns === undefined
    ? ["setsid", ...argv]
    : ["ip", "netns", "exec", ns, "setsid", ...argv];
  const commandOptions: Deno.CommandOptions = {
    args: full.slice(1),
    stdin: "null",
    stdout: options.stdout,
    stderr: options.stderr,
  };
  if (options.env !== undefined) commandOptions.env = options.env;
  return new Deno.Command(full[0]!, commandOptions).spawn();
}

/** Sends `signal` to the process group `pgid`; false when the group no longer exists. */
function killGroup(pgid: number, signal: Deno.Signal): boolean {
  try {
    Deno.kill(-pgid, signal);
    return true;
  } catch {
    return false;
  }
}

async function readAll(stream: ReadableStream<Uint8Array> | null): Promise<string> {
  if (stream === null) return "";
  const parts: string[] = [];
  const textDecoder = new TextDecoder();
  for await (const chunk of stream) parts.push(textDecoder.decode(chunk, { stream: true }));
  parts.push(textDecoder.decode());
  return parts.join("");
}

/** Resolves after `ms`; the timer is cleared by calling the returned `cancel`. */
function delay(ms: number): { promise: Promise<void>; cancel: () => void } {
  let id: ReturnType<typeof setTimeout> | undefined;
  const promise = new Promise<void>((resolve) => {
    id = setTimeout(resolve, ms);
  });
  return { promise, cancel: () => clearTimeout(id) };
}

/**
 * Runs a command to completion (optionally inside namespace `ns`) with a hard timeout that kills
 * its whole process group. Exported for the few root-namespace commands the harness itself needs
 * (`ip netns add/del`); tests use {@link NetnsLab.exec}.
 */
export async function runCommand(
  ns: string | undefined,
  argv: readonly string[],
  options: ExecOptions = {},
): Promise<ExecResult> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_EXEC_TIMEOUT_MS;
  const spawnOptions: Parameters<typeof spawnInSession>[2] = { stdout: "piped", stderr: "piped" };
  if (options.env !== undefined) spawnOptions.env = options.env;
  const child = spawnInSession(ns, argv, spawnOptions);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    killGroup(child.pid, "SIGKILL");
  }, timeoutMs);
  try {
    // Grandchildren that keep the pipes open are in the same group and die with it on timeout.
    const [stdout, stderr, status] = await Promise.all([
      readAll(child.stdout),
      readAll(child.stderr),
      child.status,
    ]);
    if (timedOut) {
      throw new NetnsError(
        `Cannot run "${argv.join(" ")}"${
          ns === undefined ? "" : ` in ${ns}`
        }: timed out after ${timeoutMs} ms`,
        argv,
      );
    }
    return { code: status.code, stdout, stderr };
  } finally {
    clearTimeout(timer);
  }
}

/** Throws a {@link NetnsError} unless `result.code` is 0. */
function checkResult(
  result: ExecResult,
  ns: string | undefined,
  argv: readonly string[],
): ExecResult {
  if (result.code !== 0) {
    const where = ns === undefined ? "" : ` in ${ns}`;
    throw new NetnsError(
      `Cannot run "${argv.join(" ")}"${where}: exit code ${result.code}: ${result.stderr.trim()}`,
      argv,
    );
  }
  return result;
}

/**
 * A background process inside a namespace, leader of its own process group. {@link kill}
 * terminates the whole group (SIGTERM, then SIGKILL after {@link KILL_GRACE_MS}).
 */
export class NetnsProcess {
  /** Process id, equal to the process-group id. */
  readonly pid: number;
  /** The command as given to {@link NetnsLab.spawn}. */
  readonly argv: readonly string[];
  /** Namespace (full name) the process runs in. */
  readonly namespace: string;
  /** Resolves when the process exits. */
  readonly status: Promise<Deno.CommandStatus>;
  /** Stdout when spawned with `pipeStdout`, else null. */
  readonly stdout: ReadableStream<Uint8Array> | null;
  #exited = false;

  constructor(
    namespace: string,
    argv: readonly string[],
    child: Deno.ChildProcess,
    piped: boolean,
  ) {
    this.namespace = namespace;
    this.argv = argv;
    this.pid = child.pid;
    this.stdout = piped ? child.stdout : null;
    this.status = child.status.then((s) => {
      this.#exited = true;
      return s;
    });
  }

  /** True once the process has exited. */
  get exited(): boolean {
    return this.#exited;
  }

  /** Kills the process group and waits for the leader to exit. Idempotent. */
  async kill(graceMs: number = KILL_GRACE_MS): Promise<Deno.CommandStatus> {
    if (!this.#exited) {
      killGroup(this.pid, "SIGTERM");
      const grace = delay(graceMs);
      const exitedInTime = await Promise.race([
        this.status.then(() => true),
        grace.promise.then(() => false),
      ]);
      grace.cancel();
      if (!exitedInTime) killGroup(this.pid, "SIGKILL");
    }
    // Members that ignored SIGTERM while the leader exited must not outlive the test.
    killGroup(this.pid, "SIGKILL");
    if (this.stdout !== null && !this.stdout.locked) await this.stdout.cancel().catch(() => {});
    return await this.status;
  }

  /** Kills the group without waiting (signal handlers and synchronous cleanup). */
  killSync(): void {
    killGroup(this.pid, "SIGKILL");
  }
}

/** Options of {@link NetnsLab.ping}. */
export interface PingOptions {
  /** Source address (`ping -I`), e.g. an inner address on `lo`. */
  from?: string;
  /** Echo requests to send; default 3. */
  count?: number;
  /** Seconds between requests; default 0.2. */
  interval?: number;
  /** Seconds to wait for the last reply; default 2. */
  wait?: number;
  /** ICMP payload bytes (`ping -s`); the IPv4 packet is 28 bytes longer. */
  size?: number;
  /** Set DF and never fragment locally (`ping -M do`): a packet above the MTU is refused. */
  dontFragment?: boolean;
}

/** Device names of a veth pair created by {@link NetnsLab.link}. */
export interface LinkResult {
  devA: string;
  devB: string;
}

/** Interface counters from `ip -s -j link`. */
export interface InterfaceCounters {
  rxPackets: number;
  rxBytes: number;
  txPackets: number;
  txBytes: number;
}

/**
 * Directory of run files: `<RUN_PREFIX>` holds the pid of the test process that owns the
 * namespaces with that prefix, so that `scripts/remove_stale_namespaces.sh` removes only the
 * namespaces of runs that are gone (and never those of a concurrent run).
 */
export const RUN_DIR = "/tmp/rht-runs";
let runRegistered = false;

async function registerRun(): Promise<void> {
  if (runRegistered) return;
  await Deno.mkdir(RUN_DIR, { recursive: true });
  await Deno.writeTextFile(`${RUN_DIR}/${RUN_PREFIX}`, `${Deno.pid}\n`);
  runRegistered = true;
}

const liveLabs = new Set<NetnsLab>();
let signalHandler: (() => void) | undefined;

function installSignalCleanup(): void {
  if (signalHandler !== undefined) return;
  signalHandler = () => {
    for (const lab of liveLabs) lab.cleanupSync();
    // A registered listener suppresses the default action, and `deno test` refuses Deno.exit()
    // inside a test: end the runner the one way that always works.
    Deno.kill(Deno.pid, "SIGKILL");
  };
  Deno.addSignalListener("SIGINT", signalHandler);
  Deno.addSignalListener("SIGTERM", signalHandler);
}

function removeSignalCleanup(): void {
  if (signalHandler === undefined || liveLabs.size > 0) return;
  Deno.removeSignalListener("SIGINT", signalHandler);
  Deno.removeSignalListener("SIGTERM", signalHandler);
  signalHandler = undefined;
}

let labCounter = 0;

/**
 * A set of namespaces plus the processes running in them. Methods take short namespace names
 * (`"left"`); {@link nsName} gives the full name for tools that need it.
 */
export class NetnsLab {
  /** Prefix of every namespace of this lab: run prefix + lab number. */
  readonly prefix: string;
  readonly #namespaces: string[] = [];
  readonly #processes: NetnsProcess[] = [];
  readonly #cleanupHooks: (() => Promise<void> | void)[] = [];
  #linkCounter = 0;
  #closed = false;

  constructor() {
    this.prefix = `${RUN_PREFIX}${labCounter++}`;
  }

  /** Full namespace name for short name `name`. */
  nsName(name: string): string {
    return `${this.prefix}-${name}`;
  }

  /** Short names of the namespaces created so far. */
  get namespaces(): readonly string[] {
    return this.#namespaces;
  }

  /** Creates namespace `name` with `lo` up; returns its full name. */
  async addNamespace(name: string): Promise<string> {
    this.#assertOpen();
    if (this.#namespaces.includes(name)) {
      throw new NetnsError(`Cannot add namespace ${name}: it already exists in this lab`);
    }
    if (liveLabs.size === 0) installSignalCleanup();
    liveLabs.add(this);
    await registerRun();
    const full = this.nsName(name);
    const argv = ["ip", "netns", "add", full];
    checkResult(await runCommand(undefined, argv), undefined, argv);
    this.#namespaces.push(name);
    await this.execChecked(name, ["ip", "link", "set", "lo", "up"]);
    return full;
  }

  /**
   * Links two namespaces with a veth pair, assigns `cidrA`/`cidrB` (e.g. `198.51.100.1/24`) and
   * brings both ends up. Device names are `veth<n>a`/`veth<n>b` unless given.
   */
  async link(
    nsA: string,
    cidrA: string,
    nsB: string,
    cidrB: string,
    options: { devA?: string; devB?: string; mtu?: number } = {},
  ): Promise<LinkResult> {
    this.#assertKnown(nsA);
    this.#assertKnown(nsB);
    const n = this.#linkCounter++;
    const devA = options.devA ?? `veth${n}a`;
    const devB = options.devB ?? `veth${n}b`;
    await this.execChecked(nsA, [
      "ip",
      "link",
      "add",
      devA,
      "type",
      "veth",
      "peer",
      "name",
      devB,
      "netns",
      this.nsName(nsB),
    ]);
    for (const [ns, dev, cidr] of [[nsA, devA, cidrA], [nsB, devB, cidrB]] as const) {
      if (options.mtu !== undefined) {
        await this.execChecked(ns, ["ip", "link", "set", dev, "mtu", String(options.mtu)]);
      }
      await this.execChecked(ns, ["ip", "addr", "add", cidr, "dev", dev]);
      await this.execChecked(ns, ["ip", "link", "set", dev, "up"]);
    }
    return { devA, devB };
  }

  /** Adds address `cidr` to `dev` (default `lo`, e.g. an inner `/32`). */
  async addAddress(ns: string, cidr: string, dev = "lo"): Promise<void> {
    await this.execChecked(ns, ["ip", "addr", "add", cidr, "dev", dev]);
  }

  /** Adds a route: `ip route add <destination> <via...>`, e.g. `["via", "198.51.100.2"]`. */
  async addRoute(ns: string, destination: string, via: readonly string[]): Promise<void> {
    await this.execChecked(ns, ["ip", "route", "add", destination, ...via]);
  }

  /** Enables IPv4 forwarding inside `ns` (routers between two links). */
  async enableForwarding(ns: string): Promise<void> {
    await this.execChecked(ns, ["sysctl", "-qw", "net.ipv4.ip_forward=1"]);
  }

  /** Runs `argv` inside `ns` and returns its exit code and output (timeout: a NetnsError). */
  async exec(ns: string, argv: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
    this.#assertKnown(ns);
    return await runCommand(this.nsName(ns), argv, options);
  }

  /** Like {@link exec} but throws a {@link NetnsError} on a non-zero exit code. */
  async execChecked(
    ns: string,
    argv: readonly string[],
    options: ExecOptions = {},
  ): Promise<ExecResult> {
    return checkResult(await this.exec(ns, argv, options), this.nsName(ns), argv);
  }

  /**
   * Starts `argv` in the background inside `ns`, in its own session; {@link cleanup} kills it
   * with its process group if the test has not done so.
   */
  spawn(ns: string, argv: readonly string[], options: SpawnOptions = {}): NetnsProcess {
    this.#assertKnown(ns);
    if (
      options.logFile !== undefined &&
      (options.pipeStdout === true || options.stderrFile !== undefined)
    ) {
      throw new NetnsError(
        `Cannot spawn "${argv.join(" ")}": logFile excludes pipeStdout and stderrFile`,
      );
    }
    let command = [...argv];
    if (options.logFile !== undefined) {
      command = ["sh", "-c", 'exec "$@" >>"$0" 2>&1', options.logFile, ...argv];
    } else if (options.stderrFile !== undefined) {
      command = ["sh", "-c", 'exec "$@" 2>>"$0"', options.stderrFile, ...argv];
    }
    const spawnOptions: Parameters<typeof spawnInSession>[2] = {
      stdout: options.pipeStdout === true ? "piped" : "null",
      stderr: "null",
    };
    if (options.env !== undefined) spawnOptions.env = options.env;
    const child = spawnInSession(this.nsName(ns), command, spawnOptions);
    const process = new NetnsProcess(this.nsName(ns), argv, child, options.pipeStdout === true);
    this.#processes.push(process);
    return process;
  }

  /** Registers work for {@link cleanup} (run before processes are killed, newest first). */
  onCleanup(hook: () => Promise<void> | void): void {
    this.#cleanupHooks.push(hook);
  }

  /** Sends echo requests from `ns` to `target`; returns how many replies came back. */
  async ping(ns: string, target: string, options: PingOptions = {}): Promise<number> {
    const count = options.count ?? 3;
    const interval = options.interval ?? 0.2;
    const wait = options.wait ?? 2;
    const argv = [
      "ping",
      "-n",
      "-q",
      "-c",
      String(count),
      "-i",
      String(interval),
      "-W",
      String(wait),
    ];
    if (options.from !== undefined) argv.push("-I", options.from);
    if (options.size !== undefined) argv.push("-s", String(options.size));
    if (options.dontFragment) argv.push("-M", "do");
    argv.push(target);
    const timeoutMs = (count * interval + wait + 5) * 1000;
    const result = await this.exec(ns, argv, { timeoutMs });
    const match = /(\d+) (?:packets )?received/.exec(result.stdout);
    // Without any route ping prints no summary; nothing was received, which is the answer.
    if (match === null && /Network is unreachable/.test(result.stderr)) return 0;
    if (match === null) {
      throw new NetnsError(
        `Cannot ping ${target} from ${ns}: no summary in output: ${result.stdout}${result.stderr}`,
        argv,
      );
    }
    return Number(match[1]);
  }

  /** Waits until a TCP socket listens on `port` inside `ns` (polls `ss`). */
  async waitForListen(ns: string, port: number, timeoutMs = 10_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const r = await this.exec(ns, ["ss", "-Hltn", `sport = :${port}`]);
      if (r.code === 0 && r.stdout.trim() !== "") return;
      const pause = delay(50);
      await pause.promise;
    }
    throw new NetnsError(
      `Cannot connect to port ${port} in ${ns}: nothing listened within ${timeoutMs} ms`,
    );
  }

  /** The MTU of `dev` inside `ns`. */
  async linkMtu(ns: string, dev: string): Promise<number> {
    const argv = ["ip", "-j", "link", "show", "dev", dev];
    const { stdout } = await this.execChecked(ns, argv);
    const mtu = (JSON.parse(stdout) as { mtu?: number }[])[0]?.mtu;
    if (mtu === undefined) throw new NetnsError(`Cannot read the MTU of ${dev} in ${ns}`, argv);
    return mtu;
  }

  /** Packet and byte counters of `dev` inside `ns`. */
  async interfaceCounters(ns: string, dev: string): Promise<InterfaceCounters> {
    const argv = ["ip", "-s", "-j", "link", "show", "dev", dev];
    const { stdout } = await this.execChecked(ns, argv);
    type Stats = { rx: { bytes: number; packets: number }; tx: { bytes: number; packets: number } };
    const parsed = JSON.parse(stdout) as { stats64?: Stats; stats?: Stats }[];
    const stats = parsed[0]?.stats64 ?? parsed[0]?.stats;
    if (stats === undefined) {
      throw new NetnsError(`Cannot read counters of ${dev} in ${ns}: ${stdout}`, argv);
    }
    return {
      rxPackets: stats.rx.packets,
      rxBytes: stats.rx.bytes,
      txPackets: stats.tx.packets,
      txBytes: stats.tx.bytes,
    };
  }

  /**
   * Runs the cleanup hooks, kills every spawned process group and every other process left in
   * the lab's namespaces, then deletes the namespaces. Idempotent; never throws.
   */
  async cleanup(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const hook of this.#cleanupHooks.splice(0).reverse()) {
      try {
        await hook();
      } catch (e) {
        console.error(`harness: cleanup hook failed: ${e instanceof Error ? e.message : e}`);
      }
    }
    await Promise.all(this.#processes.map((p) => p.kill().catch(() => {})));
    for (const name of this.#namespaces.splice(0).reverse()) {
      const full = this.nsName(name);
      try {
        await killNamespacePids(full);
        await runCommand(undefined, ["ip", "netns", "del", full]);
      } catch (e) {
        console.error(
          `harness: cannot delete namespace ${full}: ${e instanceof Error ? e.message : e}`,
        );
      }
    }
    liveLabs.delete(this);
    removeSignalCleanup();
  }

  /** Synchronous last-resort cleanup for signal handlers: SIGKILL everything, delete namespaces. */
  cleanupSync(): void {
    this.#closed = true;
    for (const p of this.#processes) p.killSync();
    for (const name of this.#namespaces.splice(0)) {
      const full = this.nsName(name);
      const pids = new Deno.Command("ip", { args: ["netns", "pids", full], stderr: "null" })
        .outputSync();
      for (const pid of decoder.decode(pids.stdout).split(/\s+/).filter((s) => s !== "")) {
        try {
          Deno.kill(Number(pid), "SIGKILL");
        } catch { /* already gone */ }
      }
      new Deno.Command("ip", { args: ["netns", "del", full], stderr: "null" }).outputSync();
    }
    liveLabs.delete(this);
  }

  #assertOpen(): void {
    if (this.#closed) throw new NetnsError("Cannot use lab: it was cleaned up");
  }

  #assertKnown(ns: string): void {
    this.#assertOpen();
    if (!this.#namespaces.includes(ns)) {
      throw new NetnsError(`Cannot use namespace ${ns}: not created by this lab (${this.prefix})`);
    }
  }
}

/** The processes whose network namespace is `fullName` (as `ip netns` names it). */
export async function namespacePids(fullName: string): Promise<number[]> {
  const r = await runCommand(undefined, ["ip", "netns", "pids", fullName]);
  return r.stdout.split(/\s+/).filter((s) => s !== "").map(Number);
}

/** SIGKILLs every process whose network namespace is `fullName`. */
async function killNamespacePids(fullName: string): Promise<void> {
  for (const pid of await namespacePids(fullName)) {
    try {
      Deno.kill(pid, "SIGKILL");
    } catch { /* already gone */ }
  }
}

/**
 * Creates a lab, runs `fn`, and always cleans up. `fn` is raced against `timeoutMs`: on timeout
 * the lab is torn down (which makes pending commands fail) and a {@link NetnsError} is thrown.
 *
 * @example
 * ```ts
 * await withLab(async (lab) => {
 *   await lab.addNamespace("a");
 * }, { timeoutMs: 60_000 });
 * ```
 */
export async function withLab<T>(
  fn: (lab: NetnsLab) => Promise<T>,
  options: { timeoutMs?: number } = {},
): Promise<T> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_LAB_TIMEOUT_MS;
  const lab = new NetnsLab();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(new NetnsError(`Cannot finish lab ${lab.prefix}: timed out after ${timeoutMs} ms`)),
      timeoutMs,
    );
  });
  const work = fn(lab);
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
    await lab.cleanup();
    // A timed-out body keeps running until its commands fail against the deleted namespaces;
    // give it a moment to settle, but never wait for it unboundedly.
    const settle = delay(5_000);
    await Promise.race([work.catch(() => {}), settle.promise]);
    settle.cancel();
  }
}

/** Namespaces whose name starts with `prefix` (default: every harness namespace, `rht`). */
export async function listNamespaces(prefix = NAMESPACE_PREFIX_ROOT): Promise<string[]> {
  const r = await runCommand(undefined, ["ip", "netns", "list"]);
  return r.stdout.split("\n")
    .map((line) => line.split(" ")[0] ?? "")
    .filter((name) => name.startsWith(prefix));
}
