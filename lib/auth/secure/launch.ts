/**
 * The main process's handle on the secure side: starts it (directly, or through the keeper
 * when the main process will give up root), waits until it has loaded its files, and exposes
 * the remote services. The secure process is restarted by whoever started it — the
 * supervisor in this process, or the keeper.
 */
import { Logger } from "../../log/mod.ts";
import { SecureClient, SecureStartError } from "./client.ts";
import { keeperCommand, type SecureRoleOptions, workerCommand } from "./command.ts";
import { FrameDecoder } from "./framing.ts";
import { encodeEvent, type ReadyInfo } from "./protocol.ts";
import { RemoteAuthService, RemoteSysService, RemoteWebUserService } from "./remote.ts";
import { type RestartLimits, SecureProcessSupervisor } from "./supervisor.ts";

/** Options of {@link SecureSide.start}. */
export interface SecureSideOptions extends SecureRoleOptions {
  /**
   * Start the keeper, which starts (and restarts) the secure process: needed when this process
   * gives up root afterwards (`-u`).
   */
  keeper?: boolean;
  /** Every frame body received from the secure side (tests look for secrets in it). */
  onReceive?: (body: Uint8Array) => void;
  /** Every frame sent to the secure side (tests look for secrets in it). */
  onSend?: (frame: Uint8Array) => void;
  limits?: Partial<RestartLimits>;
  /** How long the first start may take (default 60 s). */
  readyTimeoutMs?: number;
  /** Per-request timeout (default 10 s). */
  requestTimeoutMs?: number;
}

const encoder = new TextEncoder();

/**
 * The running secure side.
 *
 * @example
 * ```ts
 * const secure = await SecureSide.start({ configPath, authPath, logLevel: "info" });
 * const appliance = await Appliance.start({ config, auth: authConfigOfView(secure.info.view),
 *   authService: secure.auth, sys: secure.sys });
 * ```
 */
export class SecureSide {
  readonly client: SecureClient;
  readonly auth: RemoteAuthService;
  readonly webUsers: RemoteWebUserService;
  readonly sys: RemoteSysService;
  readonly mode: "direct" | "keeper";
  readonly #close: () => Promise<void>;
  readonly #supervisor: SecureProcessSupervisor | undefined;
  #info: ReadyInfo;

  private constructor(parts: {
    client: SecureClient;
    mode: "direct" | "keeper";
    info: ReadyInfo;
    close: () => Promise<void>;
    supervisor?: SecureProcessSupervisor;
  }) {
    this.client = parts.client;
    this.mode = parts.mode;
    this.#info = parts.info;
    this.#close = parts.close;
    this.#supervisor = parts.supervisor;
    this.auth = new RemoteAuthService(this.client);
    this.webUsers = new RemoteWebUserService(this.client);
    this.sys = new RemoteSysService(this.client);
  }

  /** What the secure process said when it last became ready. */
  get info(): ReadyInfo {
    return this.client.info ?? this.#info;
  }

  /** The pid of the current secure process (as it reported it). */
  get pid(): number {
    return this.info.pid;
  }

  /** Secure processes started by this process (direct mode). */
  get starts(): number | undefined {
    return this.#supervisor?.starts;
  }

  /**
   * Starts the secure side and waits for it to be ready. Throws {@link SecureStartError}
   * with its message (e.g. the loader's "auth.xml:12: ...") when it cannot start.
   */
  static async start(options: SecureSideOptions): Promise<SecureSide> {
    const log = new Logger("auth");
    let send: (frame: Uint8Array) => boolean = () => false;
    const client = new SecureClient({
      send: (frame) => send(frame),
      log,
      ...(options.onReceive ? { onReceive: options.onReceive } : {}),
      ...(options.onSend ? { onSend: options.onSend } : {}),
      ...(options.requestTimeoutMs ? { timeoutMs: options.requestTimeoutMs } : {}),
    });
    client.onReady = (info, again) => {
      const user = info.uid === null ? "" : `, uid ${info.uid}`;
      if (again) {
        log.info(`secure process ready again (pid ${info.pid}${user}): accepting new SAs again`);
      } else {
        log.info(`secure process ready (pid ${info.pid}${user})`);
      }
    };
    let close: () => Promise<void>;
    let supervisor: SecureProcessSupervisor | undefined;
    if (options.keeper) {
      const keeper = startKeeper(options, client, log);
      send = keeper.send;
      close = keeper.close;
    } else {
      const s = new SecureProcessSupervisor({
        command: () => workerCommand(options),
        onBody: (body) => client.receive(body),
        log,
        started: () => client.info !== undefined,
        ...(options.limits ? { limits: options.limits } : {}),
      });
      supervisor = s;
      send = (frame) => s.send(frame);
      close = () => s.close();
      s.start();
    }
    let info: ReadyInfo;
    try {
      info = await client.waitReady(options.readyTimeoutMs ?? 60_000);
    } catch (e) {
      client.close();
      await close();
      throw e instanceof SecureStartError ? e : new SecureStartError((e as Error).message);
    }
    return new SecureSide({
      client,
      mode: options.keeper ? "keeper" : "direct",
      info,
      close,
      ...(supervisor ? { supervisor } : {}),
    });
  }

  /** Stops the secure side (it exits when its pipe closes). */
  async close(): Promise<void> {
    this.client.close();
    await this.#close();
  }
}

/** Spawns the keeper and relays its frames to `client`. */
function startKeeper(
  options: SecureSideOptions,
  client: SecureClient,
  log: Logger,
): { send: (frame: Uint8Array) => boolean; close: () => Promise<void> } {
  const line = keeperCommand(options);
  const child = new Deno.Command(line.command, {
    args: line.args,
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  log.info(`secure-process keeper started (pid ${child.pid})`);
  let writer: WritableStreamDefaultWriter<Uint8Array> | undefined = child.stdin.getWriter();
  let closing = false;
  const pumping = (async () => {
    const decoder = new FrameDecoder();
    try {
      for await (const chunk of child.stdout) {
        for (const frame of decoder.push(chunk)) {
          if ("body" in frame) client.receive(frame.body);
          else log.error(`the keeper broke the protocol: ${frame.error.message}`);
        }
      }
    } catch {
      // It exited; reported below.
    }
  })();
  const exited = (async () => {
    const status = await child.status;
    await pumping;
    writer = undefined;
    if (closing) return;
    const how = status.signal ? `was killed by ${status.signal}` : `exited (${status.code})`;
    const reason = `the secure-process keeper (pid ${child.pid}) ${how}`;
    log.error(
      `${reason}: the secure process cannot be restarted any more; new SAs are refused until rockhopper is restarted (established SAs keep running)`,
    );
    client.receive(encoder.encode(encodeEvent({ event: "down", reason })));
  })();
  return {
    send(frame) {
      if (!writer) return false;
      writer.write(frame).catch(() => {});
      return true;
    },
    async close() {
      closing = true;
      await writer?.close().catch(() => {});
      const timer = setTimeout(() => {
        try {
          child.kill("SIGKILL");
        } catch {
          // Gone.
        }
      }, 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
