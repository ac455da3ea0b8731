/**
 * The one module that runs the `ip` command (iproute2): interface state, addresses and routes.
 * Arguments are validated before anything is spawned and passed as an argv (never a shell);
 * every call has a timeout and fails with an {@link IpCommandError} carrying argv and stderr.
 */

/** Default time an `ip` invocation may take before it is killed. */
export const IP_COMMAND_TIMEOUT_MS = 5000;

/** An `ip` invocation failed: non-zero exit, timeout, or the binary could not be started. */
export class IpCommandError extends Error {
  /** The full argv, `ip` included. */
  readonly argv: readonly string[];
  readonly stderr: string;
  /** Exit code, or null when the process did not exit by itself (timeout, spawn failure). */
  readonly exitCode: number | null;
  readonly timedOut: boolean;

  constructor(
    message: string,
    details: {
      argv: readonly string[];
      stderr: string;
      exitCode: number | null;
      timedOut: boolean;
    },
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = "IpCommandError";
    this.argv = details.argv;
    this.stderr = details.stderr;
    this.exitCode = details.exitCode;
    this.timedOut = details.timedOut;
  }
}

/** What a runner reports about one finished (or killed) process. */
export interface IpRunResult {
  exitCode: number | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/** Runs argv[0] with argv[1..]; replaceable in tests. Rejects only when it cannot spawn. */
export type IpRunner = (argv: readonly string[], timeoutMs: number) => Promise<IpRunResult>;

/** Options shared by every call. */
export interface IpCommandOptions {
  /** Run inside this network namespace (`ip -n NS ...`). */
  netns?: string;
  /** Kill `ip` after this long; default {@link IP_COMMAND_TIMEOUT_MS}. */
  timeoutMs?: number;
  /** The binary; default "ip" from PATH. */
  ipPath?: string;
  /** Replaces process spawning (tests). */
  runner?: IpRunner;
}

/** Options of {@link addRoute} and {@link delRoute}. */
export interface RouteOptions extends IpCommandOptions {
  /** Output device; required for {@link addRoute}. */
  dev?: string;
  /** Preferred source address (`src`). */
  src?: string;
  /** Routing table number or name. */
  table?: number | string;
  metric?: number;
  /** `ip route replace` instead of `add`: no error when the route exists. */
  replace?: boolean;
}

const NAME = /^[A-Za-z0-9_.@:][A-Za-z0-9_.@:-]{0,14}$/;
const NETNS = /^[A-Za-z0-9_.][A-Za-z0-9_.-]{0,63}$/;
const ADDRESS = /^[0-9A-Fa-f:.]{2,45}$/;
const CIDR = /^[0-9A-Fa-f:.]{2,45}(\/\d{1,3})?$/;
const TABLE = /^[A-Za-z0-9_]{1,32}$/;

function check(ok: boolean, action: string, what: string, value: unknown): void {
  if (!ok) throw new TypeError(`Cannot ${action}: ${what} ${JSON.stringify(value)} is invalid`);
}

/** Spawns the process with `Deno.Command`, killing it after `timeoutMs`. */
export const defaultIpRunner: IpRunner = async (argv, timeoutMs) => {
  const child = new Deno.Command(argv[0]!, {
    args: argv.slice(1),
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      child.kill("SIGKILL");
    } catch {
      // Already exited.
    }
  }, timeoutMs);
  try {
    const out = await child.output();
    const decoder = new TextDecoder();
    return {
      exitCode: timedOut ? null : out.code,
      stdout: decoder.decode(out.stdout),
      stderr: decoder.decode(out.stderr),
      timedOut,
    };
  } finally {
    clearTimeout(timer);
  }
};

/**
 * Runs `ip [-n NS] ...args` and returns its stdout. Rejects with {@link IpCommandError}.
 *
 * @example
 * ```ts
 * const routes = await runIp(["route", "show", "table", "main"], { netns: "rhp-test-1" });
 * ```
 */
