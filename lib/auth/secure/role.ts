/**
 * The `secure` subcommand of main.ts: the secure process, its `--list-files` probe and the
 * keeper. It is started by the main process, never by an operator; it speaks frames on
 * stdin/stdout and logs to stderr.
 *
 * Secure process start-up, in order:
 *   1. ignore SIGINT/SIGTERM: it ends when the main process closes the pipe, after the main
 *      process has removed its routes
 *   2. `-s USER` (as root): setgroups/setgid/setuid keeping only CAP_NET_ADMIN (for `ip`),
 *      then no FFI any more
 *   3. read rockhopper.xml, auth.xml and the key store; cross-check them
 *   4. revoke read, write, net, env, sys, ffi: nothing more is ever read
 *   5. `ready` (identities, file names, warnings: no secret), then serve until EOF
 */
import { parseArgs } from "node:util";
import {
  type AuthConfig,
  checkAuthAgainstConfig,
  ConfigError,
  loadAuthConfig,
  loadConfig,
} from "../../config/mod.ts";
import { selectCryptoProvider } from "../../crypto/mod.ts";
import { isLogLevel, Logger, setLogLevel } from "../../log/mod.ts";
import {
  Capability,
  IpSysService,
  lookupUser,
  PolicedSysService,
  switchUser,
  SysPolicy,
} from "../../sys_control/mod.ts";
import { LocalAuthService } from "../local.ts";
import { LocalWebUserService } from "../web_users.ts";
import type { SecureRoleOptions } from "./command.ts";
import { workerCommand } from "./command.ts";
import { FrameDecoder, frameOfBody } from "./framing.ts";
import { authViewOf, encodeError, encodeEvent, ErrorCode, secretFilesOf } from "./protocol.ts";
import { FrameWriter, SecureRequestHandler, serveStream } from "./server.ts";
import { revokeAll } from "./permissions.ts";
import { SecureProcessSupervisor } from "./supervisor.ts";

const log = new Logger("auth", "secure");

/** Writes all of `bytes` to stdout (a pipe may take less per call). */
async function writeStdout(bytes: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) offset += await Deno.stdout.write(bytes.subarray(offset));
}

function errorText(e: unknown): string {
  if (e instanceof ConfigError) return e.message;
  return e instanceof Error ? e.message : String(e);
}

interface RoleArgs {
  keeper: boolean;
  listFiles: boolean;
  options: SecureRoleOptions;
}

function parseRoleArgs(args: readonly string[]): RoleArgs {
  const { values } = parseArgs({
    args: [...args],
    options: {
      keeper: { type: "boolean" },
      "list-files": { type: "boolean" },
      config: { type: "string", short: "f" },
      auth: { type: "string", short: "a" },
      "secure-user": { type: "string", short: "s" },
      "log-level": { type: "string", short: "l" },
      "deno-config": { type: "string" },
    },
    strict: true,
    allowPositionals: false,
  });
  const level = values["log-level"] ?? "info";
  if (!isLogLevel(level)) throw new RangeError(`unknown log level ${level}`);
  if (values.auth === undefined) throw new RangeError("-a is required");
  if (!values["list-files"] && values.config === undefined) throw new RangeError("-f is required");
  return {
    keeper: values.keeper ?? false,
    listFiles: values["list-files"] ?? false,
    options: {
      configPath: values.config ?? "",
      authPath: values.auth,
      logLevel: level,
      ...(values["secure-user"] === undefined ? {} : { secureUser: values["secure-user"] }),
      ...(values["deno-config"] === undefined ? {} : { denoConfig: values["deno-config"] }),
    },
  };
}

const READY_PREFIX = new TextEncoder().encode('{"event":"ready"');

/** True for a `ready` event body (the keeper relays frames without parsing them otherwise). */
function isReadyEvent(body: Uint8Array): boolean {
  return READY_PREFIX.every((b, i) => body[i] === b);
}

/** Ends only when the main process closes the pipe (or SIGKILL). */
function ignoreStopSignals(): void {
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    Deno.addSignalListener(signal, () => {
      log.debug(`${signal} ignored: the secure side exits when the main process closes its pipe`);
    });
  }
}

/**
 * Switches to `-s` (root only); afterwards FFI is given up. Returns the uid it runs as, when
 * known (without `-s` it is asked through `Deno.uid`, which may not be permitted).
 */
async function becomeSecureUser(
  options: SecureRoleOptions,
  keepNetAdmin: boolean,
): Promise<number | null> {
  let uid: number | null = null;
  if (options.secureUser !== undefined) {
    const user = lookupUser(options.secureUser);
    switchUser(user, { keep: keepNetAdmin ? [Capability.NetAdmin] : [] });
    log.debug(`running as user ${user.name} (uid ${user.uid}, gid ${user.gid})`);
    uid = user.uid;
  } else {
    try {
      uid = Deno.uid();
    } catch {
      // No sys permission: unknown.
    }
  }
  await revokeAll(["ffi"]);
  return uid;
}

