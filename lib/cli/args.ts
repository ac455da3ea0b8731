/**
 * Command-line arguments of the `rockhopper` executable, parsed without side effects so that
 * tests can drive them: main.ts prints, exits and starts things; this file only decides.
 */
import { parseArgs } from "node:util";
import { isLogLevel, LogLevel, type LogLevelName } from "../log/mod.ts";

/** What to run with, after defaults. */
export interface CliOptions {
  /** `-f/--config`: the main configuration file. */
  configPath: string;
  /** `-a/--auth`: the secrets file. */
  authPath: string;
  /** `-l/--log-level`. */
  logLevel: LogLevelName;
  /** `--check`: validate both files and exit instead of starting. */
  check: boolean;
  /** `-u/--user`: the user the main process switches to after start (as root). */
  user?: string;
  /** `-s/--secure-user`: the user the secure process switches to (as root). */
  secureUser?: string;
}

/** The result of parsing: run with options, or print help, or print the version. */
export type CliCommand = CliOptions | { help: true } | { version: true };

/** Defaults for the options that have one. */
export const CLI_DEFAULTS = {
  configPath: "conf/rockhopper.xml",
  authPath: "conf/auth.xml",
  logLevel: "info",
} as const satisfies Omit<CliOptions, "check" | "user" | "secureUser">;

/**
 * The command line is wrong: an unknown option, a missing or bad value, a stray argument.
 * main.ts prints the message with the usage hint and exits with status 2.
 *
 * @example
 * ```ts
 * try {
 *   parseCliArgs(["--bogus"]);
 * } catch (e) {
 *   if (e instanceof UsageError) console.error(e.message); // "Cannot parse arguments: unknown option --bogus"
 * }
 * ```
 */
export class UsageError extends Error {
  constructor(problem: string) {
    super(`Cannot parse arguments: ${problem}`);
    this.name = "UsageError";
  }
}

const OPTIONS = {
  config: { type: "string", short: "f" },
  auth: { type: "string", short: "a" },
  "log-level": { type: "string", short: "l" },
  help: { type: "boolean", short: "h" },
  version: { type: "boolean", short: "V" },
  check: { type: "boolean" },
  user: { type: "string", short: "u" },
  "secure-user": { type: "string", short: "s" },
} as const;

const LEVELS = Object.keys(LogLevel).join("|");
/** A user name (as useradd allows) or UID[:GID]. */
const USER = /^(?:[A-Za-z_][A-Za-z0-9_.-]{0,31}\$?|\d{1,10}(?::\d{1,10})?)$/;

/**
 * The help text.
 *
 * @example
 * ```ts
 * console.log(usage());
 * ```
 */
export function usage(program = "rockhopper"): string {
  return `Usage: ${program} [options]
       ${program} ctl <command> [options]     management client (see "${program} ctl --help")
       ${program} hash-password [--user U] [--realm any|ID]
                                               print an <admin> web-user line for auth.xml
       (${program} secure ...: the secure process, started by ${program} itself)

Rockhopper-TS: a user-space IKEv2 + ESP VPN appliance.

Options:
  -f, --config PATH       main configuration (default ${CLI_DEFAULTS.configPath})
  -a, --auth PATH         secrets file, read by the secure process (default ${CLI_DEFAULTS.authPath})
  -l, --log-level LEVEL   ${LEVELS} (default ${CLI_DEFAULTS.logLevel});
                          "private" also logs key material: never in production
  -u, --user USER         after start-up the main process runs as USER (a name or
                          UID[:GID]); needs root
  -s, --secure-user USER  the secure process (secrets, system changes) runs as USER,
                          keeping only CAP_NET_ADMIN; needs root
      --check             validate both files, print "configuration OK: N realms" and exit
  -h, --help              print this help and exit
  -V, --version           print the version and exit

Exit status: 0 success, 1 configuration or start-up error, 2 usage error.
The file format is described in conf/README.md.`;
}

/** Turns node:util's parse error into our wording (its own texts vary between versions). */
function usageErrorFrom(error: unknown): UsageError {
  const code = (error as { code?: unknown }).code;
  const message = error instanceof Error ? error.message : String(error);
  const quoted = /'([^']*)'/.exec(message)?.[1];
  switch (code) {
    case "ERR_PARSE_ARGS_UNKNOWN_OPTION":
      return new UsageError(`unknown option ${quoted ?? message}`);
    case "ERR_PARSE_ARGS_INVALID_OPTION_VALUE":
      return new UsageError(
        message.includes("argument missing")
          ? `option ${(quoted ?? "").replace(/ <value>$/, "")} needs a value`
          : `bad value for option ${quoted ?? message}`,
      );
    case "ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL":
      return new UsageError(
        `unexpected argument "${quoted ?? message}" (this program takes options only)`,
      );
    default:
      return new UsageError(message);
  }
}

/**
 * Parses the arguments after the program name.
 *
 * @throws {UsageError} on an unknown option, a missing value, an invalid log level, a
 *   positional argument or an option given twice.
 *
 * @example
 * ```ts
 * parseCliArgs(["-f", "conf/rockhopper.xml", "--check"]);
 * // { configPath: "conf/rockhopper.xml", authPath: "conf/auth.xml", logLevel: "info", check: true }
 * parseCliArgs(["-h"]); // { help: true }
 * ```
 */
export function parseCliArgs(argv: readonly string[]): CliCommand {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      options: OPTIONS,
      strict: true,
      allowPositionals: false,
      tokens: true,
    });
  } catch (e) {
    throw usageErrorFrom(e);
  }
  const { values, tokens } = parsed;
  if (values.help) return { help: true };
  if (values.version) return { version: true };

  const seen = new Set<string>();
  for (const token of tokens) {
    if (token.kind !== "option") continue;
    if (seen.has(token.name)) {
      throw new UsageError(`option --${token.name} is given more than once`);
    }
    seen.add(token.name);
  }
  for (const name of ["config", "auth"] as const) {
    if (values[name] === "") throw new UsageError(`option --${name} needs a non-empty path`);
  }
  for (const name of ["user", "secure-user"] as const) {
    const value = values[name];
    if (value !== undefined && !USER.test(value)) {
      throw new UsageError(
        `option --${name} needs a user name or UID[:GID], not ${JSON.stringify(value)}`,
      );
    }
  }
  const logLevel = values["log-level"] ?? CLI_DEFAULTS.logLevel;
  if (!isLogLevel(logLevel)) {
    throw new UsageError(`log level "${logLevel}" is not one of ${LEVELS.replaceAll("|", ", ")}`);
  }
  return {
    configPath: values.config ?? CLI_DEFAULTS.configPath,
    authPath: values.auth ?? CLI_DEFAULTS.authPath,
    logLevel,
    check: values.check ?? false,
    ...(values.user === undefined ? {} : { user: values.user }),
    ...(values["secure-user"] === undefined ? {} : { secureUser: values["secure-user"] }),
  };
}
