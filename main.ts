/**
 * The `rockhopper` command: parse the command line, load and cross-check the configuration,
 * then start the appliance and run until SIGINT/SIGTERM.
 *
 * Exit status: 0 success (or a clean stop), 1 configuration or start-up error, 2 usage error.
 *
 * @example
 * ```sh
 * deno run --allow-all main.ts -f conf/rockhopper.xml -a conf/auth.xml
 * deno run --allow-read main.ts --check
 * ```
 * @module
 */
import denoJson from "./deno.json" with { type: "json" };
import type { Appliance } from "./lib/appliance/mod.ts";
import { parseCliArgs, usage, UsageError } from "./lib/cli/args.ts";
import type { CliOptions } from "./lib/cli/args.ts";
import {
  type AuthConfig,
  checkAuthAgainstConfig,
  ConfigError,
  loadAuthConfig,
  loadConfig,
  type RockhopperConfig,
} from "./lib/config/mod.ts";
import { Logger, setLogLevel } from "./lib/log/mod.ts";

/** The program's version, from deno.json. */
export const VERSION: string = denoJson.version;

const log = new Logger("main");
const configLog = new Logger("cfg");

/** Exit statuses of the command. */
export const ExitStatus = {
  Ok: 0,
  Failure: 1,
  Usage: 2,
} as const;

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Loads and cross-checks both files; logs the cross-check's warnings. */
async function loadBoth(
  options: CliOptions,
): Promise<{ config: RockhopperConfig; auth: AuthConfig }> {
  const config = await loadConfig(options.configPath);
  const auth = await loadAuthConfig(options.authPath);
  for (const warning of checkAuthAgainstConfig(config, auth)) configLog.warn(warning);
  return { config, auth };
}

/**
 * Runs until SIGINT or SIGTERM, then stops the management server (if any) and the appliance.
 * Resolves to the exit status.
 */
async function runUntilSignal(
  appliance: Appliance,
  management?: { stop(): Promise<void> },
): Promise<number> {
  const signals = ["SIGINT", "SIGTERM"] as const;
  const { promise, resolve } = Promise.withResolvers<Deno.Signal>();
  let stopping = false;
  const onSignal = (signal: Deno.Signal) => () => {
    if (stopping) {
      log.warn(`${signal} again while stopping: exiting at once`);
      Deno.exit(ExitStatus.Failure);
    }
    stopping = true;
    resolve(signal);
  };
  const handlers = signals.map((s) => [s, onSignal(s)] as const);
  for (const [signal, handler] of handlers) Deno.addSignalListener(signal, handler);
  const signal = await promise;
  log.info(`${signal} received: stopping`);
  try {
    await management?.stop();
    await appliance.stop();
  } catch (e) {
    log.error(`Cannot stop the appliance cleanly: ${errorText(e)}`);
    return ExitStatus.Failure;
  } finally {
    for (const [s, handler] of handlers) Deno.removeSignalListener(s, handler);
  }
  log.info("stopped");
  return ExitStatus.Ok;
}

/**
 * Runs the command with `args` (without the program name) and returns the exit status.
 *
 * @example
 * ```ts
 * Deno.exit(await main(["--check"]));
 * ```
 */
export async function main(args: readonly string[]): Promise<number> {
  // Subcommands: the management client and the web-user password helper.
  if (args[0] === "ctl" || args[0] === "hash-password") {
    const { runCtl } = await import("./lib/cli/ctl.ts");
    return await runCtl(args[0] === "ctl" ? args.slice(1) : args);
  }
  let command;
  try {
    command = parseCliArgs(args);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    console.error(`rockhopper: ${e.message}\nTry "rockhopper --help" for the options.`);
    return ExitStatus.Usage;
  }
  if ("help" in command) {
    console.log(usage());
    return ExitStatus.Ok;
  }
  if ("version" in command) {
    console.log(`rockhopper-ts ${VERSION}`);
    return ExitStatus.Ok;
  }

  setLogLevel(command.logLevel);
  if (command.logLevel === "private") {
    log.warn('log level "private" writes key material to the log: use it only for debugging');
  }

  let loaded;
  try {
    loaded = await loadBoth(command);
  } catch (e) {
    // One line, no stack: the message names file, line and element.
    console.error(
      e instanceof ConfigError ? e.message : `Cannot load the configuration: ${errorText(e)}`,
    );
    return ExitStatus.Failure;
  }
  if (command.check) {
    const count = loaded.config.realms.length;
    console.log(`configuration OK: ${count} realm${count === 1 ? "" : "s"}`);
    return ExitStatus.Ok;
  }

  log.info(`rockhopper-ts ${VERSION} starting with ${command.configPath}`);
  let appliance: Appliance;
  try {
    // Loaded only now: --check, --help and --version need neither the engine nor its
    // permissions (FFI, network), and keep working while it is being changed.
    const { Appliance } = await import("./lib/appliance/mod.ts");
    appliance = await Appliance.start(loaded);
  } catch (e) {
    log.error(`Cannot start the appliance: ${errorText(e)}`);
    return ExitStatus.Failure;
  }
  // The management server (<admin>, on 127.0.0.1 by default). A VPN gateway keeps running
  // without it: a failure here is logged, not fatal.
  let management: { stop(): Promise<void> } | undefined;
  try {
    const { startManagement } = await import("./lib/web/mod.ts");
    management = await startManagement({
      appliance,
      config: loaded.config,
      auth: loaded.auth,
      configPath: command.configPath,
      authPath: command.authPath,
    });
  } catch (e) {
    log.error(
      `Cannot start the management server on ${loaded.config.admin.address}:${loaded.config.admin.port}: ${
        errorText(e)
      }`,
    );
  }
  return await runUntilSignal(appliance, management);
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
