/**
 * The bus protocol over real HTTP on 127.0.0.1 (ephemeral port) against an appliance on the
 * in-memory network: sessions, the long poll, and every way a request can be refused — each
 * refusal with a clear error and no change of state.
 */
import { assert, assertEquals } from "../_assert.ts";
import { parseXml } from "../../lib/config/mod.ts";
import { Logger } from "../../lib/log/mod.ts";
import { BusClientError } from "../../lib/cli/ctl_client.ts";
import { DEFAULT_FAILED_LOGINS, DEFAULT_MAX_BODY_BYTES } from "../../lib/web/mod.ts";
import { PASSWORDS, request, type WebLab, withLab } from "./_fixture.ts";

const REQUEST = (action: string, extra = "") =>
  `<?xml version="1.0"?><rhp_http_bus_request version="1.0" service="ui_http_vpn" action="${action}"${extra}/>`;

function errorOf(text: string): Record<string, string> {
  const root = parseXml(text, "response");
  assertEquals(root.name, "rhp_http_bus_response");
  const error = root.children.find((c) => c.name === "rhp_http_bus_error");
  assert(error, `no <rhp_http_bus_error> in ${text}`);
  return Object.fromEntries([...error.attributes.values()].map((a) => [a.name, a.value]));
}

async function openSession(lab: WebLab, auth?: [string, string]): Promise<string> {
  const response = await request(lab, "POST", "/bus/open", auth ? { auth } : {});
  assertEquals(response.status, 200, response.text);
  const id = /session_id="([0-9a-f]{32})"/.exec(response.text)?.[1];
  assert(id, response.text);
  return id;
}

/** What must not change when a request is refused. */
async function snapshot(lab: WebLab) {
  return {
    sas: lab.gw1.engine.list().length,
    realms: lab.gw1.engine.realms.map((r) => r.id),
    file: await Deno.readTextFile(lab.configPath),
  };
}

Deno.test("open, write, read and close a bus session", async () => {
  await withLab({ bus: { readTimeoutMs: 300, statsIntervalMs: 0 } }, async (lab) => {
    const opened = await request(lab, "POST", "/bus/open");
    assertEquals(opened.status, 200);
    assertEquals(opened.headers.get("content-type"), "application/xml; charset=utf-8");
    assertEquals(opened.headers.get("cache-control"), "no-store");
    const record = parseXml(opened.text, "r").children[0]!;
    const attrs = Object.fromEntries([...record.attributes.values()].map((a) => [a.name, a.value]));
    assertEquals(attrs.service, "http_bus");
    assertEquals(attrs.action, "new_session");
    assertEquals(attrs.user, "admin");
    assertEquals(attrs.realm, "any");
    assertEquals(attrs.read_timeout, "0.3");
    assert(/^[0-9a-f]{32}$/.test(attrs.session_id!), attrs.session_id);
    const sid = attrs.session_id!;

    const write = await request(lab, "PUT", `/bus/write/${sid}`, { body: REQUEST("status_vpn") });
    assertEquals(write.status, 200, write.text);
    assert(
      write.text.includes(
        `<rhp_http_bus_record index="0" service="ui_http_vpn" action="status_vpn" result="ok" vpns="0"/>`,
      ),
      write.text,
    );
    assert(write.text.includes(`serial_no="1"`), write.text);

    const started = Date.now();
    const read = await request(lab, "GET", `/bus/read/${sid}`);
    const waited = Date.now() - started;
    assertEquals(read.status, 200);
    assertEquals(
      read.text,
      `<?xml version="1.0" encoding="UTF-8"?>\n<rhp_http_bus_response version="1.0" serial_no="2"/>\n`,
      "the timeout answer is an empty response",
    );
    assert(waited >= 280 && waited < 2000, `read timed out after ${waited} ms, not ~300`);

    const closed = await request(lab, "DELETE", `/bus/write/${sid}`);
    assertEquals(closed.status, 200);
    assert(closed.text.includes(`action="close" session_id="${sid}"`), closed.text);
    const after = await request(lab, "PUT", `/bus/write/${sid}`, { body: REQUEST("status_vpn") });
    assertEquals(after.status, 404);
    assertEquals(errorOf(after.text).code, "unknown_session");
    assertEquals(lab.management.server.hub.size, 0);
  });
});

