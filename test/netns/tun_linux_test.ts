/**
 * The Linux TUN device end to end (needs root): inside a fresh namespace, `ping 10.99.0.2`
 * goes out of the TUN interface, the agent reads the echo request with `tryRead`, writes a
 * hand-made echo reply and ping must see it.
 */
import assert from "node:assert/strict";
import { requireRoot, withLab } from "./harness.ts";

const AGENT = new URL("./tun_linux_agent.ts", import.meta.url).pathname;

interface AgentReport {
  name: string;
  mode: string;
  request: number[] | null;
  writeOk: boolean;
  pingCode: number;
  pingOutput: string;
  malformedWriteOk: boolean;
  waitPendingBeforeClose: boolean;
  closeWakeMs: number;
  readAfterClose: string;
  writeAfterCloseOk: boolean;
  fdAfterClose: number;
  linkShowAfterClose: number;
  counters: { rxPackets: number; txPackets: number; txDropped: number; txErrors: number };
  tapName: string;
  tapLink: string;
  tapEmptyRead: number;
  uidAfterDrop: number;
  unprivilegedOpen: string;
}

Deno.test({
  name: "TUN device reads a ping's echo request and delivers a written echo reply",
  ignore: requireRoot(),
  fn: () =>
    withLab(async (lab) => {
      await lab.addNamespace("tun");
      const result = await lab.execChecked("tun", [
        Deno.execPath(),
        "run",
        "--allow-ffi",
        "--allow-run",
        "--allow-read",
        AGENT,
        "rhptun%d",
      ], { timeoutMs: 60_000 });
      const report = JSON.parse(result.stdout) as AgentReport;

      assert.equal(report.name, "rhptun0", "the kernel expands %d");
      assert.equal(report.mode, "tun");
      assert.notEqual(report.request, null, "an ICMP echo request to 10.99.0.2 was read");
      const request = Uint8Array.from(report.request!);
      assert.equal(request[0]! >> 4, 4, "IPv4, no packet-information prefix");
      assert.equal(request[9], 1, "ICMP");
      assert.deepEqual([...request.subarray(12, 16)], [10, 99, 0, 1]);
      assert.deepEqual([...request.subarray(16, 20)], [10, 99, 0, 2]);
      assert.equal(request[(request[0]! & 0x0f) * 4], 8, "echo request");

      assert.equal(report.writeOk, true);
      assert.equal(report.pingCode, 0, report.pingOutput);
      assert.match(report.pingOutput, /1 (packets )?received/);
      assert.equal(report.malformedWriteOk, false, "a packet with IP version 15 is refused");

      assert.equal(report.waitPendingBeforeClose, true);
      assert.ok(report.closeWakeMs < 1000, `close woke the wait after ${report.closeWakeMs} ms`);
      assert.equal(report.readAfterClose, "EBADF");
      assert.equal(report.writeAfterCloseOk, false);
      assert.equal(report.fdAfterClose, -1);
      assert.notEqual(report.linkShowAfterClose, 0, "closing removed the interface");

      assert.ok(report.counters.rxPackets >= 1);
      assert.equal(report.counters.txPackets, 1);
      assert.equal(report.counters.txErrors, 2, "malformed packet and write after close");

      assert.equal(report.tapName, "rhptap0");
      assert.match(report.tapLink, /link\/ether /, "a TAP device is an Ethernet interface");
      assert.equal(report.tapEmptyRead, -1, "nothing queued on a TAP that is down");

      assert.equal(report.uidAfterDrop, 65534);
      assert.equal(
        report.unprivilegedOpen,
        "ioctl EPERM: Cannot attach TUN interface rhpnope0 (TUNSETIFF): EPERM (Operation not permitted)",
      );
    }),
});
