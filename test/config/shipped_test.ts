import { assert, assertEquals } from "../_assert.ts";
import {
  checkAuthAgainstConfig,
  loadAuthConfig,
  loadConfig,
  parseAuthConfig,
  parseConfig,
} from "../../lib/config/mod.ts";
import { ESP_SUITES, IKE_SUITES } from "../../lib/ike/suites.ts";
import { type LogRecord, setLogSinks } from "../../lib/log/mod.ts";

const CONF = new URL("../../conf/", import.meta.url);
const path = (relative: string) => new URL(relative, CONF).pathname;

const CONFIG_DIRS = [
  ".",
  "examples/branch_gw1",
  "examples/branch_gw2",
  "examples/strongswan_interop",
];

for (const dir of CONFIG_DIRS) {
  Deno.test(`shipped configuration ${dir} loads and cross-checks`, async () => {
    const config = await loadConfig(path(`${dir}/rockhopper.xml`));
    const auth = await loadAuthConfig(path(`${dir}/auth.xml`));
    checkAuthAgainstConfig(config, auth);
    assert(config.realms.length > 0);
  });
}

Deno.test("the shipped default is a responder on every address with no usable key", async () => {
  const config = await loadConfig(path("rockhopper.xml"));
  const auth = await loadAuthConfig(path("auth.xml"));
  assertEquals(config.interfaces.map((i) => i.address), ["0.0.0.0"]);
  assertEquals(config.realms.length, 1);
  const realm = config.realms[0]!;
  assertEquals([realm.id, realm.name, realm.mode], [1, "default", "l3"]);
  assertEquals(realm.tunnelInterface.name, "rhp0");
  assertEquals(realm.tunnelInterface.address, "10.255.0.1/24");
  // Never initiates: no peer to start, indeed no peer address at all.
  assert(realm.peers.every((p) => p.auto !== "start" && p.address === undefined));
  assertEquals(config.admin.address, "127.0.0.1");
  const realmAuth = auth.realms[0]!;
  assertEquals(realmAuth.myAuth.id, "fqdn:rockhopper.local");
  assertEquals(realmAuth.myAuth.psk, undefined);
  assertEquals(realmAuth.peers, []);
  const warnings = checkAuthAgainstConfig(config, auth);
  assertEquals(warnings.length, 1);
  assert(warnings[0]!.includes("has no PSK yet"));
});

Deno.test("the branch example pairs an initiator with a responder sharing one key", async () => {
  const gw1 = await loadConfig(path("examples/branch_gw1/rockhopper.xml"));
  const gw2 = await loadConfig(path("examples/branch_gw2/rockhopper.xml"));
  const auth1 = await loadAuthConfig(path("examples/branch_gw1/auth.xml"));
  const auth2 = await loadAuthConfig(path("examples/branch_gw2/auth.xml"));
  const peer1 = gw1.realms[0]!.peers[0]!;
  assertEquals(peer1.auto, "start");
  assertEquals(peer1.address, gw2.interfaces[0]!.address);
  assertEquals(peer1.id, auth2.realms[0]!.myAuth.id);
  assert(gw2.realms[0]!.peers.every((p) => p.auto === "add"));
  assertEquals(gw2.realms[0]!.peers[0]!.id, auth1.realms[0]!.myAuth.id);
  assertEquals(gw1.realms[0]!.traffic.local, gw2.realms[0]!.traffic.remote);
  assertEquals(gw1.realms[0]!.traffic.remote, gw2.realms[0]!.traffic.local);
  assertEquals(auth1.realms[0]!.peers[0]!.pskBytes, auth2.realms[0]!.peers[0]!.pskBytes);
});

Deno.test("the strongSwan example's key matches its swanctl.conf secret", async () => {
  const auth = await loadAuthConfig(path("examples/strongswan_interop/auth.xml"));
  const swanctl = await Deno.readTextFile(path("examples/strongswan_interop/swanctl.conf"));
  const secret = /secret = "([^"]+)"/.exec(swanctl)?.[1];
  assertEquals(auth.realms[0]!.peers[0]!.psk, secret);
});

Deno.test("conf/README.md names every IKE and ESP suite", async () => {
  const readme = await Deno.readTextFile(path("README.md"));
  for (const name of [...IKE_SUITES.keys(), ...ESP_SUITES.keys()]) {
    // A table row whose first cell is the name (deno fmt pads the cells).
    const row = new RegExp(`^\\|\\s*\`${name}\`\\s*\\|`, "m");
    assert(row.test(readme), `conf/README.md lacks a table row for suite ${name}`);
  }
});

Deno.test("conf/README.md's complete examples load", async () => {
  const readme = await Deno.readTextFile(path("README.md"));
  const documents = [...readme.matchAll(/```xml\n(<\?xml[\s\S]*?)```/g)].map((m) => m[1]!);
  const main = documents.find((d) => d.includes("<rockhopper version"));
  const auth = documents.find((d) => d.includes("<rockhopper_auth version"));
  assert(main && auth, "README has both complete examples");
  const records: LogRecord[] = [];
  const previous = setLogSinks([(r) => records.push(r)]);
  try {
    const config = parseConfig(main, "README.md");
    const authConfig = parseAuthConfig(auth, "README.md");
    checkAuthAgainstConfig(config, authConfig);
    assertEquals(config.realms.length, 2);
  } finally {
    setLogSinks(previous);
  }
  // The example shows weak="allow", which loads with a warning.
  assertEquals(records.map((r) => r.level), ["warn"]);
});