Deno.test("a long poll returns within 100 ms of an event and times out on time", async () => {
  await withLab({ bus: { readTimeoutMs: 5000, statsIntervalMs: 0 } }, async (lab) => {
    const bus = lab.client();
    await bus.open();
    const control = await bus.write("event_log_control", { level: "info" });
    assertEquals(control.records[0]!.attributes.get("effective_level")?.value, "info");

    // A log record is an event: emit one while a read is pending.
    const pending = bus.read();
    await new Promise((r) => setTimeout(r, 300));
    const emitted = Date.now();
    new Logger("main").info("marker for the long poll");
    const response = await pending;
    const latency = Date.now() - emitted;
    assert(latency < 100, `the read returned ${latency} ms after the event`);
    const record = response.records.find((r) =>
      r.attributes.get("message")?.value === "marker for the long poll"
    );
    assert(record, response.xml);
    assertEquals(record.attributes.get("action")?.value, "log_record");
    assertEquals(record.attributes.get("level")?.value, "info");

    // A VPN event (connect by another session) while a read is pending.
    await bus.write("event_log_control", { level: "off" });
    const admin2 = lab.client();
    await admin2.open();
    const pending2 = bus.read();
    await new Promise((r) => setTimeout(r, 200));
    const connected = Date.now();
    await admin2.write("connect", { realm: "branch" });
    const events = await pending2;
    assert(Date.now() - connected < 1000, "returned promptly after connect");
    const added = events.records.find((r) => r.attributes.get("action")?.value === "vpn_added");
    assert(added, events.xml);
    const sent = Date.parse(added.attributes.get("time")!.value);
    const late = Date.now() - sent;
    assert(late < 100, `vpn_added reached the reader ${late} ms after it happened`);
  });

  await withLab({ bus: { readTimeoutMs: 400, statsIntervalMs: 0 } }, async (lab) => {
    const bus = lab.client();
    await bus.open();
    for (const _ of [1, 2]) {
      const started = Date.now();
      const response = await bus.read();
      const waited = Date.now() - started;
      assertEquals(response.records.length, 0, response.xml);
      assert(waited >= 380 && waited < 1500, `timeout after ${waited} ms, configured 400`);
    }
  });
});