/**
 * Runs the `secure` subcommand with `args` (after "secure"); resolves to the exit status.
 *
 * @example
 * ```ts
 * if (args[0] === "secure") Deno.exit(await runSecureRole(args.slice(1)));
 * ```
 */
export async function runSecureRole(args: readonly string[]): Promise<number> {
  let role: RoleArgs;
  try {
    role = parseRoleArgs(args);
  } catch (e) {
    console.error(
      `rockhopper secure: ${errorText(e)} (this subcommand is started by rockhopper itself)`,
    );
    return 2;
  }
  setLogLevel(role.options.logLevel);
  if (role.listFiles) return await listFiles(role.options);
  if (role.keeper) return await runKeeper(role.options);
  return await runSecureProcess(role.options);
}

/** `--list-files`: prints `{"files": [...]}` or `{"error": "..."}` on stdout. */
async function listFiles(options: SecureRoleOptions): Promise<number> {
  const print = (value: unknown) => writeStdout(new TextEncoder().encode(JSON.stringify(value)));
  let auth: AuthConfig;
  try {
    await becomeSecureUser(options, false);
    auth = await loadAuthConfig(options.authPath);
  } catch (e) {
    await print({ error: errorText(e) });
    return 1;
  }
  await print({ files: secretFilesOf(auth).filter((f) => f !== options.authPath) });
  return 0;
}

async function runSecureProcess(options: SecureRoleOptions): Promise<number> {
  ignoreStopSignals();
  const writer = new FrameWriter(writeStdout);
  let handler: SecureRequestHandler;
  let readyEvent: string;
  try {
    const uid = await becomeSecureUser(options, true);
    const config = await loadConfig(options.configPath);
    const auth = await loadAuthConfig(options.authPath);
    const warnings = checkAuthAgainstConfig(config, auth);
    const crypto = selectCryptoProvider();
    const authService = await LocalAuthService.create(auth, crypto);
    const webUsers = new LocalWebUserService(auth);
    const sys = new PolicedSysService(new IpSysService(), SysPolicy.fromConfig(config));
    handler = new SecureRequestHandler({ auth: authService, webUsers, sys }, {
      onRestart: () => Deno.exit(0),
      log,
    });
    // Everything is in memory now: nothing more to read, write, resolve or ask.
    const revoked = await revokeAll(["read", "write", "net", "env", "sys", "ffi"]);
    readyEvent = encodeEvent({
      event: "ready",
      info: {
        pid: Deno.pid,
        uid,
        view: authViewOf(auth),
        warnings,
        files: secretFilesOf(auth),
      },
    });
    log.debug(`loaded ${auth.realms.length} realm(s); revoked ${revoked.join(", ") || "nothing"}`);
  } catch (e) {
    await writer.send(encodeEvent({ event: "failed", message: errorText(e) })).catch(() => {});
    return 1;
  }
  await writer.send(readyEvent);
  await serveStream(Deno.stdin.readable, writer, handler, log);
  return 0;
}

/**
 * The keeper (main process with `-u`): stays root without secrets, network or files, starts
 * the secure process and restarts it, and relays whole frames both ways. The main process,
 * no longer root, could not start a secure process that switches to `-s` itself.
 */
async function runKeeper(options: SecureRoleOptions): Promise<number> {
  ignoreStopSignals();
  let ready = false;
  const writer = new FrameWriter(writeStdout);
  const supervisor = new SecureProcessSupervisor({
    command: () => workerCommand(options),
    onBody: (body) => {
      if (!ready && isReadyEvent(body)) ready = true;
      void writer.send(body).catch(() => {});
    },
    log,
    started: () => ready,
  });
  // A compiled executable carries every permission: keep only `run` (and read, which Deno
  // needs to find its own executable under some loaders).
  await revokeAll(["write", "net", "env", "sys", "ffi"]);
  supervisor.start();
  const decoder = new FrameDecoder();
  for await (const chunk of Deno.stdin.readable) {
    for (const frame of decoder.push(chunk)) {
      if ("body" in frame) {
        // Nothing running: the main process already refuses requests while it is down.
        supervisor.send(frameOfBody(frame.body));
        continue;
      }
      log.warn(`refused a frame from the main process: ${frame.error.message}`);
      const code = frame.error.problem === "oversized" ? ErrorCode.Oversized : ErrorCode.Malformed;
      await writer.send(encodeError(null, code, frame.error.message));
    }
  }
  await supervisor.close();
  return 0;
}
