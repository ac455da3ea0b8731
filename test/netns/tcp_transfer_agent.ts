/**
 * The two ends of a checked TCP transfer, run by {@link ../netns/traffic.ts} inside namespaces
 * with `deno run --allow-net`:
 *
 * ```
 * deno run --allow-net tcp_transfer_agent.ts receive <listen address> <port>
 * deno run --allow-net tcp_transfer_agent.ts send <address> <port> <bind address> <bytes> <seed>
 * ```
 *
 * The receiver prints `{"event":"listening"}` once bound, then one JSON line
 * `{"event":"done","bytes":N,"sha256":"…","seconds":S}` after EOF. The sender streams `bytes`
 * bytes of the deterministic pattern {@link patternChunks} and prints its own summary line.
 * As a module it exports the pattern so that the harness can compute the expected digest.
 * `node:net` is used for the sender because `Deno.connect` cannot bind a source address.
 */
import net from "node:net";
import { createHash } from "node:crypto";

/** Bytes per generated chunk. */
export const PATTERN_CHUNK_SIZE = 64 * 1024;

/**
 * Yields `total` bytes of xorshift32 output seeded by `seed` (a non-zero 32-bit value), in
 * chunks of {@link PATTERN_CHUNK_SIZE}. Each yielded array is fresh.
 */
export function* patternChunks(total: number, seed: number): Generator<Uint8Array> {
  let x = (seed >>> 0) || 0x9e3779b9;
  let left = total;
  while (left > 0) {
    const n = Math.min(PATTERN_CHUNK_SIZE, left);
    const words = new Uint32Array(Math.ceil(n / 4));
    for (let i = 0; i < words.length; i++) {
      x ^= x << 13;
      x >>>= 0;
      x ^= x >>> 17;
      x ^= x << 5;
      x >>>= 0;
      words[i] = x;
    }
    yield new Uint8Array(words.buffer, 0, n);
    left -= n;
  }
}

/** SHA-256 (lower-case hex) of the pattern of `total` bytes for `seed`. */
export function patternSha256(total: number, seed: number): string {
  const hash = createHash("sha256");
  for (const chunk of patternChunks(total, seed)) hash.update(chunk);
  return hash.digest("hex");
}

function print(record: Record<string, unknown>): void {
  console.log(JSON.stringify(record));
}

async function receive(address: string, port: number): Promise<void> {
  const listener = Deno.listen({ hostname: address, port, transport: "tcp" });
  print({ event: "listening" });
  const conn = await listener.accept();
  listener.close();
  const peer = (conn.remoteAddr as Deno.NetAddr).hostname;
  const started = performance.now();
  const hash = createHash("sha256");
  let bytes = 0;
  for await (const chunk of conn.readable) {
    hash.update(chunk);
    bytes += chunk.length;
  }
  const seconds = (performance.now() - started) / 1000;
  const sha256 = hash.digest("hex");
  print({ event: "done", bytes, sha256, seconds, peer });
}

async function send(
  address: string,
  port: number,
  bind: string,
  total: number,
  seed: number,
): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const started = performance.now();
    const chunks = patternChunks(total, seed);
    const socket = net.connect({ host: address, port, localAddress: bind });
    socket.on("error", reject);
    const pump = () => {
      for (;;) {
        const next = chunks.next();
        if (next.done === true) {
          socket.end();
          return;
        }
        if (!socket.write(next.value)) {
          socket.once("drain", pump);
          return;
        }
      }
    };
    socket.on("connect", pump);
    socket.on("close", (hadError: boolean) => {
      if (hadError) return;
      const seconds = (performance.now() - started) / 1000;
      print({ event: "sent", bytes: total, seconds });
      resolve();
    });
  });
}

if (import.meta.main) {
  const [mode, ...rest] = Deno.args;
  try {
    if (mode === "receive" && rest.length === 2) {
      await receive(rest[0]!, Number(rest[1]));
    } else if (mode === "send" && rest.length === 5) {
      await send(rest[0]!, Number(rest[1]), rest[2]!, Number(rest[3]), Number(rest[4]));
    } else {
      throw new TypeError(`Cannot start transfer agent: bad arguments: ${Deno.args.join(" ")}`);
    }
  } catch (e) {
    print({ event: "error", message: e instanceof Error ? e.message : String(e) });
    Deno.exit(1);
  }
}
