/**
 * Privilege separation end to end: two of our appliances, gw1 started as root with
 * `-u nobody -s 64123:64123` (main process unprivileged, secure process as its own user with
 * only CAP_NET_ADMIN, restarted by the keeper) and gw2 with a Deno `--allow-read` list instead
 * of root separation. From the inside both main processes find auth.xml out of reach; killing
 * the secure process of each side (SIGKILL) leaves the established tunnel carrying a ping
 * without loss, both come back, and a new IKE SA (IKE_AUTH through the restarted secure
 * processes, the web user checked by one) is established afterwards. No log holds a secret.
 */
import { assert, assertEquals } from "../_assert.ts";
import { hashPassword } from "../../lib/auth/mod.ts";
import { NetnsError, type NetnsLab, requireRoot, withLab } from "./harness.ts";
import {
  CHILD_SA_INSTALLED_PATTERN,
  denoExecutable,
  FailureArtifacts,
  gatewayPair,
  GW2_ID,
  REPO_ROOT,
  type RockhopperNode,
} from "./rockhopper_node.ts";

const SECURE_UID = 64123;
const NOBODY = 65534;

function randomText(): string {
  return btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(24))));
}

function spellings(secret: string): string[] {
  const bytes = new TextEncoder().encode(secret);
  const hex = [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
  return [secret, hex, bytes.toBase64()];
}

/** The pid of the secure process that most recently said it was ready. */
async function securePid(node: RockhopperNode): Promise<number> {
  const matches = [
    ...(await node.logText()).matchAll(/secure process ready(?: again)? \(pid (\d+)/g),
  ];
  if (matches.length === 0) {
    throw new NetnsError(`no secure process in ${node.options.namespace}'s log`);
  }
  return Number(matches.at(-1)![1]);
}

/** Uid, effective capabilities and no_new_privs of a process, from /proc. */
async function processIdentity(
  pid: number,
): Promise<{ uid: number; capEff: string; noNewPrivs: string }> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  const field = (name: string) => new RegExp(`^${name}:\\s+(\\S+)`, "m").exec(status)?.[1] ?? "";
  return { uid: Number(field("Uid")), capEff: field("CapEff"), noNewPrivs: field("NoNewPrivs") };
}

async function ctl(lab: NetnsLab, ns: string, password: string, args: string[]) {
  return await lab.exec(ns, [
    denoExecutable(),
    "run",
    "--allow-all",
    "--config",
    `${REPO_ROOT}deno.json`,
    `${REPO_ROOT}main.ts`,
    "ctl",
    ...args,
  ], {
    env: { RHP_PASSWORD: password, NO_COLOR: "1", DENO_NO_UPDATE_CHECK: "1" },
    timeoutMs: 40_000,
  });
}

async function waitFor(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new NetnsError(`Cannot see ${what} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

Deno.test({
  name:
    "killing the secure process keeps the tunnel passing traffic; it restarts and a new SA comes up",
  ignore: requireRoot(),
  fn: () =>
    withLab(async (lab) => {
      const psk = randomText();
      const password = randomText();
      const { gw1, gw2 } = await gatewayPair(lab, psk, {
        gw1: {
          webUsers: [{
            user: "admin",
            hash: await hashPassword(password, { n: 4096 }),
            realm: "any",
          }],
          mainUser: "nobody",
          secureUser: { spec: `${SECURE_UID}:${SECURE_UID}`, uid: SECURE_UID, gid: SECURE_UID },
        },
        gw2: {
          // What an operator lists instead of a global --allow-read: the files, not the directory.
          denoPermissions: [
            `--allow-read={dir}/rockhopper.xml,{dir}/rockhopper.xml.prev,${REPO_ROOT}web,${REPO_ROOT}deno.json`,
            "--allow-net",
            "--allow-ffi",
            "--allow-run",
            "--allow-sys",
          ],
        },
      });
      const artifacts = new FailureArtifacts(lab, "secure-process");
      artifacts.add("gw1", gw1);
      artifacts.add("gw2", gw2);

      await gw2.start();
      await gw1.start();
      await gw1.waitForChildSa();
      await gw2.waitForChildSa();
      assertEquals(await lab.ping("gw1", "10.2.0.1", { from: "10.1.0.1", count: 3 }), 3);

      // From inside each main process, auth.xml is out of reach.
      await gw1.waitForLog(/main process now runs as user nobody \(uid 65534\)/);
      await gw1.waitForLog(/auth\.xml is out of reach of the main process \(PermissionDenied\)/);
      await gw2.waitForLog(/auth\.xml is out of reach of the main process \(NotCapable\)/);
      assert(!/is readable by the main process/.test(await gw1.logText() + await gw2.logText()));
      // Who runs as whom (gw1): the main process as nobody without capabilities, the secure
      // process as its own user with CAP_NET_ADMIN only, neither able to regain privileges.
      const main1 = await processIdentity(gw1.process!.pid);
      assertEquals(main1, { uid: NOBODY, capEff: "0000000000000000", noNewPrivs: "1" });
      const secure1 = await processIdentity(await securePid(gw1));
      assertEquals(secure1, { uid: SECURE_UID, capEff: "0000000000001000", noNewPrivs: "1" });

      // Kill both secure processes while a ping runs through the tunnel: no packet is lost.
      const pids = { gw1: await securePid(gw1), gw2: await securePid(gw2) };
      const pinging = lab.ping("gw1", "10.2.0.1", { from: "10.1.0.1", count: 25, interval: 0.2 });
      await new Promise((r) => setTimeout(r, 1_000));
      Deno.kill(pids.gw1, "SIGKILL");
      Deno.kill(pids.gw2, "SIGKILL");
      assertEquals(await pinging, 25, "the established SAs kept running");
      for (const [name, node] of [["gw1", gw1], ["gw2", gw2]] as const) {
        await node.waitForLog(
          new RegExp(
            `the secure process \\(pid ${
              pids[name]
            }\\) was killed by SIGKILL: new SAs are refused until it is back \\(established SAs keep running\\); restarting it in \\d+ ms`,
          ),
        );
        await waitFor(
          `a new secure process on ${name}`,
          async () => (await securePid(node)) !== pids[name],
        );
        await node.waitForLog(/secure process ready again \(pid \d+/);
      }
      // The keeper started gw1's new one as the -s user again.
      assertEquals((await processIdentity(await securePid(gw1))).uid, SECURE_UID);

      // A new IKE SA: both IKE_AUTHs and the web-user check go through restarted processes.
      let r = await ctl(lab, "gw1", password, ["disconnect", "--realm", "lab", "--peer", GW2_ID]);
      assertEquals([r.code, r.stdout.trim()], [0, "closed 1 IKE SA"], r.stderr);
      await gw2.waitForLog(/IKE_SA \S+ with fqdn:gw1\.example\.com deleted/, 10_000);
      r = await ctl(lab, "gw1", password, [
        "connect",
        "--realm",
        "lab",
        "--peer",
        GW2_ID,
        "--wait",
        "20",
      ]);
      assertEquals(r.code, 0, r.stdout + r.stderr);
      const installed = async (node: RockhopperNode) =>
        [...(await node.logText()).matchAll(new RegExp(CHILD_SA_INSTALLED_PATTERN, "gm"))].length;
      await waitFor("a second CHILD_SA on gw1", async () => (await installed(gw1)) >= 2);
      await waitFor("a second CHILD_SA on gw2", async () => (await installed(gw2)) >= 2);
      assertEquals(await lab.ping("gw1", "10.2.0.1", { from: "10.1.0.1", count: 3 }), 3);

      await gw1.stop();
      await gw2.stop();
      for (const [name, node] of [["gw1", gw1], ["gw2", gw2]] as const) {
        const text = await node.logText();
        for (const secret of [...spellings(psk), ...spellings(password)]) {
          assert(!text.includes(secret), `a secret appears in ${name}'s log`);
        }
      }
      artifacts.passed();
    }, { timeoutMs: 150_000 }),
});
