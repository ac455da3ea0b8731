/**
 * Realm configuration over the bus: validated exactly like the file (the loader's own error
 * text), written atomically with the previous version kept, and applied to that realm only —
 * the established tunnel of the other realm stays up.
 */
import { assert, assertEquals, assertThrows } from "../_assert.ts";
import { ConfigError, parseConfig, PREVIOUS_SUFFIX } from "../../lib/config/mod.ts";
import { BusClientError } from "../../lib/cli/ctl_client.ts";
import { type WebLab, withLab } from "./_fixture.ts";

const LAB_REALM = `  <realm id="2" name="lab">
    <tunnel_interface name="rhp2" address="10.9.0.1/24"/>
    <ike dpd="0"/>
    <peer id="fqdn:lab.example.com"/>
  </realm>`;

/** What the loader says about `text` as the config file. */
function loaderError(lab: WebLab, text: string): ConfigError {
  return assertThrows(() => parseConfig(text, lab.configPath), ConfigError) as ConfigError;
}

async function refusal(promise: Promise<unknown>): Promise<BusClientError> {
  try {
    await promise;
  } catch (e) {
    if (e instanceof BusClientError) return e;
    throw e;
  }
  throw new Error("the request was not refused");
}

async function exists(path: string): Promise<boolean> {
  return await Deno.stat(path).then(() => true, () => false);
}

async function established(lab: WebLab) {
  const admin = lab.client();
  await admin.open();
  await admin.write("connect", { realm: "branch", wait: 10 });
  const sa = lab.gw1.engine.list()[0]!;
  assertEquals(sa.state, "ESTABLISHED");
  return { admin, sa, spis: sa.children.map((c) => c.spiIn) };
}

Deno.test("an invalid realm update gets the file loader's error text and changes nothing", async () => {
  await withLab({ bus: { statsIntervalMs: 0 } }, async (lab) => {
    const { admin, sa, spis } = await established(lab);
    const original = await Deno.readTextFile(lab.configPath);
    const policies = [...lab.gw1.engine.realms];

    const bad = `<realm id="2" name="lab">
  <tunnel_interface name="rhp2" address="10.9.0.1/24"/>
  <ike dpd="0" suites="aes128-sha1-modp1024"/>
  <peer id="fqdn:lab.example.com"/>
</realm>`;
    const e = await refusal(admin.write("config_update_realm", {}, bad));
    // The same text, spliced by hand, loaded by the file loader:
    const candidate = original.replace(
      LAB_REALM,
      `  <realm id="2" name="lab">
    <tunnel_interface name="rhp2" address="10.9.0.1/24"/>
    <ike dpd="0" suites="aes128-sha1-modp1024"/>
    <peer id="fqdn:lab.example.com"/>
  </realm>`,
    );
    assert(candidate !== original);
    const expected = loaderError(lab, candidate);
    assertEquals(e.status, 422);
    assertEquals(e.code, "config_invalid");
    assertEquals(e.message, expected.message);
    assert(
      e.message.includes(`<ike suites>: unknown IKE suite "aes128-sha1-modp1024" (known: `),
      e.message,
    );
    assertEquals(e.attributes.file, lab.configPath);
    assertEquals(e.attributes.line, String(expected.line));
    assertEquals(e.attributes.element, "ike");
    assertEquals(e.attributes.attribute, "suites");
    assertEquals(e.attributes.path, "realm/ike", "the element of the submitted realm");

    // A problem that involves another realm: the loader's cross-realm message.
    const clash =
      `<realm id="2" name="lab"><tunnel_interface name="rhp1" address="10.9.0.1/24"/></realm>`;
    const e2 = await refusal(admin.write("config_update_realm", {}, clash));
    const candidate2 = original.replace(
      LAB_REALM,
      `  <realm id="2" name="lab">\n    <tunnel_interface name="rhp1" address="10.9.0.1/24"/>\n  </realm>`,
    );
    assertEquals(e2.message, loaderError(lab, candidate2).message);
    assert(e2.message.includes(`tunnel interface "rhp1" is already used by realm 1`), e2.message);
    assertEquals(e2.attributes.path, "realm/tunnel_interface");

    // Unknown element inside the realm, as the loader reports it.
    const typo =
      `<realm id="2" name="lab"><tunnel_interfce name="rhp2" address="10.9.0.1/24"/></realm>`;
    const e3 = await refusal(admin.write("config_update_realm", {}, typo));
    assert(e3.message.includes("<tunnel_interfce>: unknown element inside <realm>"), e3.message);

    assertEquals(await Deno.readTextFile(lab.configPath), original, "file unchanged");
    assertEquals(await exists(lab.configPath + PREVIOUS_SUFFIX), false, "no .prev written");
    assertEquals(lab.gw1.engine.realms, policies, "engine policies unchanged");
    assertEquals(lab.gw1.engine.list(), [sa]);
    assertEquals(sa.children.map((c) => c.spiIn), spis);
  });
});

