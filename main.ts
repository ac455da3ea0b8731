/**
 * The `rockhopper` command: parse the command line, load the configuration, start the secure
 * process (which alone reads auth.xml), then start the appliance and run until SIGINT/SIGTERM.
 * The same entry point is the secure process (`rockhopper secure ...`, started by itself).
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
import type { SecureSide } from "./lib/auth/secure/mod.ts";

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
  secure?: SecureSide,
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
    // Last: the appliance removed its routes through it.
    await secure?.close();
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
  // The secure process (and its keeper): started by the main process, never by hand.
  if (args[0] === "secure") {
    const { runSecureRole } = await import("./lib/auth/secure/role.ts");
    return await runSecureRole(args.slice(1));
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

  if (command.check) {
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
    const count = loaded.config.realms.length;
    console.log(`configuration OK: ${count} realm${count === 1 ? "" : "s"}`);
    return ExitStatus.Ok;
  }
  return await run(command);
}

/** An absolute form of `path` (the secure process gets exactly these in its permissions). */
function absolute(path: string): string {
  return path.startsWith("/") ? path : `${Deno.cwd()}/${path.replace(/^\.\//, "")}`;
}

/** deno.json next to main.ts, for `deno run --config` of the secure process. */
function denoConfigPath(): string | undefined {
  const url = new URL("./deno.json", import.meta.url);
  if (url.protocol !== "file:" || Deno.build.standalone) return undefined;
  try {
    const path = decodeURIComponent(url.pathname);
    return Deno.statSync(path).isFile ? path : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Revokes read and write of auth.xml and the key store files. Warns when that also took access
 * to rockhopper.xml (Deno revokes a whole directory grant when one file in it is revoked).
 */
async function giveUpSecrets(secure: SecureSide, configPath: string): Promise<void> {
  const { revokePaths } = await import("./lib/auth/secure/mod.ts");
  const access = async (name: "read" | "write") =>
    (await Deno.permissions.query({ name, path: configPath })).state;
  const before = { read: await access("read"), write: await access("write") };
  const stillReadable = await revokePaths(secure.info.files);
  for (const name of ["read", "write"] as const) {
    if (before[name] === "granted" && (await access(name)) !== "granted") {
      log.warn(
        `giving up auth.xml also took ${name} permission for ${configPath}: --allow-${name} names a directory that holds both; keep auth.xml elsewhere or list files (see conf/README.md), or realm changes through the management server will fail`,
      );
    }
  }
  log.debug(
    `revoked read and write of ${secure.info.files.length} secret file(s)${
      stillReadable.length > 0 ? " (the --allow-read grant is global: Deno cannot narrow it)" : ""
    }`,
  );
}

/**
 * The daemon: rockhopper.xml here, auth.xml only in the secure process.
 *   1. load rockhopper.xml; resolve -u/-s (root only)
 *   2. start the secure process (through the keeper with -u) and wait for it to be ready
 *   3. open TUN devices and sockets, start the engine and the management server
 *   4. -u: switch user; give up access to auth.xml and the key store (and `run` with -u)
 *   5. check that auth.xml is out of reach; run until SIGINT/SIGTERM
 */
async function run(command: CliOptions): Promise<number> {
  let config: RockhopperConfig;
  try {
    config = await loadConfig(command.configPath);
  } catch (e) {
    console.error(
      e instanceof ConfigError ? e.message : `Cannot load the configuration: ${errorText(e)}`,
    );
    return ExitStatus.Failure;
  }

  log.info(`rockhopper-ts ${VERSION} starting with ${command.configPath}`);
  // Loaded only now: --check, --help and --version need neither the engine nor its
  // permissions (FFI, network), and keep working while it is being changed.
  const secureModule = await import("./lib/auth/secure/mod.ts");
  const sysControl = await import("./lib/sys_control/mod.ts");
  let mainUser: import("./lib/sys_control/mod.ts").UserIdentity | undefined;
  if (command.user !== undefined || command.secureUser !== undefined) {
    try {
      const uid = sysControl.currentUid();
      if (uid !== 0) {
        throw new Error(`-u and -s need rockhopper to start as root (it runs as uid ${uid})`);
      }
      if (command.user !== undefined) mainUser = sysControl.lookupUser(command.user);
      if (command.secureUser !== undefined) sysControl.lookupUser(command.secureUser);
    } catch (e) {
      console.error(`Cannot switch users: ${errorText(e)}`);
      return ExitStatus.Failure;
    }
  }

  const authPath = absolute(command.authPath);
  const denoConfig = denoConfigPath();
  let secure: SecureSide;
  try {
    secure = await secureModule.SecureSide.start({
      configPath: absolute(command.configPath),
      authPath,
      logLevel: command.logLevel,
      entry: decodeURIComponent(new URL(import.meta.url).pathname),
      ...(denoConfig === undefined ? {} : { denoConfig }),
      ...(command.secureUser === undefined ? {} : { secureUser: command.secureUser }),
      keeper: mainUser !== undefined,
    });
  } catch (e) {
    // One line, no stack: a configuration error names file, line and element.
    console.error(errorText(e));
    return ExitStatus.Failure;
  }
  for (const warning of secure.info.warnings) configLog.warn(warning);
  const auth = secureModule.authConfigOfView(secure.info.view);

  let appliance: Appliance;
  try {
    const { Appliance } = await import("./lib/appliance/mod.ts");
    appliance = await Appliance.start({
      config,
      auth,
      authService: secure.auth,
      sys: secure.sys,
    });
  } catch (e) {
    log.error(`Cannot start the appliance: ${errorText(e)}`);
    await secure.close();
    return ExitStatus.Failure;
  }
  // The management server (<admin>, on 127.0.0.1 by default). A VPN gateway keeps running
  // without it: a failure here is logged, not fatal. Web users are checked by the secure
  // process; realm changes are cross-checked against auth.xml as it was at start.
  let management: { stop(): Promise<void> } | undefined;
  try {
    const { startManagement } = await import("./lib/web/mod.ts");
    if (config.admin.enabled && auth.admins?.length === 0) {
      new Logger("web").warn(
        "no web user in auth.xml: nobody can log in to the management server until you add " +
          '<admin user="..." hash="..." realm="any"/> (see "rockhopper hash-password")',
      );
    }
    management = await startManagement({
      appliance,
      config,
      auth,
      configPath: command.configPath,
      users: secure.webUsers,
    });
  } catch (e) {
    log.error(
      `Cannot start the management server on ${config.admin.address}:${config.admin.port}: ${
        errorText(e)
      }`,
    );
  }

  // Devices and sockets are open: give up what the rest of the run does not need.
  try {
    if (mainUser !== undefined) {
      sysControl.switchUser(mainUser);
      log.info(`main process now runs as user ${mainUser.name} (uid ${mainUser.uid})`);
    }
    await giveUpSecrets(secure, absolute(command.configPath));
    // With -u the keeper restarts the secure process: nothing left to run here.
    if (mainUser !== undefined) await secureModule.revokeAll(["run"]);
  } catch (e) {
    log.error(`Cannot give up privileges: ${errorText(e)}; stopping`);
    await management?.stop().catch(() => {});
    await appliance.stop().catch(() => {});
    await secure.close();
    return ExitStatus.Failure;
  }
  secureModule.logReadCheck(log, authPath, secureModule.checkUnreadable(authPath));
  return await runUntilSignal(appliance, management, secure);
}

if (import.meta.main) {
  Deno.exit(await main(Deno.args));
}
