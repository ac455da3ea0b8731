/**
 * Starts the secure process, carries frames to and from it, and restarts it when it dies, with
 * a bounded back-off: 250 ms doubling up to 30 s, at most 5 restarts in any 60 s (then it waits
 * for the oldest to leave the window). A process that exits with status 0 while its pipe is
 * open asked for a restart (`restart` request): it is started again at once.
 *
 * It runs in the main process (no `-u`), or in the keeper when the main process gives up root
 * (keeper.ts): then the keeper, still root, can start the next secure process.
 *
 *   1. command()  the command line (under `deno run` after a `--list-files` run)
 *   2. spawn      stdin/stdout piped, stderr shared with ours (one log)
 *   3. pump       stdout → FrameDecoder → onBody; a framing error kills the process
 *   4. exit       onBody(down event) → back-off → 1.
 */
import { Logger } from "../../log/mod.ts";
import type { CommandLine } from "./command.ts";
import { FrameDecoder } from "./framing.ts";
import { encodeEvent } from "./protocol.ts";

/** Restart limits. */
export interface RestartLimits {
  /** At most this many restarts in any {@link windowMs}. */
  maxRestarts: number;
  windowMs: number;
  /** First delay; doubles with each crash in a row. */
  minDelayMs: number;
  maxDelayMs: number;
  /** A process that ran this long resets the doubling. */
  stableMs: number;
}

/** The limits of the running appliance. */
export const DEFAULT_RESTART_LIMITS: Readonly<RestartLimits> = {
  maxRestarts: 5,
  windowMs: 60_000,
  minDelayMs: 250,
  maxDelayMs: 30_000,
  stableMs: 60_000,
};

/**
 * The restart schedule: pure, with the clock passed in (unit-testable).
 *
 * @example
 * ```ts
 * const policy = new RestartPolicy();
 * policy.next(Date.now(), 50); // { delayMs: 250, recent: 1 }
 * ```
 */
export class RestartPolicy {
  readonly limits: RestartLimits;
  /** Planned restart times inside the window. */
  #restarts: number[] = [];
  #inARow = 0;

  constructor(limits: Partial<RestartLimits> = {}) {
    this.limits = { ...DEFAULT_RESTART_LIMITS, ...limits };
  }

