/**
 * Entry of a data-plane worker (`new Worker(new URL("./worker_entry.ts", import.meta.url))`):
 * waits for `init`, forwards its log records to the main thread, then runs the loop of
 * {@link DataPlaneWorker} until `stop`. (It does not revoke permissions: in Deno 2.9 a worker
 * that inherits its permissions shares them with the main thread, so a revocation here would
 * take them from the main thread too.)
 *
 * A crash (an exception escaping the loop, an uncaught error) reaches the pool, which restarts
 * the worker (pool.ts); so does a hang (the loop's heartbeat stops: the pool's watchdog).
 * `crashForTest` and `hangForTest`, from the main thread only, make one on purpose.
 */
/// <reference lib="deno.worker" />
import { setLogLevel, setLogSinks } from "../log/mod.ts";
import type { ControlMessage, WorkerMessage } from "./messages.ts";
import { WorkerProgress } from "./shared_state.ts";
import { DataPlaneWorker } from "./worker.ts";

const post = (message: WorkerMessage) => self.postMessage(message);
let worker: DataPlaneWorker | undefined;
let progress: WorkerProgress | undefined;

self.onmessage = (event: MessageEvent<ControlMessage>) => {
  const message = event.data;
  if (message.type === "crashForTest") {
    // Outside any handler: an uncaught exception, as a real bug would raise.
    setTimeout(() => {
      throw new Error("test crash (crashForTest)");
    }, 0);
    return;
  }
  if (message.type === "hangForTest") {
    // Blocks the thread, as a stuck system call would, until the watchdog has replaced it (a
    // JavaScript endless loop would outlive Worker.terminate() in Deno 2.9 and keep the process).
    progress?.waitUntilRetired();
    return;
  }
  if (message.type !== "init") {
    worker?.handle(message);
    return;
  }
  setLogLevel(message.logLevel);
  setLogSinks([(record) =>
    post({
      type: "log",
      level: record.level,
      subsystem: record.subsystem,
      tag: record.tag,
      message: record.message,
    })]);
  progress = new WorkerProgress(message.progress);
  try {
    worker = new DataPlaneWorker(message, post);
  } catch (e) {
    post({ type: "fatal", message: (e as Error).message });
    return;
  }
  post({ type: "ready" });
  worker.run(progress).then(
    () => self.close(),
    (e) => post({ type: "fatal", message: (e as Error).message }),
  );
};
