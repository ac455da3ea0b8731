/**
 * `rockhopper ctl` against gw1's management server on the in-memory lab: tables, --json and
 * --xml, exit codes (0 ok, 1 refused/failed, 2 usage, 3 unreachable), the password from the
 * environment, `log`, and `hash-password`.
 */
import { assert, assertEquals } from "../_assert.ts";
import { CtlExit, type CtlIo, ctlUsage, formatTable, runCtl } from "../../lib/cli/ctl.ts";
import { parseAuthConfig } from "../../lib/config/mod.ts";
import { LocalWebUserService } from "../../lib/auth/mod.ts";
import { Logger } from "../../lib/log/mod.ts";
import { GW2_ID, PASSWORDS, type WebLab, withLab } from "../web/_fixture.ts";

interface Captured {
  io: CtlIo;
  out: string[];
  err: string[];
  interrupt(): void;
}

function capture(env: Record<string, string> = {}): Captured {
  const out: string[] = [];
  const err: string[] = [];
  let interrupt = () => {};
  const interrupted = new Promise<void>((resolve) => (interrupt = resolve));
  return {
    out,
    err,
    interrupt: () => interrupt(),
    io: {
      stdout: (t) => out.push(t),
      stderr: (t) => err.push(t),
      env: (name) => env[name],
      readPassword: () => Promise.reject(new Error("no terminal in tests")),
      interrupted: () => interrupted,
    },
  };
}

function ctl(lab: WebLab, args: string[], env: Record<string, string> = {}) {
  const c = capture({ RHP_URL: lab.url, RHP_PASSWORD: PASSWORDS.admin, ...env });
  return { c, run: runCtl(args, c.io) };
}

Deno.test("ctl: usage errors exit 2 and --help prints the commands", async () => {
  for (
    const args of [
      [],
      ["frobnicate"],
      ["status", "extra"],
      ["status", "--bogus"],
      ["connect"],
      ["disconnect", "--realm", "branch"],
      ["status", "--xml", "--json"],
      ["log", "--level", "private"],
      ["connect", "--realm", "x", "--wait", "61"],
      ["status", "--url", "ftp://127.0.0.1"],
    ]
  ) {
    const c = capture({ RHP_PASSWORD: "x" });
    assertEquals(await runCtl(args, c.io), CtlExit.Usage, args.join(" "));
    assert(c.err.join("\n").startsWith("rockhopper ctl: "), c.err.join("\n"));
  }
  const c = capture();
  assertEquals(await runCtl(["--help"], c.io), CtlExit.Ok);
  assertEquals(c.out, [ctlUsage()]);
  for (const command of ["status", "connect", "disconnect", "realms", "log", "stats"]) {
    assert(ctlUsage().includes(`  ${command} `), command);
  }
});

Deno.test("ctl: an unreachable server exits 3", async () => {
  // A port that was free a moment ago.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  const c = capture({ RHP_PASSWORD: "x" });
  assertEquals(
    await runCtl(["status", "--url", `http://127.0.0.1:${port}`], c.io),
    CtlExit.Unreachable,
  );
  assert(
    c.err[0]!.includes(`Cannot reach the management server at http://127.0.0.1:${port}`),
    c.err[0],
  );
});