  /**
   * The delay before restarting a process that died at `now` after running `uptimeMs`, and how
   * many restarts (this one included) fall in the window.
   */
  next(now: number, uptimeMs: number): { delayMs: number; recent: number } {
    const l = this.limits;
    if (uptimeMs >= l.stableMs) this.#inARow = 0;
    let at = now + Math.min(l.minDelayMs * 2 ** this.#inARow, l.maxDelayMs);
    this.#inARow++;
    this.#restarts = this.#restarts.filter((t) => t > at - l.windowMs);
    if (this.#restarts.length >= l.maxRestarts) {
      // The oldest must leave the window first.
      const oldest = this.#restarts[this.#restarts.length - l.maxRestarts]!;
      at = Math.max(at, oldest + l.windowMs);
      this.#restarts = this.#restarts.filter((t) => t > at - l.windowMs);
    }
    this.#restarts.push(at);
    return { delayMs: at - now, recent: this.#restarts.length };
  }
}

/** Options of {@link SecureProcessSupervisor}. */
export interface SupervisorOptions {
  /** The command line of the next secure process. */
  command: () => Promise<CommandLine>;
  /** Every frame body from the secure process, and a `down` event when it ended. */
  onBody: (body: Uint8Array) => void;
  limits?: Partial<RestartLimits>;
  log?: Logger;
  /**
   * False until the first secure process was ready: a failed first start is the caller's to
   * report (it exits), so it is logged at debug level only.
   */
  started?: () => boolean;
}

const encoder = new TextEncoder();

function describeExit(status: Deno.CommandStatus): string {
  return status.signal ? `was killed by ${status.signal}` : `exited with status ${status.code}`;
}

/**
 * Keeps one secure process running.
 *
 * @example
 * ```ts
 * const supervisor = new SecureProcessSupervisor({
 *   command: () => workerCommand(options),
 *   onBody: (body) => client.receive(body),
 * });
 * supervisor.start();
 * ```
 */
export class SecureProcessSupervisor {
  readonly #options: SupervisorOptions;
  readonly #log: Logger;
  readonly #policy: RestartPolicy;
  #child: Deno.ChildProcess | undefined;
  #writer: WritableStreamDefaultWriter<Uint8Array> | undefined;
  #closed = false;
  #loop: Promise<void> | undefined;
  #wake: (() => void) | undefined;
  /** Secure processes started so far. */
  starts = 0;

  constructor(options: SupervisorOptions) {
    this.#options = options;
    this.#log = options.log ?? new Logger("auth");
    this.#policy = new RestartPolicy(options.limits);
  }

  /** The pid of the running secure process, if one runs. */
  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** Starts the first process and keeps one running until {@link close}. */
  start(): void {
    this.#loop ??= this.#run();
  }

  /** Writes one frame to the running process; false when none runs. */
  send(frame: Uint8Array): boolean {
    const writer = this.#writer;
    if (!writer) return false;
    writer.write(frame).catch(() => {
      // The process is going away; its exit is reported by the loop.
    });
    return true;
  }

  /** Stops restarting; closes the process's stdin (it exits) and waits, SIGKILL after 3 s. */
  async close(): Promise<void> {
    this.#closed = true;
    this.#wake?.();
    const child = this.#child;
    await this.#writer?.close().catch(() => {});
    if (child) {
      const timer = setTimeout(() => {
        try {
          child.kill("SIGKILL");
        } catch {
          // Gone.
        }
      }, 3_000);
      await child.status.catch(() => {});
      clearTimeout(timer);
    }
    await this.#loop;
  }

  async #run(): Promise<void> {
    while (!this.#closed) {
      const started = Date.now();
      let status: Deno.CommandStatus | undefined;
      let reason: string;
      let pid: number | undefined;
      try {
        const line = await this.#options.command();
        if (this.#closed) return;
        const child = new Deno.Command(line.command, {
          args: line.args,
          stdin: "piped",
          stdout: "piped",
          stderr: "inherit",
        }).spawn();
        pid = child.pid;
        this.#child = child;
        this.#writer = child.stdin.getWriter();
        this.starts++;
        this.#log.info(`secure process started (pid ${child.pid})`);
        const pumping = this.#pump(child);
        status = await child.status;
        await pumping;
        reason = `the secure process (pid ${pid}) ${describeExit(status)}`;
      } catch (e) {
        // The file listing failed (auth.xml invalid, -s user cannot read it) or spawn did.
        reason = `Cannot start the secure process: ${(e as Error).message}`;
        this.#options.onBody(
          encoder.encode(encodeEvent({ event: "failed", message: (e as Error).message })),
        );
      } finally {
        this.#writer?.releaseLock();
        this.#writer = undefined;
        this.#child = undefined;
      }
      if (this.#closed) return;
      const deliberate = status !== undefined && status.success;
      this.#options.onBody(encoder.encode(encodeEvent({ event: "down", reason })));
      let delayMs = 0;
      if (deliberate) {
        this.#log.info(`${reason} to restart: starting it again`);
      } else {
        const next = this.#policy.next(Date.now(), Date.now() - started);
        delayMs = next.delayMs;
        const wasReady = this.#options.started?.() ?? true;
        this.#log[wasReady ? "error" : "debug"](
          `${reason}: new SAs are refused until it is back (established SAs keep running); restarting it in ${delayMs} ms (restart ${next.recent} in the last ${
            this.#policy.limits.windowMs / 1000
          } s, at most ${this.#policy.limits.maxRestarts})`,
        );
      }
      if (delayMs > 0) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, delayMs);
          this.#wake = () => {
            clearTimeout(timer);
            resolve();
          };
        });
        this.#wake = undefined;
      }
    }
  }

  /** Cuts stdout into frames for onBody; kills the process when it breaks the framing. */
  async #pump(child: Deno.ChildProcess): Promise<void> {
    const decoder = new FrameDecoder();
    try {
      for await (const chunk of child.stdout) {
        for (const frame of decoder.push(chunk)) {
          if ("body" in frame) {
            this.#options.onBody(frame.body);
            continue;
          }
          this.#log.error(
            `the secure process (pid ${child.pid}) broke the protocol: ${frame.error.message}; killing it`,
          );
          try {
            child.kill("SIGKILL");
          } catch {
            // Gone.
          }
        }
      }
    } catch (e) {
      this.#log.debug(`reading the secure process failed: ${(e as Error).message}`);
    }
    const truncated = decoder.end();
    if (truncated) this.#log.warn(`the secure process ended mid-frame: ${truncated.message}`);
  }
}
