/**
 * The server around the bus: the GUI's static files (no authentication, no way out of the
 * directory, strict headers), HTTPS with a configured certificate, and the shipped default
 * that listens on 127.0.0.1 only.
 */
import { assert, assertEquals } from "../_assert.ts";
import { loadConfig } from "../../lib/config/mod.ts";
import { BusClient, BusUnreachableError } from "../../lib/cli/ctl_client.ts";
import { ManagementServer } from "../../lib/web/mod.ts";
import { PASSWORDS, startLab, withLab } from "./_fixture.ts";

const canRun = (await Deno.permissions.query({ name: "run" })).state === "granted";

Deno.test("the shipped default serves management on 127.0.0.1:32501 for 127.0.0.0/8 only", async () => {
  const config = await loadConfig(new URL("../../conf/rockhopper.xml", import.meta.url).pathname);
  assertEquals(config.admin, {
    enabled: true,
    address: "127.0.0.1",
    port: 32501,
    allow: ["127.0.0.0/8"],
    readTimeout: 30,
  });
});

Deno.test("GUI files are served without a password, inside web/ only, with strict headers", async () => {
  const web = await Deno.makeTempDir({ prefix: "rht_gui_" });
  await Deno.writeTextFile(`${web}/index.html`, "<!doctype html><title>rh</title>");
  await Deno.mkdir(`${web}/js`);
  await Deno.writeTextFile(`${web}/js/app.js`, "export {};");
  await Deno.writeTextFile(`${web}/.secret`, "no");
  const lab = await startLab();
  // A second server on the same control with a GUI directory.
  const server = await ManagementServer.start({
    control: lab.management.control,
    users: { verifyWebUser: () => Promise.resolve(null) },
    admin: lab.config1.admin,
    port: 0,
    staticDir: web,
  });
  try {
    const get = (path: string, method = "GET") =>
      fetch(server.url + path, { method }).then(async (r) => ({
        status: r.status,
        type: r.headers.get("content-type"),
        csp: r.headers.get("content-security-policy"),
        frame: r.headers.get("x-frame-options"),
        text: await r.text(),
      }));
    let r = await get("/");
    assertEquals([r.status, r.type, r.text], [
      200,
      "text/html; charset=utf-8",
      "<!doctype html><title>rh</title>",
    ]);
    assert(
      r.csp?.includes("default-src 'self'") && r.csp.includes("frame-ancestors 'none'"),
      String(r.csp),
    );
    assertEquals(r.frame, "DENY");
    r = await get("/js/app.js");
    assertEquals([r.status, r.type], [200, "text/javascript; charset=utf-8"]);
    for (
      const path of ["/.secret", "/js/../.secret", "/%2e%2e/etc/passwd", "/missing.html", "/js/"]
    ) {
      r = await get(path);
      assertEquals(r.status, 404, path);
    }
    r = await get("/", "POST");
    assertEquals(r.status, 405);
  } finally {
    await server.stop();
    await lab.stop();
    await Deno.remove(web, { recursive: true });
  }
});

Deno.test({
  name: "with <admin cert key> the server speaks HTTPS only",
  ignore: !canRun,
  fn: async () => {
    const dir = await Deno.makeTempDir({ prefix: "rht_tls_" });
    try {
      const openssl = await new Deno.Command("openssl", {
        args: [
          "req",
          "-x509",
          "-newkey",
          "ec",
          "-pkeyopt",
          "ec_paramgen_curve:prime256v1",
          "-nodes",
          "-keyout",
          `${dir}/key.pem`,
          "-out",
          `${dir}/cert.pem`,
          "-days",
          "1",
          "-subj",
          "/CN=127.0.0.1",
          "-addext",
          "subjectAltName=IP:127.0.0.1",
          "-addext",
          "basicConstraints=critical,CA:FALSE",
        ],
        stdout: "null",
        stderr: "piped",
      }).output();
      assertEquals(openssl.code, 0, new TextDecoder().decode(openssl.stderr));
      await withLab({
        admin:
          `<admin address="127.0.0.1" port="32501" allow="127.0.0.0/8" cert="${dir}/cert.pem" key="${dir}/key.pem"/>`,
      }, async (lab) => {
        assert(lab.url.startsWith("https://127.0.0.1:"), lab.url);
        const bus = new BusClient({
          url: lab.url,
          user: "admin",
          password: PASSWORDS.admin,
          caCerts: [await Deno.readTextFile(`${dir}/cert.pem`)],
        });
        await bus.open();
        const status = await bus.write("status_vpn");
        assertEquals(status.records[0]!.attributes.get("result")?.value, "ok");
        await bus.close();
        const untrusted = new BusClient({ url: lab.url, user: "admin", password: PASSWORDS.admin });
        let refused: unknown;
        try {
          await untrusted.open();
        } catch (e) {
          refused = e;
        }
        assert(refused instanceof BusUnreachableError, "an untrusted certificate is refused");
        await untrusted.close();
        const plain = new BusClient({
          url: lab.url.replace("https:", "http:"),
          user: "admin",
          password: PASSWORDS.admin,
        });
        let plainError: unknown;
        try {
          await plain.open();
        } catch (e) {
          plainError = e;
        }
        assert(plainError instanceof BusUnreachableError, `plain HTTP: ${plainError}`);
        await plain.close();
      });
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