Deno.test("a valid realm update rewrites the file atomically, keeps .prev and restarts only that realm", async () => {
  await withLab({ bus: { statsIntervalMs: 0, readTimeoutMs: 2000 } }, async (lab) => {
    const { admin, sa, spis } = await established(lab);
    const watcher = lab.client();
    await watcher.open();
    const original = await Deno.readTextFile(lab.configPath);
    const oldDevice = lab.devices1.get("lab")!;
    const branchPolicy = lab.gw1.engine.realms.find((r) => r.id === 1);

    const response = await admin.write(
      "config_update_realm",
      {},
      `<realm id="2" name="lab"><tunnel_interface name="rhp2" address="10.9.0.1/24"/><ike dpd="0"/><esp suites="aes128gcm16"/><peer id="fqdn:lab.example.com" address="198.51.100.9"/></realm>`,
    );
    const record = response.records[0]!;
    assertEquals(record.attributes.get("result")?.value, "ok");
    assertEquals(record.attributes.get("change")?.value, "updated");
    assertEquals(record.attributes.get("realm_id")?.value, "2");
    assertEquals(record.attributes.get("previous")?.value, lab.configPath + PREVIOUS_SUFFIX);

    const expected = original.replace(
      LAB_REALM,
      `  <realm id="2" name="lab">
    <tunnel_interface name="rhp2" address="10.9.0.1/24"/>
    <ike dpd="0"/>
    <esp suites="aes128gcm16"/>
    <peer id="fqdn:lab.example.com" address="198.51.100.9"/>
  </realm>`,
    );
    assertEquals(await Deno.readTextFile(lab.configPath), expected, "only realm 2's text changed");
    assertEquals(await Deno.readTextFile(lab.configPath + PREVIOUS_SUFFIX), original);
    const names: string[] = [];
    for await (const entry of Deno.readDir(lab.dir)) names.push(entry.name);
    assert(!names.some((n) => n.includes(".tmp-")), `temporary file left: ${names}`);

    // Applied: the engine negotiates realm 2 with the new policy, its TUN was reopened.
    const lab2 = lab.gw1.engine.realms.find((r) => r.id === 2)!;
    assertEquals(lab2.espSuites.map((s) => s.name), ["aes128gcm16"]);
    assertEquals(lab2.peers[0]!.address, "198.51.100.9");
    assert(oldDevice.closed, "the old rhp2 was closed");
    const newDevice = lab.devices1.get("lab")!;
    assert(newDevice !== oldDevice && !newDevice.closed, "a new rhp2 is open");
    assertEquals(lab.gw1.realms.get(2)?.device, newDevice);
    // Realm 1 untouched: same policy object, same SA, same child SPIs.
    assertEquals(lab.gw1.engine.realms.find((r) => r.id === 1), branchPolicy);
    assertEquals(lab.gw1.engine.list(), [sa]);
    assertEquals(sa.state, "ESTABLISHED");
    assertEquals(sa.children.map((c) => c.spiIn), spis);

    const events = await watcher.read();
    const updated = events.records.find((r) =>
      r.attributes.get("action")?.value === "realm_config_updated"
    );
    assert(updated, events.xml);
    assertEquals(updated.attributes.get("realm_id")?.value, "2");
    assertEquals(updated.attributes.get("change")?.value, "updated");
    assertEquals(updated.attributes.get("user")?.value, "admin");
    assert(!events.records.some((r) => r.attributes.get("action")?.value === "vpn_deleted"));

    // The same update again changes nothing.
    const again = await admin.write(
      "config_update_realm",
      {},
      `<realm id="2" name="lab"><tunnel_interface name="rhp2" address="10.9.0.1/24"/><ike dpd="0"/><esp suites="aes128gcm16"/><peer id="fqdn:lab.example.com" address="198.51.100.9"/></realm>`,
    );
    assertEquals(again.records[0]!.attributes.get("change")?.value, "unchanged");

    // Updating realm 1 itself restarts its tunnel (and the new policy connects).
    await admin.write(
      "config_update_realm",
      {},
      `<realm id="1" name="branch"><tunnel_interface name="rhp1" address="10.1.0.1/24"/><ike dpd="0" suites="aes128gcm16-prfsha256-ecp256"/><traffic local="10.1.0.0/24" remote="10.2.0.0/24"/><peer id="fqdn:gw2.example.com" address="198.51.100.2"/></realm>`,
    );
    assertEquals(lab.gw1.engine.list().filter((s) => s.state !== "DESTROYED").length, 0);
    const connected = await admin.write("connect", { realm: "branch", wait: 10 });
    assertEquals(connected.records[0]!.attributes.get("established")?.value, "yes");
    const vpn = connected.records[0]!.children[0]!;
    assertEquals(vpn.attributes.get("ike_suite")?.value, "aes128gcm16-prfsha256-ecp256");
  });
});