Deno.test("unknown action, malformed XML, oversized body, bad requests: clear errors, no change", async () => {
  await withLab({ bus: { statsIntervalMs: 0 } }, async (lab) => {
    const sid = await openSession(lab);
    const before = await snapshot(lab);
    const put = (body: string | ReadableStream<Uint8Array>) =>
      fetch(`${lab.url}/bus/write/${sid}`, {
        method: "PUT",
        headers: {
          authorization: `Basic ${btoa(`admin:${PASSWORDS.admin}`)}`,
        },
        body,
      }).then(async (r) => ({ status: r.status, text: await r.text() }));

    let r = await put(REQUEST("make_coffee"));
    assertEquals(r.status, 400);
    let e = errorOf(r.text);
    assertEquals(e.code, "unknown_action");
    assert(
      e.message!.startsWith(
        `Cannot run the request: unknown action "make_coffee" (known: connect, close,`,
      ),
      e.message,
    );

    r = await put(`<rhp_http_bus_request version="1.0" service="ui_http_vpn" action="connect"`);
    assertEquals(r.status, 400);
    e = errorOf(r.text);
    assertEquals(e.code, "malformed_xml");
    assert(e.message!.startsWith("Cannot parse the request: line 1: malformed XML:"), e.message);

    r = await put(`<!DOCTYPE x [<!ENTITY a "aaaa">]><rhp_http_bus_request/>`);
    assertEquals([r.status, errorOf(r.text).code], [400, "malformed_xml"]);

    const big = REQUEST("status_vpn").replace(
      "/>",
      `>${" ".repeat(DEFAULT_MAX_BODY_BYTES)}</rhp_http_bus_request>`,
    );
    r = await put(big);
    assertEquals(r.status, 413);
    e = errorOf(r.text);
    assertEquals(e.code, "body_too_large");
    assertEquals(e.message, "Cannot read the request: the body is larger than 65536 bytes");
    // The same without Content-Length (chunked): counted while reading.
    const chunk = new TextEncoder().encode("x".repeat(16 * 1024));
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent++ < 8) controller.enqueue(chunk);
        else controller.close();
      },
    });
    r = await put(stream);
    assertEquals([r.status, errorOf(r.text).code], [413, "body_too_large"]);

    const bad: [string, string, string][] = [
      [`<other version="1.0"/>`, "bad_request", "the root element is <other>"],
      [
        REQUEST("status_vpn").replace(`version="1.0" service`, `version="2.0" service`),
        "bad_request",
        `version "2.0" is not supported`,
      ],
      [
        REQUEST("status_vpn").replace("ui_http_vpn", "ui_http_foo"),
        "bad_request",
        `service "ui_http_foo" is unknown`,
      ],
      [REQUEST("status_vpn", ` colour="red"`), "bad_request", "unknown attribute colour"],
      [REQUEST("connect"), "bad_request", "Cannot run connect: missing attribute realm"],
      [
        REQUEST("connect", ` realm="branch" wait="999"`),
        "bad_request",
        "wait must be a whole number in 0-60",
      ],
      [
        REQUEST("connect", ` realm="nowhere"`),
        "no_such_realm",
        "no enabled realm has this id or name",
      ],
      [REQUEST("connect", ` realm="lab"`), "no_such_peer", "realm lab has no peer with an address"],
      [
        REQUEST("close", ` realm="branch" peer_id="fqdn:x.example.com"`),
        "no_such_vpn",
        "Cannot close: there is no VPN with fqdn:x.example.com in realm 1",
      ],
      [REQUEST("config_update_realm"), "bad_request", "needs exactly one <realm> element"],
      [REQUEST("config_delete_realm", ` realm="99"`), "no_such_realm", "Cannot find realm 99"],
      [
        REQUEST("event_log_control", ` level="private"`),
        "bad_request",
        "level must be one of off, error",
      ],
    ];
    for (const [body, code, text] of bad) {
      r = await put(body);
      e = errorOf(r.text);
      assertEquals(e.code, code, `${body}: ${r.text}`);
      assert(e.message!.includes(text), `${body}: ${e.message}`);
      assert(r.status >= 400 && r.status < 500, `${body}: HTTP ${r.status}`);
    }
    assertEquals(await snapshot(lab), before, "nothing changed");
    // The session still works.
    r = await put(REQUEST("status_vpn"));
    assertEquals(r.status, 200);
  });
});

Deno.test("unknown, closed, foreign and idle sessions are 404; wrong methods 405", async () => {
  await withLab({ bus: { idleMs: 300, statsIntervalMs: 0 } }, async (lab) => {
    const made = "0123456789abcdef0123456789abcdef";
    for (
      const [method, path] of [
        ["PUT", `/bus/write/${made}`],
        ["GET", `/bus/read/${made}`],
        ["DELETE", `/bus/write/${made}`],
        ["GET", `/bus/read/not-even-hex`],
      ] as const
    ) {
      const r = await request(lab, method, path, {
        body: method === "PUT" ? REQUEST("status_vpn") : undefined!,
      });
      assertEquals(r.status, 404, `${method} ${path}`);
      assertEquals(errorOf(r.text).code, "unknown_session");
    }
    const sid = await openSession(lab);
    const foreign = await request(lab, "PUT", `/bus/write/${sid}`, {
      auth: ["branch", PASSWORDS.branch],
      body: REQUEST("status_vpn"),
    });
    assertEquals([foreign.status, errorOf(foreign.text).code], [404, "unknown_session"]);

    let r = await request(lab, "GET", "/bus/open");
    assertEquals(r.status, 405);
    assertEquals(r.headers.get("allow"), "POST");
    assertEquals(errorOf(r.text).code, "method_not_allowed");
    r = await request(lab, "POST", `/bus/read/${sid}`);
    assertEquals([r.status, r.headers.get("allow")], [405, "GET"]);
    r = await request(lab, "GET", "/bus/nothing");
    assertEquals([r.status, errorOf(r.text).code], [404, "not_found"]);

    await new Promise((resolve) => setTimeout(resolve, 700));
    r = await request(lab, "PUT", `/bus/write/${sid}`, { body: REQUEST("status_vpn") });
    assertEquals(
      [r.status, errorOf(r.text).code],
      [404, "unknown_session"],
      "idle session expired",
    );
    assertEquals(lab.management.server.hub.size, 0);
  });
});

