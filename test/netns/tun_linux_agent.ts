/**
 * Runs inside a test namespace (started by tun_linux_test.ts through `ip netns exec`): opens a
 * TUN device with `openTun`, addresses it, answers one ping to 10.99.0.2 by hand, checks that
 * close wakes a pending wait, and prints one JSON report on stdout.
 *
 * Usage: deno run --allow-ffi --allow-run --allow-read tun_linux_agent.ts <ifname>
 */
import { openTun } from "../../lib/net/tun_linux.ts";
import { lastError, libc, SysError } from "../../lib/sys/mod.ts";

const PEER = [10, 99, 0, 2];
const POLL_TIMEOUT_MS = 5000;

const decoder = new TextDecoder();

async function run(argv: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(argv[0]!, {
    args: argv.slice(1),
    stdout: "piped",
    stderr: "piped",
  }).output();
  return { code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
}

async function must(argv: string[]): Promise<void> {
  const r = await run(argv);
  if (r.code !== 0) throw new Error(`Cannot run "${argv.join(" ")}": ${r.stderr.trim()}`);
}

/** RFC 1071 Internet checksum of `bytes`. */
function checksum(bytes: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i + 1 < bytes.length; i += 2) sum += (bytes[i]! << 8) | bytes[i + 1]!;
  if (bytes.length % 2 === 1) sum += bytes[bytes.length - 1]! << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

function isEchoRequestToPeer(p: Uint8Array): boolean {
  if (p.length < 28 || p[0]! >> 4 !== 4 || p[9] !== 1) return false;
  const headerLength = (p[0]! & 0x0f) * 4;
  return PEER.every((b, i) => p[16 + i] === b) && p[headerLength] === 8;
}

/** The echo reply to `request`: addresses swapped, type 0, both checksums recomputed. */
function echoReply(request: Uint8Array): Uint8Array {
  const reply = request.slice();
  const headerLength = (reply[0]! & 0x0f) * 4;
  reply.set(request.subarray(16, 20), 12);
  reply.set(request.subarray(12, 16), 16);
  reply[10] = reply[11] = 0;
  const ipSum = checksum(reply.subarray(0, headerLength));
  reply[10] = ipSum >> 8;
  reply[11] = ipSum & 0xff;
  const icmp = reply.subarray(headerLength);
  icmp[0] = 0;
  icmp[2] = icmp[3] = 0;
  const icmpSum = checksum(icmp);
  icmp[2] = icmpSum >> 8;
  icmp[3] = icmpSum & 0xff;
  return reply;
}

const report: Record<string, unknown> = {};
const tun = openTun({ name: Deno.args[0] ?? "rhptun0", pollTimeoutMs: POLL_TIMEOUT_MS });
try {
  report.name = tun.name;
  report.mode = tun.mode;
  await must(["ip", "addr", "add", "10.99.0.1/24", "dev", tun.name]);
  await must(["ip", "link", "set", tun.name, "up"]);

  // 1. ping → TUN: find the echo request among whatever else the kernel sends (IPv6 RS, MLD).
  const ping = run(["ping", "-n", "-c", "1", "-W", "5", "10.99.0.2"]);
  const buf = new Uint8Array(65536);
  const deadline = Date.now() + 8000;
  let request: Uint8Array | undefined;
  let otherPackets = 0;
  while (request === undefined && Date.now() < deadline) {
    const n = tun.tryRead(buf);
    if (n < 0) {
      await tun.waitReadable();
      continue;
    }
    const packet = buf.subarray(0, n);
    if (isEchoRequestToPeer(packet)) request = packet.slice();
    else otherPackets++;
  }
  report.otherPackets = otherPackets;
  report.request = request === undefined ? null : Array.from(request);

  // 2. TUN → ping: the hand-made reply.
  if (request !== undefined) report.writeOk = tun.write(echoReply(request));
  const pingResult = await ping;
  report.pingCode = pingResult.code;
  report.pingOutput = pingResult.stdout + pingResult.stderr;
  report.malformedWriteOk = tun.write(new Uint8Array([0xff, 0, 0, 0]));

  // 3. close() wakes a pending wait long before the poll timeout.
  await must(["ip", "link", "set", tun.name, "down"]);
  while (tun.tryRead(buf) >= 0) { /* drain */ }
  let resolved = false;
  const waiting = tun.waitReadable().then(() => (resolved = true));
  await new Promise((r) => setTimeout(r, 100));
  report.waitPendingBeforeClose = !resolved;
  const closedAt = performance.now();
  tun.close();
  await waiting;
  report.closeWakeMs = performance.now() - closedAt;

  // 4. After close: reads throw EBADF, writes are refused, the interface is gone.
  try {
    tun.tryRead(buf);
    report.readAfterClose = "no error";
  } catch (e) {
    report.readAfterClose = e instanceof SysError ? e.code : String(e);
  }
  report.writeAfterCloseOk = tun.write(new Uint8Array(28));
  report.fdAfterClose = tun.fd;
  report.linkShowAfterClose = (await run(["ip", "link", "show", "dev", tun.name])).code;
  report.counters = tun.counters.snapshot();

  // 5. TAP mode yields an Ethernet interface.
  const tap = openTun({ name: "rhptap%d", mode: "tap" });
  try {
    report.tapName = tap.name;
    report.tapLink = (await run(["ip", "-o", "link", "show", "dev", tap.name])).stdout;
    report.tapEmptyRead = tap.tryRead(buf);
  } finally {
    tap.close();
  }
} finally {
  tun.close();
}

// 6. Without CAP_NET_ADMIN, attaching fails with a SysError naming the step (last: it drops
// this process's privileges through the FFI credential calls for good).
const NOBODY = 65534;
const c = libc();
if (c.setgroups(0n, null) !== 0) throw lastError("setgroups");
if (c.setgid(NOBODY) !== 0) throw lastError("setgid");
if (c.setuid(NOBODY) !== 0) throw lastError("setuid");
report.uidAfterDrop = c.getuid();
try {
  openTun({ name: "rhpnope0" }).close();
  report.unprivilegedOpen = "opened";
} catch (e) {
  report.unprivilegedOpen = e instanceof SysError ? `${e.call} ${e.code}: ${e.message}` : String(e);
}
console.log(JSON.stringify(report));
