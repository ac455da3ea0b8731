import { assert, assertEquals, assertRejects } from "../_assert.ts";
import {
  addAddress,
  addRoute,
  delAddress,
  delRoute,
  IpCommandError,
  linkDown,
  linkUp,
  runIp,
  setMtu,
} from "../../lib/net/ip_control.ts";
import type { IpRunner, IpRunResult } from "../../lib/net/ip_control.ts";

/** A runner that records argv and answers with `result`. */
function recorder(result: Partial<IpRunResult> = {}): { calls: string[][]; runner: IpRunner } {
  const calls: string[][] = [];
  return {
    calls,
    runner: (argv) => {
      calls.push([...argv]);
      return Promise.resolve({ exitCode: 0, stdout: "", stderr: "", timedOut: false, ...result });
    },
  };
}

Deno.test("builds the ip argv for each operation, with -n for a namespace", async () => {
  const { calls, runner } = recorder();
  await linkUp("rhp1", { runner });
  await linkDown("rhp1", { runner, netns: "rhp-test-1" });
  await setMtu("rhp1", 1400, { runner });
  await addAddress("rhp1", "10.1.0.1/24", { runner });
  await delAddress("rhp1", "fd00::1/64", { runner });
  await addRoute("10.2.0.0/24", { dev: "rhp1", src: "10.1.0.1", runner });
  await addRoute("10.3.0.0/24", { dev: "rhp1", table: 220, metric: 5, replace: true, runner });
  await delRoute("10.2.0.0/24", { dev: "rhp1", runner, ipPath: "/usr/sbin/ip" });
  assertEquals(calls, [
    ["ip", "link", "set", "dev", "rhp1", "up"],
    ["ip", "-n", "rhp-test-1", "link", "set", "dev", "rhp1", "down"],
    ["ip", "link", "set", "dev", "rhp1", "mtu", "1400"],
    ["ip", "address", "add", "10.1.0.1/24", "dev", "rhp1"],
    ["ip", "address", "del", "fd00::1/64", "dev", "rhp1"],
    ["ip", "route", "add", "10.2.0.0/24", "dev", "rhp1", "src", "10.1.0.1"],
    ["ip", "route", "replace", "10.3.0.0/24", "dev", "rhp1", "table", "220", "metric", "5"],
    ["/usr/sbin/ip", "route", "del", "10.2.0.0/24", "dev", "rhp1"],
  ]);
});

Deno.test("rejects invalid arguments before running anything", async () => {
  const { calls, runner } = recorder();
  await assertRejects(() => linkUp("-rf", { runner }), TypeError, "Cannot set link up");
  await assertRejects(() => linkUp("name with space", { runner }), TypeError);
  await assertRejects(() => linkUp("waytoolonginterfacename", { runner }), TypeError);
  await assertRejects(() => setMtu("rhp1", 40, { runner }), TypeError, "MTU 40");
  await assertRejects(() => addAddress("rhp1", "10.0.0.1; reboot", { runner }), TypeError);
  await assertRejects(() => addRoute("10.2.0.0/24", { runner }), TypeError, "device");
  await assertRejects(() => linkUp("lo", { runner, netns: "../x" }), TypeError, "namespace");
  assertEquals(calls.length, 0);
});

Deno.test("a failing ip command becomes an IpCommandError with argv and stderr", async () => {
  const { runner } = recorder({ exitCode: 2, stderr: "Error: Nexthop device is not up.\n" });
  const e = await assertRejects(
    () => addRoute("10.2.0.0/24", { dev: "rhp1", runner }),
    IpCommandError,
    "Nexthop device is not up",
  ) as IpCommandError;
  assertEquals(e.argv, ["ip", "route", "add", "10.2.0.0/24", "dev", "rhp1"]);
  assertEquals(e.exitCode, 2);
  assert(e.message.startsWith(`Cannot run "ip route add 10.2.0.0/24 dev rhp1"`));
});

Deno.test("a timed-out or unstartable ip command becomes an IpCommandError", async () => {
  const timedOut = recorder({ exitCode: null, timedOut: true });
  const e = await assertRejects(
    () => linkUp("rhp1", { runner: timedOut.runner, timeoutMs: 50 }),
    IpCommandError,
    "timed out after 50 ms",
  ) as IpCommandError;
  assert(e.timedOut);
  const spawnFails: IpRunner = () => Promise.reject(new Deno.errors.NotFound("no such file"));
  await assertRejects(() => linkUp("rhp1", { runner: spawnFails }), IpCommandError, "no such file");
});

/** Root and permission to spawn `ip` (run with --allow-run --allow-sys, or -A, as root). */
function canRunIp(): boolean {
  const granted = (d: Deno.PermissionDescriptor) =>
    Deno.permissions.querySync(d).state === "granted";
  return granted({ name: "run" }) && granted({ name: "sys", kind: "uid" }) && Deno.uid() === 0;
}

Deno.test({
  name: "configures a link, address and route inside a private network namespace",
  ignore: !canRunIp(),
  async fn() {
    const ns = `rhp-ipc-${Deno.pid}-${Math.random().toString(36).slice(2, 8)}`;
    await runIp(["netns", "add", ns]);
    try {
      const opts = { netns: ns };
      await linkUp("lo", opts);
      await setMtu("lo", 1400, opts);
      await addAddress("lo", "10.99.0.1/32", opts);
      await addRoute("10.98.0.0/16", { ...opts, dev: "lo", src: "10.99.0.1" });
      const routes = await runIp(["route", "show"], opts);
      assert(routes.includes("10.98.0.0/16 dev lo"), routes);
      assert((await runIp(["link", "show", "lo"], opts)).includes("mtu 1400"));
      const e = await assertRejects(
        () => addRoute("10.98.0.0/16", { ...opts, dev: "lo" }),
        IpCommandError,
      ) as IpCommandError;
      assert(e.stderr.length > 0);
      await delRoute("10.98.0.0/16", opts);
      assert(!(await runIp(["route", "show"], opts)).includes("10.98.0.0/16"));
      await delAddress("lo", "10.99.0.1/32", opts);
    } finally {
      await runIp(["netns", "del", ns]);
    }
  },
});

Deno.test({
  name: "the default runner kills a command that outlives its timeout",
  ignore: Deno.permissions.querySync({ name: "run" }).state !== "granted",
  async fn() {
    const started = Date.now();
    const e = await assertRejects(
      () => runIp(["5"], { ipPath: "sleep", timeoutMs: 100 }),
      IpCommandError,
      "timed out after 100 ms",
    ) as IpCommandError;
    assert(e.timedOut);
    assert(Date.now() - started < 2000, "killed, not waited for");
  },
});