Deno.test("create, enable, disable and delete realms, cross-checked with auth.xml", async () => {
  await withLab({ bus: { statsIntervalMs: 0 } }, async (lab) => {
    const { admin, sa } = await established(lab);
    const realm3 =
      `<realm id="3" name="third" enabled="no"><tunnel_interface name="rhp3" address="10.3.0.1/24"/><peer id="fqdn:third.example.com"/></realm>`;
    let response = await admin.write("config_create_realm", {}, realm3);
    assertEquals(response.records[0]!.attributes.get("change")?.value, "created");
    let text = await Deno.readTextFile(lab.configPath);
    assert(
      text.endsWith(`  </realm>
  <realm id="3" name="third" enabled="no">
    <tunnel_interface name="rhp3" address="10.3.0.1/24"/>
    <peer id="fqdn:third.example.com"/>
  </realm>
</rockhopper>
`),
      text,
    );
    let realms = await admin.write("config_enum_realms");
    const third = realms.records[0]!.children.find((c) => c.attributes.get("id")?.value === "3")!;
    assertEquals(third.attributes.get("enabled")?.value, "no");
    assertEquals(third.attributes.get("running")?.value, "no");

    // Enabling needs its <realm> in auth.xml: the cross-check's error, file unchanged.
    const before = await Deno.readTextFile(lab.configPath);
    let e = await refusal(admin.write("config_enable_realm", { realm: "third" }));
    assertEquals(e.code, "config_invalid");
    assert(
      e.message.includes(`realm 3 (third) has no <realm id="3"> in ${lab.authPath}`),
      e.message,
    );
    assertEquals(await Deno.readTextFile(lab.configPath), before);

    const auth = await Deno.readTextFile(lab.authPath);
    await Deno.writeTextFile(
      lab.authPath,
      auth.replace(
        "</rockhopper_auth>",
        `  <realm id="3"><my_auth method="psk" id="fqdn:gw1.example.com" psk="a realm-wide key of 32 characters"/></realm>\n</rockhopper_auth>`,
      ),
    );
    response = await admin.write("config_enable_realm", { realm: "third" });
    assertEquals(response.records[0]!.attributes.get("change")?.value, "enabled");
    assert(
      (await Deno.readTextFile(lab.configPath)).includes(
        `<realm id="3" name="third" enabled="yes">`,
      ),
    );
    assert(lab.gw1.realms.has(3) && lab.devices1.get("third")?.closed === false, "rhp3 is open");
    assert(lab.gw1.engine.realms.some((r) => r.id === 3));

    response = await admin.write("config_disable_realm", { realm: "2" });
    assertEquals(response.records[0]!.attributes.get("change")?.value, "disabled");
    assert(!lab.gw1.realms.has(2) && lab.devices1.get("lab")!.closed, "rhp2 closed");
    assert(!lab.gw1.engine.realms.some((r) => r.id === 2));
    response = await admin.write("config_disable_realm", { realm: "2" });
    assertEquals(response.records[0]!.attributes.get("change")?.value, "unchanged");

    // Deleting realm 3 while auth.xml still has it: the cross-check says so.
    e = await refusal(admin.write("config_delete_realm", { realm: "third" }));
    assertEquals(e.code, "config_invalid");
    assert(
      e.message.includes(`<realm id>: realm 3 is not defined in ${lab.configPath}`),
      e.message,
    );
    await Deno.writeTextFile(lab.authPath, auth);
    response = await admin.write("config_delete_realm", { realm: "third" });
    assertEquals(response.records[0]!.attributes.get("change")?.value, "deleted");
    text = await Deno.readTextFile(lab.configPath);
    assert(!text.includes(`name="third"`), text);
    assert(!lab.gw1.realms.has(3) && lab.devices1.get("third")!.closed);
    realms = await admin.write("config_enum_realms");
    assertEquals(realms.records[0]!.children.map((c) => c.attributes.get("id")?.value), ["1", "2"]);

    // Realm 1's tunnel survived all of it.
    assertEquals(lab.gw1.engine.list(), [sa]);
    assertEquals(sa.state, "ESTABLISHED");
  });
});

Deno.test("a realm that cannot be applied is rolled back: old file, old realm running", async () => {
  await withLab({ bus: { statsIntervalMs: 0 } }, async (lab) => {
    const admin = lab.client();
    await admin.open();
    const original = await Deno.readTextFile(lab.configPath);
    lab.failDevices.add("rhpfail");
    const e = await refusal(admin.write(
      "config_update_realm",
      {},
      `<realm id="2" name="lab"><tunnel_interface name="rhpfail" address="10.9.0.1/24"/></realm>`,
    ));
    assertEquals([e.status, e.code], [500, "cannot_apply"]);
    assert(e.message.includes("Cannot open TUN device rhpfail: test failure"), e.message);
    assert(e.message.endsWith(`${lab.configPath} was restored`), e.message);
    assertEquals(await Deno.readTextFile(lab.configPath), original);
    assert(lab.gw1.realms.has(2), "realm 2 runs again");
    assertEquals(lab.gw1.realms.get(2)!.device.name, "rhp2");
    assertEquals(
      lab.gw1.engine.realms.find((r) => r.id === 2)?.config.tunnelInterface.name,
      "rhp2",
    );
  });
});