Deno.test("missing auth and wrong passwords are refused; 5 failures per source lock it out with 429", async () => {
  assertEquals(DEFAULT_FAILED_LOGINS, { limit: 5, windowMs: 60_000 });
  await withLab({ failedLogins: { limit: 5, windowMs: 1500 } }, async (lab) => {
    let r = await request(lab, "POST", "/bus/open", { auth: null });
    assertEquals(r.status, 401);
    assertEquals(r.headers.get("www-authenticate"), 'Basic realm="Rockhopper", charset="UTF-8"');
    assertEquals(errorOf(r.text).code, "unauthorized");
    r = await request(lab, "POST", "/bus/open", {
      auth: null,
      headers: { "x-requested-with": "XMLHttpRequest" },
    });
    assertEquals(
      r.headers.get("www-authenticate"),
      'RhpBasic realm="Rockhopper"',
      "no browser dialog",
    );
    r = await request(lab, "POST", "/bus/open", {
      auth: null,
      headers: { authorization: "Basic %%%" },
    });
    assertEquals(r.status, 401);

    for (let i = 1; i <= 5; i++) {
      r = await request(lab, "POST", "/bus/open", { auth: ["admin", `wrong ${i}`] });
      assertEquals(r.status, 401, `attempt ${i}`);
      assertEquals(errorOf(r.text).message, "Cannot authenticate: wrong user name or password");
    }
    r = await request(lab, "POST", "/bus/open", { auth: ["nobody", "x"] });
    assertEquals(r.status, 429);
    const retry = Number(r.headers.get("retry-after"));
    assert(retry >= 1 && retry <= 2, `Retry-After ${retry}`);
    assertEquals(errorOf(r.text).code, "too_many_attempts");
    // Locked: even the right password waits.
    r = await request(lab, "POST", "/bus/open");
    assertEquals(r.status, 429);
    assertEquals(lab.management.server.hub.size, 0, "no session was opened");

    await new Promise((resolve) => setTimeout(resolve, 1600));
    r = await request(lab, "POST", "/bus/open");
    assertEquals(r.status, 200, "the lock ends with the window");
    const logged = lab.logLines.filter((l) => l.includes("login failed"));
    assertEquals(logged.length, 5);
    assert(logged[0]!.includes("login failed for user admin from 127.0.0.1"), logged[0]);
    assert(
      !lab.logLines.some((l) => l.includes("wrong 1") || l.includes(PASSWORDS.admin)),
      "no password in the log",
    );
  });
});

Deno.test("a source outside <admin allow> is refused before authentication", async () => {
  await withLab({
    admin: `<admin address="127.0.0.1" port="32501" allow="10.0.0.0/8 2001:db8::/32"/>`,
    failedLogins: { limit: 1, windowMs: 60_000 },
  }, async (lab) => {
    for (const auth of [null, ["admin", "wrong"], ["admin", PASSWORDS.admin]] as const) {
      const r = await request(lab, "POST", "/bus/open", { auth: auth as [string, string] | null });
      assertEquals(r.status, 403);
      const e = errorOf(r.text);
      assertEquals(e.code, "source_not_allowed");
      assertEquals(e.message, "Cannot serve 127.0.0.1: the address is not in the allowed prefixes");
      assertEquals(r.headers.get("www-authenticate"), null);
    }
    const gui = await request(lab, "GET", "/");
    assertEquals(gui.status, 403, "the GUI files too");
    assert(!lab.logLines.some((l) => l.includes("login failed")), "no password was checked");
  });
});

Deno.test("cross-origin requests are refused even with valid credentials", async () => {
  await withLab({}, async (lab) => {
    let r = await request(lab, "POST", "/bus/open", { headers: { origin: "http://evil.example" } });
    assertEquals([r.status, errorOf(r.text).code], [403, "forbidden"]);
    r = await request(lab, "POST", "/bus/open", { headers: { "sec-fetch-site": "cross-site" } });
    assertEquals([r.status, errorOf(r.text).code], [403, "forbidden"]);
    r = await request(lab, "POST", "/bus/open", { headers: { origin: lab.url } });
    assertEquals(r.status, 200, "same origin is fine");
  });
});