Deno.test("ctl: status, connect, disconnect, peers and realms against a running appliance", async () => {
  await withLab({ bus: { statsIntervalMs: 0 } }, async (lab) => {
    let { c, run } = ctl(lab, ["status"]);
    assertEquals(await run, CtlExit.Ok);
    assertEquals(c.out, ["No VPNs."]);

    ({ c, run } = ctl(lab, ["connect", "--realm", "branch", "--peer", GW2_ID]));
    assertEquals(await run, CtlExit.Ok, c.err.join("\n"));
    const sa = lab.gw1.engine.list()[0]!;
    assertEquals(c.out, [`IKE_SA #${sa.serial} with ${GW2_ID} (realm 1): ESTABLISHED`]);

    ({ c, run } = ctl(lab, ["connect", "--realm", "branch"]));
    assertEquals(await run, CtlExit.Failed, "already connected");
    assert(c.err[0]!.includes("already established (already_connected, HTTP 409)"), c.err[0]);

    ({ c, run } = ctl(lab, ["status"]));
    assertEquals(await run, CtlExit.Ok);
    const table = c.out[0]!;
    const lines = table.split("\n");
    assert(lines[0]!.startsWith("IKE_SA  REALM   PEER"), lines[0]);
    assert(lines[1]!.startsWith(`#${sa.serial}`) && lines[1]!.includes(GW2_ID), lines[1]);
    assert(lines[1]!.includes("198.51.100.2:4500") && lines[1]!.includes("ESTABLISHED"), lines[1]);
    assert(table.includes("10.1.0.0/24 === 10.2.0.0/24"), table);

    ({ c, run } = ctl(lab, ["status", "--json"]));
    assertEquals(await run, CtlExit.Ok);
    const json = JSON.parse(c.out[0]!);
    assertEquals(json.action, "status_vpn");
    assertEquals(json.vpn[0].peer_id, GW2_ID);
    assertEquals(json.vpn[0].child_sa[0].esp_suite, "aes256gcm16");

    ({ c, run } = ctl(lab, ["status", "--xml"]));
    assertEquals(await run, CtlExit.Ok);
    assert(
      c.out[0]!.startsWith(`<?xml version="1.0" encoding="UTF-8"?>\n<rhp_http_bus_response`),
      c.out[0],
    );

    ({ c, run } = ctl(lab, ["peers"]));
    assertEquals(await run, CtlExit.Ok);
    assert(
      c.out[0]!.includes(`${GW2_ID}  198.51.100.2:500  add   established  #${sa.serial}`),
      c.out[0],
    );

    ({ c, run } = ctl(lab, ["realms"]));
    assertEquals(await run, CtlExit.Ok);
    assertEquals(
      c.out[0],
      formatTable(
        ["ID", "NAME", "MODE", "ENABLED", "RUNNING", "TUNNEL", "ADDRESS", "PEERS", "VPNS"],
        [
          ["1", "branch", "l3", "yes", "yes", "rhp1", "10.1.0.1/24", "1", "1"],
          ["2", "lab", "l3", "yes", "yes", "rhp2", "10.9.0.1/24", "1", "0"],
        ],
      ),
    );

    // The data-plane workers' counters, as a pool reports them (DataPlanePool.statistics).
    Object.assign(lab.gw1, {
      dataPlaneStatistics: () => ({ workers: 2, workerCrashes: 1, dropUnknownSpi: 3 }),
    });
    ({ c, run } = ctl(lab, ["stats"]));
    assertEquals(await run, CtlExit.Ok);
    assert(c.out[0]!.includes("ikev2:") && c.out[0]!.includes("established_sas"), c.out[0]);
    assert(c.out[0]!.includes("ESP realm 1 (branch, rhp1, 1 child SAs): outbound"), c.out[0]);
    assert(/ESP data-plane workers:\n(.*\n)* {2}drop_unknown_spi +3/.test(c.out[0]!), c.out[0]);

    ({ c, run } = ctl(lab, ["disconnect", "--realm", "branch", "--peer", GW2_ID]));
    assertEquals(await run, CtlExit.Ok, c.err.join("\n"));
    assertEquals(c.out, ["closed 1 IKE SA"]);
    assertEquals(lab.gw1.engine.list().length, 0);

    ({ c, run } = ctl(lab, ["disconnect", "--ike-sa", String(sa.serial)]));
    assertEquals(await run, CtlExit.Failed);
    assert(
      c.err[0]!.includes(`there is no IKE_SA #${sa.serial} (no_such_vpn, HTTP 404)`),
      c.err[0],
    );
    assertEquals(lab.management.server.hub.size, 0, "every ctl run closed its session");
  });
});

Deno.test("ctl: wrong password and a realm outside the user's scope exit 1", async () => {
  await withLab({ bus: { statsIntervalMs: 0 } }, async (lab) => {
    let { c, run } = ctl(lab, ["status"], { RHP_PASSWORD: "wrong" });
    assertEquals(await run, CtlExit.Failed);
    assert(c.err[0]!.includes("wrong user name or password (unauthorized, HTTP 401)"), c.err[0]);
    ({ c, run } = ctl(lab, ["connect", "--realm", "branch", "--user", "lab"], {
      RHP_PASSWORD: PASSWORDS.lab,
    }));
    assertEquals(await run, CtlExit.Failed);
    assert(c.err[0]!.includes("(forbidden, HTTP 403)"), c.err[0]);
    assertEquals(lab.gw1.engine.list().length, 0);
    ({ c, run } = ctl(lab, ["stats", "--user", "lab"], { RHP_PASSWORD: PASSWORDS.lab }));
    assertEquals(await run, CtlExit.Ok, "a realm user gets its realm's ESP counters");
    assert(!c.out[0]!.includes("ikev2:") && c.out[0]!.includes("ESP realm 2 (lab"), c.out[0]);
  });
});

