/**
 * The command lines of the secure side. One executable, roles chosen by the `secure`
 * subcommand of main.ts:
 *
 *   rockhopper secure -f CONF -a AUTH [-s USER] [-l LEVEL]          the secure process
 *   rockhopper secure --list-files -a AUTH [-s USER]                 prints the files it needs
 *   rockhopper secure --keeper -f CONF -a AUTH [-s USER] [-l LEVEL]  restarts it (see keeper.ts)
 *
 * Under `deno run` each gets exactly its Deno permissions: the secure process may read
 * rockhopper.xml, auth.xml and the key store files auth.xml names (learned by a short
 * `--list-files` run that may read auth.xml only), run `ip`, and use FFI only to switch users;
 * no network, no writes, no environment. A `deno compile` executable carries its permissions
 * built in, so there each role revokes what it must not have as soon as it started
 * (worker.ts, keeper.ts).
 */
import type { LogLevelName } from "../../log/mod.ts";

/** What the main process tells the secure side. */
export interface SecureRoleOptions {
  /** rockhopper.xml, absolute. */
  configPath: string;
  /** auth.xml, absolute. */
  authPath: string;
  /** `-s`: the user the secure process switches to (needs root). */
  secureUser?: string;
  logLevel: LogLevelName;
  /** main.ts as a path (under `deno run`); default Deno.mainModule. */
  entry?: string;
  /** deno.json for `deno run --config`, when there is one. */
  denoConfig?: string;
}

/** A program and its arguments. */
export interface CommandLine {
  command: string;
  args: string[];
}

/** How long a `--list-files` run may take. */
const PROBE_TIMEOUT_MS = 30_000;

/** True when running as a `deno compile` executable (permissions are built in). */
export function isStandalone(): boolean {
  return Deno.build.standalone;
}

function entryOf(options: SecureRoleOptions): string {
  if (options.entry !== undefined) return options.entry;
  const main = new URL(Deno.mainModule);
  return main.protocol === "file:" ? decodeURIComponent(main.pathname) : Deno.mainModule;
}

/** The arguments after the program (or after `deno run FLAGS main.ts`) for `role`. */
export function roleArgs(
  options: SecureRoleOptions,
  role: "worker" | "keeper" | "probe",
): string[] {
  const args = ["secure"];
  if (role === "keeper") args.push("--keeper");
  if (role === "probe") {
    args.push("--list-files", "-a", options.authPath);
  } else {
    args.push("-f", options.configPath, "-a", options.authPath, "-l", options.logLevel);
  }
  if (options.secureUser !== undefined) args.push("-s", options.secureUser);
  if (role === "keeper" && options.denoConfig !== undefined) {
    args.push("--deno-config", options.denoConfig);
  }
  return args;
}

/** A Deno permission list; commas cannot be expressed in one, so such paths are refused. */
function permissionList(paths: readonly string[]): string {
  for (const path of paths) {
    if (path.includes(",")) {
      throw new RangeError(
        `Cannot start the secure process: the path ${path} contains a comma, which a Deno permission list cannot hold; rename it`,
      );
    }
  }
  return [...new Set(paths)].join(",");
}

function denoRun(options: SecureRoleOptions, flags: string[], role: string[]): CommandLine {
  return {
    command: Deno.execPath(),
    args: [
      "run",
      "--no-prompt",
      ...(options.denoConfig === undefined ? [] : ["--config", options.denoConfig]),
      ...flags,
      entryOf(options),
      ...role,
    ],
  };
}

/**
 * Runs `secure --list-files` with read permission for auth.xml only and returns the files the
 * secure process will read. Throws with the loader's message when auth.xml is invalid.
 */
export async function probeSecretFiles(options: SecureRoleOptions): Promise<string[]> {
  const line = denoRun(
    options,
    [
      `--allow-read=${permissionList([options.authPath])}`,
      ...(options.secureUser === undefined ? [] : ["--allow-ffi"]),
    ],
    roleArgs(options, "probe"),
  );
  const child = new Deno.Command(line.command, {
    args: line.args,
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const timer = setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch {
      // Already gone.
    }
  }, PROBE_TIMEOUT_MS);
  let output;
  try {
    output = await child.output();
  } finally {
    clearTimeout(timer);
  }
  let parsed: { files?: unknown; error?: unknown };
  try {
    parsed = JSON.parse(new TextDecoder().decode(output.stdout));
  } catch {
    throw new Error(
      `Cannot start the secure process: its file listing exited with ${
        output.signal ?? `code ${output.code}`
      } and printed no answer`,
    );
  }
  if (typeof parsed.error === "string") throw new Error(parsed.error);
  if (!Array.isArray(parsed.files) || !parsed.files.every((f) => typeof f === "string")) {
    throw new Error("Cannot start the secure process: its file listing is malformed");
  }
  return parsed.files as string[];
}

/**
 * The command line of the secure process. Under `deno run` it first learns the key store
 * files ({@link probeSecretFiles}) so that `--allow-read` lists exactly those.
 */
export async function workerCommand(options: SecureRoleOptions): Promise<CommandLine> {
  if (isStandalone()) return { command: Deno.execPath(), args: roleArgs(options, "worker") };
  const files = await probeSecretFiles(options);
  return denoRun(
    options,
    [
      `--allow-read=${permissionList([options.configPath, options.authPath, ...files])}`,
      "--allow-run=ip",
      ...(options.secureUser === undefined ? [] : ["--allow-ffi"]),
    ],
    roleArgs(options, "worker"),
  );
}

/** The command line of the keeper: it may only start secure processes. */
export function keeperCommand(options: SecureRoleOptions): CommandLine {
  if (isStandalone()) return { command: Deno.execPath(), args: roleArgs(options, "keeper") };
  return denoRun(
    options,
    [`--allow-run=${permissionList([Deno.execPath()])}`],
    roleArgs(options, "keeper"),
  );
}
