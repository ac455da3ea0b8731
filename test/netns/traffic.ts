/**
 * Traffic through a lab path: a checked TCP transfer (SHA-256 verified at the far end) and
 * iperf3 throughput. Both ends always run inside lab namespaces and bind the sender to an inner
 * address, so that the traffic takes the tunnel and not the plain veth.
 */
import { NetnsError, type NetnsLab, type NetnsProcess } from "./harness.ts";
import { patternSha256 } from "./tcp_transfer_agent.ts";

const AGENT_PATH = new URL("./tcp_transfer_agent.ts", import.meta.url).pathname;

/** Options of {@link tcpTransfer}. */
export interface TcpTransferOptions {
  /** Sending namespace (short name). */
  from: string;
  /** Receiving namespace (short name). */
  to: string;
  /** Source address the sender binds to (e.g. the inner `10.1.0.1`). */
  fromAddress: string;
  /** Address the receiver listens on and the sender connects to. */
  toAddress: string;
  /** Size of the transfer in MiB (default 5). */
  megabytes?: number;
  /** TCP port (default 15001). */
  port?: number;
  /** Pattern seed (default 1). */
  seed?: number;
  /** Hard limit for the whole transfer (default 60 s). */
  timeoutMs?: number;
}

/** Outcome of {@link tcpTransfer}. */
export interface TcpTransferResult {
  /** Bytes the receiver counted. */
  bytes: number;
  /** True when the receiver's digest equals the digest of the pattern that was sent. */
  sha256Match: boolean;
  /** Receiver time from accept to EOF. */
  seconds: number;
  /** Goodput in Mbit/s (10^6 bits). */
  mbps: number;
  /** Source address of the connection as seen by the receiver (should be `fromAddress`). */
  peerAddress: string;
}

interface AgentRecord {
  event: string;
  bytes?: number;
  sha256?: string;
  seconds?: number;
  peer?: string;
  message?: string;
}

/** Reads JSON lines from a process until one with `event`; an `error` record throws. */
class AgentLines {
  readonly #reader: ReadableStreamDefaultReader<string>;
  #buffer = "";

  constructor(process: NetnsProcess) {
    if (process.stdout === null) throw new NetnsError("Cannot read agent output: stdout not piped");
    this.#reader = process.stdout.pipeThrough(new TextDecoderStream()).getReader();
  }

  async next(event: string): Promise<AgentRecord> {
    for (;;) {
      const newline = this.#buffer.indexOf("\n");
      if (newline >= 0) {
        const line = this.#buffer.slice(0, newline).trim();
        this.#buffer = this.#buffer.slice(newline + 1);
        if (line === "") continue;
        const record = JSON.parse(line) as AgentRecord;
        if (record.event === "error") {
          throw new NetnsError(`Cannot transfer: agent failed: ${record.message ?? line}`);
        }
        if (record.event === event) return record;
        continue;
      }
      const { value, done } = await this.#reader.read();
      if (done) throw new NetnsError(`Cannot transfer: agent exited before "${event}"`);
      this.#buffer += value;
    }
  }

  async close(): Promise<void> {
    await this.#reader.cancel().catch(() => {});
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new NetnsError(`Cannot ${what}: timed out after ${ms} ms`)),
      ms,
    );
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function agentArgv(args: string[]): string[] {
  return [Deno.execPath(), "run", "--quiet", "--no-config", "--allow-net", AGENT_PATH, ...args];
}

/**
 * Sends `megabytes` MiB of deterministic pseudo-random bytes over TCP from `from` (bound to
 * `fromAddress`) to `to`, and verifies the SHA-256 at the far end against the expected digest.
 *
 * @example
 * ```ts
 * const r = await tcpTransfer(lab, { from: "left", to: "right", fromAddress: "10.1.0.1",
 *   toAddress: "10.2.0.1", megabytes: 5 });
 * assert(r.sha256Match);
 * ```
 */
