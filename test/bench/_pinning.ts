/**
 * CPU pinning of the tunnel ends (private to test/bench): every process in the client's
 * namespace runs on the first half of the benchmark's CPUs, every process in the server's
 * namespace on the second half; iperf3, started later by the benchmark itself, stays free.
 * The same rule applies to every path: our appliance (with its secure process), charon,
 * wireguard-go, OpenVPN; plain veth has no process to pin.
 *
 * Why: the benchmark runs both tunnel ends on one machine, which a deployment never does. The
 * sending end's `sendmmsg` delivers into the receiving end's socket in the sender's own
 * context, and the kernel's wake-up of the waiting receiver is a "sync" one, which places it on
 * the waker's CPU. Measured on the 2-core lab machine, unpinned: our two busy worker threads
 * sat on the same core in 42 of 50 samples, and one TCP stream ran at ≈ 4,860 Mbit/s, against
 * ≈ 5,330 with each end on its own core (4 runs of 8 s each, alternating). With the two ends
 * on two machines, as modelled here, neither can pull the other onto its core.
 */

import { namespacePids, runCommand } from "../netns/harness.ts";

/**
 * Parses a Linux CPU list (`/proc/<pid>/status` Cpus_allowed_list, `taskset -c`): numbers and
 * ranges separated by commas; sorted, without duplicates.
 *
 * @example
 * ```ts
 * parseCpuList("0-2,5"); // [0, 1, 2, 5]
 * ```
 */
export function parseCpuList(text: string): number[] {
  const cpus = new Set<number>();
  for (const part of text.trim().split(",")) {
    const match = /^(\d+)(?:-(\d+))?$/.exec(part);
    const first = match ? Number(match[1]) : NaN;
    const last = match?.[2] !== undefined ? Number(match[2]) : first;
    if (!Number.isSafeInteger(first) || !Number.isSafeInteger(last) || last < first) {
      throw new SyntaxError(`Cannot parse CPU list "${text}": "${part}" is not N or N-M`);
    }
    for (let cpu = first; cpu <= last; cpu++) cpus.add(cpu);
  }
  return [...cpus].sort((a, b) => a - b);
}

/** The CPUs of each tunnel end. */
export interface EndCpus {
  client: number[];
  server: number[];
}

/**
 * Splits the benchmark's CPUs between the two ends: the client's end gets the first half
 * (rounded up), the server's end the rest; with one CPU both get it.
 *
 * @example
 * ```ts
 * splitCpus([0, 1]); // { client: [0], server: [1] }
 * splitCpus([0, 1, 2]); // { client: [0, 1], server: [2] }
 * ```
 */
export function splitCpus(cpus: readonly number[]): EndCpus {
  if (cpus.length === 0) throw new RangeError("Cannot split CPUs between the tunnel ends: none");
  if (cpus.length === 1) return { client: [...cpus], server: [...cpus] };
  const half = Math.ceil(cpus.length / 2);
  return { client: cpus.slice(0, half), server: cpus.slice(half) };
}

/** The CPUs this process may run on (its Cpus_allowed_list). */
export async function allowedCpus(): Promise<number[]> {
  const status = await Deno.readTextFile("/proc/self/status");
  const line = status.split("\n").find((l) => l.startsWith("Cpus_allowed_list:"));
  if (line === undefined) throw new Error("Cannot read the allowed CPUs: no Cpus_allowed_list");
  return parseCpuList(line.slice(line.indexOf(":") + 1));
}

/**
 * Pins every thread of every process in namespace `fullName` (as `ip netns` names it) to
 * `cpus`, and checks it took; returns the pinned process IDs (a process that ends meanwhile is
 * left out).
 */
export async function pinNamespace(fullName: string, cpus: readonly number[]): Promise<number[]> {
  const list = cpus.join(",");
  const pinned: number[] = [];
  for (const pid of await namespacePids(fullName)) {
    const argv = ["taskset", "--all-tasks", "--pid", "--cpu-list", list, String(pid)];
    const result = await runCommand(undefined, argv);
    // A process that ended since it was listed (e.g. a daemon's helper script) is no error.
    const tasks = await threadsOf(pid);
    if (tasks === null) continue;
    if (result.code !== 0) {
      throw new Error(`Cannot run ${argv.join(" ")}: exit ${result.code}: ${result.stderr.trim()}`);
    }
    pinned.push(pid);
    for (const task of tasks) {
      const status = await Deno.readTextFile(`/proc/${pid}/task/${task}/status`)
        .catch(() => ""); // a thread that has just ended
      const line = status.split("\n").find((l) => l.startsWith("Cpus_allowed_list:"));
      if (line === undefined) continue;
      const got = parseCpuList(line.slice(line.indexOf(":") + 1)).join(",");
      if (got !== list) {
        throw new Error(`Cannot pin thread ${task} of process ${pid}: it runs on ${got}`);
      }
    }
  }
  return pinned;
}

/** The thread IDs of process `pid`, or null when it no longer exists. */
async function threadsOf(pid: number): Promise<string[] | null> {
  const tasks: string[] = [];
  try {
    for await (const task of Deno.readDir(`/proc/${pid}/task`)) tasks.push(task.name);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
  return tasks;
}