Deno.test("ctl: log prints recent records; --follow prints new ones until interrupted", async () => {
  await withLab({ bus: { statsIntervalMs: 0, readTimeoutMs: 500 } }, async (lab) => {
    new Logger("main", "ctltest").warn("a warning before ctl ran");
    let { c, run } = ctl(lab, ["log", "--level", "warn", "--lines", "10"]);
    assertEquals(await run, CtlExit.Ok, c.err.join("\n"));
    assert(
      c.out.some((l) => / warn {2}main\[ctltest\] a warning before ctl ran$/.test(l)),
      c.out.join("\n"),
    );

    ({ c, run } = ctl(lab, ["log", "--follow", "--lines", "0", "--json"]));
    await new Promise((r) => setTimeout(r, 300));
    new Logger("ike").info("followed line");
    const deadline = Date.now() + 5000;
    while (!c.out.some((l) => l.includes("followed line")) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    c.interrupt();
    assertEquals(await run, CtlExit.Ok);
    const record = JSON.parse(c.out.find((l) => l.includes("followed line"))!);
    assertEquals([record.action, record.level, record.subsystem], ["log_record", "info", "ike"]);
    assertEquals(lab.management.server.hub.size, 0, "the session was closed after the interrupt");
  });
});

Deno.test("ctl hash-password prints an <admin> line that auth.xml loads and that verifies", async () => {
  const c = capture({ RHP_PASSWORD: "a long admin password" });
  assertEquals(await runCtl(["hash-password", "--user", "ops", "--realm", "2"], c.io), CtlExit.Ok);
  const line = c.out[0]!;
  assert(/^<admin user="ops" hash="scrypt\$32768\$8\$1\$[^"]+" realm="2"\/>$/.test(line), line);
  assert(!line.includes("a long admin password"));
  const auth = parseAuthConfig(
    `<rockhopper_auth version="1"><realm id="2"><my_auth method="psk" id="fqdn:x"/></realm>${line}</rockhopper_auth>`,
    "auth.xml",
  );
  const users = new LocalWebUserService(auth);
  assertEquals(await users.verifyWebUser("ops", "a long admin password"), {
    user: "ops",
    realm: 2,
  });

  const bad = capture({ RHP_PASSWORD: "a long admin password" });
  assertEquals(
    await runCtl(["hash-password", "--user", "no spaces allowed"], bad.io),
    CtlExit.Usage,
  );
  assert(bad.err[0]!.includes("is not a user name"), bad.err[0]);
  const short = capture({ RHP_PASSWORD: "short" });
  assertEquals(await runCtl(["hash-password"], short.io), CtlExit.Usage);
});

const canRun = (await Deno.permissions.query({ name: "run" })).state === "granted";

Deno.test({
  name: "main.ts ctl and main.ts hash-password are subcommands; old flags still work",
  ignore: !canRun,
  fn: async () => {
    const root = new URL("../../", import.meta.url).pathname;
    const run = async (args: string[], env: Record<string, string> = {}) => {
      const output = await new Deno.Command(Deno.execPath(), {
        args: ["run", "--allow-read", "--allow-env", "--allow-net", "main.ts", ...args],
        cwd: root,
        env: { NO_COLOR: "1", ...env },
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).output();
      const d = new TextDecoder();
      return { code: output.code, out: d.decode(output.stdout), err: d.decode(output.stderr) };
    };
    let r = await run(["ctl", "--help"]);
    assertEquals(r.code, 0);
    assert(r.out.startsWith("Usage: rockhopper ctl <command> [options]"), r.out);
    r = await run(["ctl"]);
    assertEquals(r.code, 2);
    r = await run(["hash-password", "--user", "root"], { RHP_PASSWORD: "a long password here" });
    assertEquals(r.code, 0, r.err);
    assert(r.out.startsWith('<admin user="root" hash="scrypt$32768$8$1$'), r.out);
    r = await run(["--help"]);
    assertEquals(r.code, 0);
    assert(r.out.includes("ctl <command> [options]"), r.out);
    r = await run(["--check"]);
    assertEquals(r.code, 0, r.err);
  },
});