export async function tcpTransfer(
  lab: NetnsLab,
  options: TcpTransferOptions,
): Promise<TcpTransferResult> {
  const bytes = Math.round((options.megabytes ?? 5) * 1024 * 1024);
  const port = options.port ?? 15001;
  const seed = options.seed ?? 1;
  const timeoutMs = options.timeoutMs ?? 60_000;
  const env = { DENO_NO_UPDATE_CHECK: "1" };
  // The agents' stderr goes to files so that a failure can say why an agent died.
  const receiverErr = await Deno.makeTempFile({ prefix: "rht-transfer-receiver-" });
  const senderErr = await Deno.makeTempFile({ prefix: "rht-transfer-sender-" });
  const receiver = lab.spawn(options.to, agentArgv(["receive", options.toAddress, String(port)]), {
    pipeStdout: true,
    stderrFile: receiverErr,
    env,
  });
  const lines = new AgentLines(receiver);
  let sender: NetnsProcess | undefined;
  try {
    const run = async () => {
      await lines.next("listening");
      sender = lab.spawn(
        options.from,
        agentArgv([
          "send",
          options.toAddress,
          String(port),
          options.fromAddress,
          String(bytes),
          String(seed),
        ]),
        { env, stderrFile: senderErr },
      );
      const done = await lines.next("done");
      const senderStatus = await sender.status;
      if (!senderStatus.success) {
        throw new NetnsError(`Cannot transfer: sender exited with code ${senderStatus.code}`);
      }
      return done;
    };
    let done: AgentRecord;
    try {
      done = await withTimeout(run(), timeoutMs, `transfer ${bytes} bytes`);
    } catch (e) {
      if (!(e instanceof NetnsError)) throw e;
      const tail = async (path: string) =>
        (await Deno.readTextFile(path).catch(() => "")).trim().split("\n").slice(-5).join(" | ");
      throw new NetnsError(
        `${e.message} (receiver stderr: ${await tail(receiverErr)}; sender stderr: ${await tail(
          senderErr,
        )})`,
      );
    }
    const received = done.bytes ?? 0;
    const seconds = done.seconds ?? 0;
    const expected = patternSha256(bytes, seed);
    return {
      bytes: received,
      sha256Match: received === bytes && done.sha256 === expected,
      seconds,
      mbps: seconds > 0 ? (received * 8) / seconds / 1e6 : 0,
      peerAddress: done.peer ?? "",
    };
  } finally {
    await lines.close();
    await receiver.kill();
    if (sender !== undefined) await sender.kill();
    await Deno.remove(receiverErr).catch(() => {});
    await Deno.remove(senderErr).catch(() => {});
  }
}

/** Options of {@link iperf3}. */
export interface Iperf3Options {
  /** Namespace of `iperf3 -s`. */
  server: string;
  /** Namespace of `iperf3 -c`. */
  client: string;
  /** Address the server binds to and the client connects to. */
  serverAddress: string;
  /** Address the client binds to (`-B`). */
  clientAddress: string;
  /** Test duration in seconds (default 3). */
  seconds?: number;
  /** Parallel streams (default 1). */
  streams?: number;
  /** TCP port (default 15201). */
  port?: number;
  /** Server sends, client receives (`-R`). */
  reverse?: boolean;
}

/**
 * Runs iperf3 between two namespaces and returns the received throughput in Mbit/s.
 *
 * @example
 * ```ts
 * const mbps = await iperf3(lab, { server: "right", client: "left", serverAddress: "10.2.0.1",
 *   clientAddress: "10.1.0.1" });
 * ```
 */
export async function iperf3(lab: NetnsLab, options: Iperf3Options): Promise<number> {
  const port = options.port ?? 15201;
  const seconds = options.seconds ?? 3;
  const server = lab.spawn(options.server, [
    "iperf3",
    "-s",
    "-1",
    "-B",
    options.serverAddress,
    "-p",
    String(port),
  ]);
  try {
    await lab.waitForListen(options.server, port);
    const argv = [
      "iperf3",
      "-c",
      options.serverAddress,
      "-B",
      options.clientAddress,
      "-p",
      String(port),
      "-t",
      String(seconds),
      "-P",
      String(options.streams ?? 1),
      "--json",
    ];
    if (options.reverse === true) argv.push("-R");
    const result = await lab.exec(options.client, argv, { timeoutMs: (seconds + 20) * 1000 });
    let report: { error?: string; end?: { sum_received?: { bits_per_second?: number } } };
    try {
      report = JSON.parse(result.stdout);
    } catch {
      throw new NetnsError(
        `Cannot run iperf3: unparsable output: ${result.stdout}${result.stderr}`,
        argv,
      );
    }
    const bps = report.end?.sum_received?.bits_per_second;
    if (result.code !== 0 || bps === undefined) {
      throw new NetnsError(
        `Cannot run iperf3: ${report.error ?? `exit code ${result.code}`}`,
        argv,
      );
    }
    return bps / 1e6;
  } finally {
    await server.kill();
  }
}
