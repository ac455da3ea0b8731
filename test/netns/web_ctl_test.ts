/**
 * The command-line client against a live appliance: two of our appliances in two namespaces
 * form a tunnel (gw1 initiates); `rockhopper ctl status`, run inside gw1's namespace against
 * its management server (the default 127.0.0.1:32501), lists it; `ctl disconnect` closes it,
 * gw2 hears the delete and the tunnel no longer carries traffic.
 */
import { assert, assertEquals } from "../_assert.ts";
import { hashPassword } from "../../lib/auth/mod.ts";
import { type NetnsLab, requireRoot, withLab } from "./harness.ts";
import {
  denoExecutable,
  FailureArtifacts,
  gatewayPair,
  GW2_ID,
  REPO_ROOT,
} from "./rockhopper_node.ts";

function randomText(): string {
  return btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(24))));
}

/** Runs `main.ts ctl …` inside `ns` with the password in the environment. */
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
    timeoutMs: 30_000,
  });
}

Deno.test({
  name: "ctl status lists the tunnel between two appliances and ctl disconnect closes it",
  ignore: requireRoot(),
  fn: () =>
    withLab(async (lab) => {
      const psk = randomText();
      const password = randomText();
      const { gw1, gw2 } = await gatewayPair(lab, psk, {
        gw1: {
          webUsers: [{ user: "admin", hash: await hashPassword(password), realm: "any" }],
        },
      });
      const artifacts = new FailureArtifacts(lab, "web-ctl");
      artifacts.add("gw1", gw1);
      artifacts.add("gw2", gw2);

      await gw2.start();
      await gw1.start();
      await gw1.waitForLog(
        /management server on http:\/\/127\.0\.0\.1:32501 \(allow 127\.0\.0\.0\/8\)/,
      );
      const child = await gw1.waitForChildSa();
      await gw2.waitForChildSa();
      assertEquals(await lab.ping("gw1", "10.2.0.1", { from: "10.1.0.1", count: 3 }), 3);

      // status, as a table and as JSON
      let r = await ctl(lab, "gw1", password, ["status"]);
      assertEquals(r.code, 0, r.stderr);
      const lines = r.stdout.split("\n");
      assert(lines[0]!.startsWith("IKE_SA  REALM"), r.stdout);
      const row = lines[1]!;
      assert(
        /^#\d+\s+lab\s+fqdn:gw2\.example\.com\s+198\.51\.100\.2:\d+\s+ESTABLISHED\s/.test(row),
        row,
      );
      assert(r.stdout.includes(`${child.spiIn}  ${child.spiOut}  ${child.suite}`), r.stdout);
      assert(r.stdout.includes("10.1.0.0/24 === 10.2.0.0/24"), r.stdout);

      r = await ctl(lab, "gw1", password, ["status", "--json"]);
      assertEquals(r.code, 0, r.stderr);
      const status = JSON.parse(r.stdout);
      assertEquals(status.vpn.length, 1);
      const vpn = status.vpn[0];
      assertEquals([vpn.peer_id, vpn.state, vpn.realm_name], [GW2_ID, "ESTABLISHED", "lab"]);
      assert(Number(vpn.child_sa[0].tx_packets) >= 3, "the pings went out through the SA");
      assert(Number(vpn.child_sa[0].rx_packets) >= 3, "and the replies came in");

      // A wrong password is refused with exit status 1 and changes nothing.
      r = await ctl(lab, "gw1", "not the password", ["disconnect", "--peer", GW2_ID]);
      assertEquals(r.code, 1, r.stderr);
      assert(r.stderr.includes("(unauthorized, HTTP 401)"), r.stderr);

      // disconnect
      r = await ctl(lab, "gw1", password, ["disconnect", "--realm", "lab", "--peer", GW2_ID]);
      assertEquals(r.code, 0, r.stderr);
      assertEquals(r.stdout.trim(), "closed 1 IKE SA");
      await gw2.waitForLog(/IKE_SA \S+ with fqdn:gw1\.example\.com deleted/, 10_000);
      assertEquals(
        await lab.ping("gw1", "10.2.0.1", { from: "10.1.0.1", count: 1, wait: 1 }),
        0,
        "the tunnel is gone",
      );
      r = await ctl(lab, "gw1", password, ["status"]);
      assertEquals([r.code, r.stdout.trim()], [0, "No VPNs."]);

      // Nothing secret in the logs.
      await gw1.stop();
      await gw2.stop();
      for (const [name, node] of [["gw1", gw1], ["gw2", gw2]] as const) {
        const text = await node.logText();
        assert(!text.includes(password), `the web password appears in ${name}'s log`);
        assert(!text.includes(psk), `the PSK appears in ${name}'s log`);
      }
      artifacts.passed();
    }, { timeoutMs: 120_000 }),
});
