/** Self-test of the namespace harness over plain veth links (needs root). */
import assert from "node:assert/strict";
import { listNamespaces, NetnsError, requireRoot, RUN_PREFIX, withLab } from "./harness.ts";
import { iperf3, tcpTransfer } from "./traffic.ts";
import { patternChunks, patternSha256 } from "./tcp_transfer_agent.ts";

const ignore = requireRoot();

Deno.test("transfer pattern is deterministic and seed dependent", () => {
  const a = [...patternChunks(100_000, 7)];
  const b = [...patternChunks(100_000, 7)];
  assert.deepStrictEqual(a.reduce((n, c) => n + c.length, 0), 100_000);
  assert.deepStrictEqual(a.length, b.length);
  a.forEach((chunk, i) => assert.deepStrictEqual(chunk, b[i]));
  const digest = patternSha256(100_000, 7);
  assert.equal(digest.length, 64);
  assert.notEqual(digest, patternSha256(100_000, 8));
  assert.notEqual(digest, patternSha256(99_999, 7));
});

Deno.test({
  name: "lab links two namespaces, pings, transfers and removes everything",
  ignore,
  fn: async () => {
    let prefix = "";
    await withLab(async (lab) => {
      prefix = lab.prefix;
      assert.ok(prefix.startsWith(RUN_PREFIX));
      await lab.addNamespace("a");
      await lab.addNamespace("b");
      const { devA, devB } = await lab.link("a", "198.51.100.1/24", "b", "198.51.100.2/24");
      assert.deepStrictEqual(devA, "veth0a");
      assert.deepStrictEqual(devB, "veth0b");
      assert.deepStrictEqual(await lab.ping("a", "198.51.100.2", { count: 3 }), 3);
      assert.deepStrictEqual(await lab.ping("a", "198.51.100.99", { count: 1, wait: 1 }), 0);

      await lab.addAddress("a", "10.1.0.1/32");
      await lab.addAddress("b", "10.2.0.1/32");
      await lab.addRoute("a", "10.2.0.0/24", ["via", "198.51.100.2"]);
      await lab.addRoute("b", "10.1.0.0/24", ["via", "198.51.100.1"]);
      assert.deepStrictEqual(await lab.ping("a", "10.2.0.1", { from: "10.1.0.1", count: 2 }), 2);

      const before = await lab.interfaceCounters("b", devB);
      const transfer = await tcpTransfer(lab, {
        from: "a",
        to: "b",
        fromAddress: "10.1.0.1",
        toAddress: "10.2.0.1",
        megabytes: 5,
      });
      assert.deepStrictEqual(transfer.bytes, 5 * 1024 * 1024);
      assert.ok(transfer.sha256Match);
      assert.deepStrictEqual(transfer.peerAddress, "10.1.0.1");
      assert.ok(transfer.mbps > 0);
      const after = await lab.interfaceCounters("b", devB);
      assert.ok(after.rxBytes - before.rxBytes >= 5 * 1024 * 1024);

      const mbps = await iperf3(lab, {
        server: "b",
        client: "a",
        serverAddress: "10.2.0.1",
        clientAddress: "10.1.0.1",
        seconds: 1,
      });
      assert.ok(mbps > 10, `plain veth iperf3 gave only ${mbps} Mbit/s`);

      const sleeper = lab.spawn("b", ["sh", "-c", "sleep 600 & sleep 600"]);
      assert.deepStrictEqual(sleeper.exited, false);
      assert.deepStrictEqual((await listNamespaces(lab.prefix)).length, 2);
    });
    assert.deepStrictEqual(await listNamespaces(prefix), []);
  },
});

Deno.test({
  name: "exec kills a command that outlives its timeout",
  ignore,
  fn: async () => {
    await withLab(async (lab) => {
      await lab.addNamespace("a");
      const started = Date.now();
      await assert.rejects(
        () => lab.exec("a", ["sh", "-c", "sleep 30 & sleep 30"], { timeoutMs: 300 }),
        (e: unknown) => e instanceof NetnsError && /timed out after 300 ms/.test(e.message),
      );
      assert.ok(Date.now() - started < 5_000);
      const { stdout } = await lab.exec("a", ["ip", "netns", "identify"]);
      assert.deepStrictEqual(stdout.trim(), lab.nsName("a"));
    });
  },
});

Deno.test({
  name: "withLab times out a hanging body and still cleans up",
  ignore,
  fn: async () => {
    let prefix = "";
    await assert.rejects(
      () =>
        withLab(async (lab) => {
          prefix = lab.prefix;
          await lab.addNamespace("a");
          await lab.exec("a", ["sleep", "30"], { timeoutMs: 60_000 });
        }, { timeoutMs: 500 }),
      (e: unknown) => e instanceof NetnsError && /timed out after 500 ms/.test(e.message),
    );
    assert.deepStrictEqual(await listNamespaces(prefix), []);
  },
});