Deno.test("a realm-scoped admin sees and changes only its realm", async () => {
  await withLab({ bus: { statsIntervalMs: 0, readTimeoutMs: 300 } }, async (lab) => {
    const admin = lab.client();
    await admin.open();
    await admin.write("connect", { realm: "branch", wait: 10 });
    const branch = lab.client("branch");
    await branch.open();
    const lab2 = lab.client("lab");
    await lab2.open();

    let status = await branch.write("status_vpn");
    assertEquals(status.records[0]!.attributes.get("vpns")?.value, "1");
    status = await lab2.write("status_vpn");
    assertEquals(
      status.records[0]!.attributes.get("vpns")?.value,
      "0",
      "realm 2 user sees no realm 1 VPN",
    );

    const before = await snapshot(lab);
    const refused = async (client: typeof branch, action: string, attrs = {}, inner = "") => {
      try {
        await client.write(action, attrs, inner);
      } catch (e) {
        assert(e instanceof BusClientError, String(e));
        assertEquals([e.status, e.code], [403, "forbidden"], `${action}: ${e.message}`);
        return e.message;
      }
      throw new Error(`${action} was not refused`);
    };
    assert(
      (await refused(lab2, "close", { realm: "branch", peer_id: "fqdn:gw2.example.com" })).includes(
        "outside this user's realm 2",
      ),
    );
    await refused(lab2, "connect", { realm: "branch" });
    await refused(lab2, "vpn_clear_all", { realm: "branch" });
    await refused(
      branch,
      "config_update_realm",
      {},
      `<realm id="2" name="lab"><tunnel_interface name="rhp2" address="10.9.0.1/24"/></realm>`,
    );
    await refused(branch, "config_disable_realm", { realm: "lab" });
    await refused(
      branch,
      "config_create_realm",
      {},
      `<realm id="3" name="x"><tunnel_interface name="rhp3" address="10.3.0.1/24"/></realm>`,
    );
    await refused(branch, "config_delete_realm", { realm: "branch" });
    await refused(branch, "global_statistics_ikev2");
    await refused(branch, "event_log_control", { level: "info" });
    await refused(branch, "config_get", { realm: "lab" });
    assertEquals(await snapshot(lab), before, "nothing changed");

    // vpn_clear_all by realm 2's admin leaves realm 1 alone.
    const cleared = await lab2.write("vpn_clear_all");
    assertEquals(cleared.records[0]!.attributes.get("closed")?.value, "0");
    assertEquals(lab.gw1.engine.list().length, 1);

    const config = await branch.write("config_get");
    const record = config.records[0]!;
    assertEquals(record.children.map((c) => c.name), ["suites", "realm"]);
    assertEquals(record.children[1]!.attributes.get("id")?.value, "1");
    const realms = await branch.write("config_enum_realms");
    assertEquals(realms.records[0]!.children.map((c) => c.attributes.get("name")?.value), [
      "branch",
    ]);
    const esp = await branch.write("global_statistics_esp");
    assertEquals(esp.records[0]!.children.map((c) => c.attributes.get("id")?.value ?? c.name), [
      "1",
      "total",
    ]);
    const peers = await lab2.write("status_vpn_peers");
    assertEquals(peers.records[0]!.children.map((c) => c.attributes.get("peer_id")?.value), [
      "fqdn:lab.example.com",
    ]);

    // Events of realm 2 do not reach realm 1's admin.
    await branch.read(); // drain
    await admin.write("config_disable_realm", { realm: "lab" });
    const seen = await branch.read();
    assert(!seen.records.some((r) => r.attributes.get("realm_id")?.value === "2"), seen.xml);
    // ...but realm 1's own admin may close its VPN.
    const closed = await branch.write("close", {
      realm: "branch",
      peer_id: "fqdn:gw2.example.com",
    });
    assertEquals(closed.records[0]!.attributes.get("closed")?.value, "1");
    assertEquals(lab.gw1.engine.list().length, 0);
  });
});