export async function runIp(
  args: readonly string[],
  options: IpCommandOptions = {},
): Promise<string> {
  if (options.netns !== undefined) {
    check(NETNS.test(options.netns), "run ip", "network namespace", options.netns);
  }
  const argv = [
    options.ipPath ?? "ip",
    ...(options.netns !== undefined ? ["-n", options.netns] : []),
    ...args,
  ];
  const timeoutMs = options.timeoutMs ?? IP_COMMAND_TIMEOUT_MS;
  const runner = options.runner ?? defaultIpRunner;
  const what = `Cannot run "${argv.join(" ")}"`;
  let result: IpRunResult;
  try {
    result = await runner(argv, timeoutMs);
  } catch (e) {
    throw new IpCommandError(
      `${what}: ${(e as Error).message}`,
      { argv, stderr: "", exitCode: null, timedOut: false },
      { cause: e },
    );
  }
  if (result.timedOut) {
    throw new IpCommandError(`${what}: timed out after ${timeoutMs} ms`, {
      argv,
      stderr: result.stderr,
      exitCode: null,
      timedOut: true,
    });
  }
  if (result.exitCode !== 0) {
    const reason = result.stderr.trim() || `exit code ${result.exitCode}`;
    throw new IpCommandError(`${what}: ${reason}`, {
      argv,
      stderr: result.stderr,
      exitCode: result.exitCode,
      timedOut: false,
    });
  }
  return result.stdout;
}

/** Sets interface `name` up (`ip link set dev NAME up`). */
export async function linkUp(name: string, options: IpCommandOptions = {}): Promise<void> {
  check(NAME.test(name), "set link up", "interface name", name);
  await runIp(["link", "set", "dev", name, "up"], options);
}

/** Sets interface `name` down. */
export async function linkDown(name: string, options: IpCommandOptions = {}): Promise<void> {
  check(NAME.test(name), "set link down", "interface name", name);
  await runIp(["link", "set", "dev", name, "down"], options);
}

/** Sets the MTU of interface `name` (68..65535). */
export async function setMtu(
  name: string,
  mtu: number,
  options: IpCommandOptions = {},
): Promise<void> {
  check(NAME.test(name), "set MTU", "interface name", name);
  check(Number.isInteger(mtu) && mtu >= 68 && mtu <= 65535, "set MTU", "MTU", mtu);
  await runIp(["link", "set", "dev", name, "mtu", String(mtu)], options);
}

/** Adds an address in CIDR form ("10.1.0.1/24", "fd00::1/64") to interface `name`. */
export async function addAddress(
  name: string,
  cidr: string,
  options: IpCommandOptions = {},
): Promise<void> {
  check(NAME.test(name), "add address", "interface name", name);
  check(CIDR.test(cidr), "add address", "address", cidr);
  await runIp(["address", "add", cidr, "dev", name], options);
}

/** Removes an address in CIDR form from interface `name`. */
export async function delAddress(
  name: string,
  cidr: string,
  options: IpCommandOptions = {},
): Promise<void> {
  check(NAME.test(name), "delete address", "interface name", name);
  check(CIDR.test(cidr), "delete address", "address", cidr);
  await runIp(["address", "del", cidr, "dev", name], options);
}

function routeArgs(action: string, prefix: string, options: RouteOptions): string[] {
  const verb = `${action} route`;
  check(CIDR.test(prefix) || prefix === "default", verb, "prefix", prefix);
  const args = [prefix];
  if (options.dev !== undefined) {
    check(NAME.test(options.dev), verb, "device", options.dev);
    args.push("dev", options.dev);
  }
  if (options.src !== undefined) {
    check(ADDRESS.test(options.src), verb, "source address", options.src);
    args.push("src", options.src);
  }
  if (options.table !== undefined) {
    check(TABLE.test(String(options.table)), verb, "table", options.table);
    args.push("table", String(options.table));
  }
  if (options.metric !== undefined) {
    check(
      Number.isInteger(options.metric) && options.metric >= 0 && options.metric <= 0xffff_ffff,
      verb,
      "metric",
      options.metric,
    );
    args.push("metric", String(options.metric));
  }
  return args;
}

/**
 * Adds a route to `prefix` via `options.dev` (`ip route add|replace PREFIX dev DEV [src S]
 * [table T] [metric M]`).
 *
 * @example
 * ```ts
 * await addRoute("10.2.0.0/24", { dev: "rhp1", src: "10.1.0.1" });
 * ```
 */
export async function addRoute(prefix: string, options: RouteOptions): Promise<void> {
  check(options.dev !== undefined, "add route", "device", options.dev);
  const args = routeArgs("add", prefix, options);
  await runIp(["route", options.replace ? "replace" : "add", ...args], options);
}

/** Deletes a route to `prefix` (narrowed by `dev`, `table`, ... when given). */
export async function delRoute(prefix: string, options: RouteOptions = {}): Promise<void> {
  const args = routeArgs("delete", prefix, options);
  await runIp(["route", "del", ...args], options);
}
