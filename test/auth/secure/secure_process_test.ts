/**
 * The real secure process, started from main.ts by the same code the appliance uses (no root
 * needed): it answers every request type, refuses malformed frames on the real pipe, restarts
 * after SIGKILL, gets read permission for exactly its files — and nothing the main side
 * receives or logs holds a key, a private key or a password.
 */
import { assert, assertEquals } from "../../_assert.ts";
import {
  encodeFrame,
  encodeRequest,
  probeSecretFiles,
  SecureClient,
  SecureProcessSupervisor,
  SecureProcessUnavailableError,
  SecureSide,
  type SecureSideOptions,
  workerCommand,
} from "../../../lib/auth/secure/mod.ts";
import { AuthUnavailableError } from "../../../lib/auth/mod.ts";
import { IpCommandError } from "../../../lib/net/mod.ts";
import { SysRefusedError } from "../../../lib/sys_control/mod.ts";
import { type LogRecord, setLogSinks } from "../../../lib/log/mod.ts";
import { makeTestPki, type TestPki } from "../x509/_pki.ts";
import {
  CAN_RUN,
  DENO_CONFIG,
  ENTRY,
  GW2_ID,
  randomSecret,
  spellings,
  writeFixture,
} from "./_fixture.ts";

let pkiPromise: Promise<TestPki> | undefined;

/** Adds a certificate realm (id 2) to the fixture's files. */
async function addCertRealm(dir: string): Promise<TestPki> {
  const pki = await (pkiPromise ??= makeTestPki());
  const config = await Deno.readTextFile(`${dir}/rockhopper.xml`);
  await Deno.writeTextFile(
    `${dir}/rockhopper.xml`,
    config.replace(
      "</rockhopper>",
      `  <realm id="2" name="certs">
    <tunnel_interface name="rhpt2" address="10.7.0.1/24"/>
    <peer id="fqdn:gw-p256.example.com" address="198.51.100.9"/>
  </realm>
</rockhopper>`,
    ),
  );
  const auth = await Deno.readTextFile(`${dir}/auth.xml`);
  await Deno.writeTextFile(
    `${dir}/auth.xml`,
    auth.replace(
      "</rockhopper_auth>",
      `  <realm id="2">
    <my_auth method="cert" id="fqdn:gw-rsa.example.com" cert="${pki.path("gw-rsa.crt")}" key="${
        pki.path("gw-rsa.key")
      }" chain="${pki.path("intermediate.crt")}"/>
    <ca file="${pki.path("root.crt")}"/>
    <crl file="${pki.path("intermediate.crl")}"/>
    <peer id="fqdn:gw-p256.example.com" auth="cert"/>
  </realm>
</rockhopper_auth>`,
    ),
  );
  return pki;
}

function options(f: { configPath: string; authPath: string }): SecureSideOptions {
  return {
    configPath: f.configPath,
    authPath: f.authPath,
    logLevel: "debug",
    entry: ENTRY,
    denoConfig: DENO_CONFIG,
  };
}

function captureLog(): { lines: string[]; restore(): void } {
  const lines: string[] = [];
  const previous = setLogSinks([(_r: LogRecord, line: string) => lines.push(line)]);
  return { lines, restore: () => setLogSinks(previous) };
}

Deno.test({
  name: "the secure process gets read permission for exactly its files and nothing else",
  ignore: !CAN_RUN,
  async fn() {
    const f = await writeFixture();
    try {
      const pki = await addCertRealm(f.dir);
      const expected = [
        pki.path("gw-rsa.crt"),
        pki.path("gw-rsa.key"),
        pki.path("intermediate.crt"),
        pki.path("root.crt"),
        pki.path("intermediate.crl"),
      ];
      assertEquals((await probeSecretFiles(options(f))).sort(), [...expected].sort());
      const line = await workerCommand(options(f));
      const flags = line.args.filter((a) => a.startsWith("--allow") || a.startsWith("--deny"));
      assertEquals(flags, [
        `--allow-read=${[f.configPath, f.authPath, ...expected].join(",")}`,
        "--allow-run=ip",
      ]);
      assertEquals(line.args.slice(line.args.indexOf(ENTRY)), [
        ENTRY,
        "secure",
        "-f",
        f.configPath,
        "-a",
        f.authPath,
        "-l",
        "debug",
      ]);
      // -s adds FFI (for setuid), and only that. The probe switches users before it reads:
      // as root, auth.xml must belong to the -s user; otherwise the switch itself fails.
      const root = Deno.uid() === 0;
      if (root) {
        await Deno.chown(f.dir, 65534, 65534);
        await Deno.chown(f.authPath, 65534, 65534);
      }
      const withUser = await workerCommand({ ...options(f), secureUser: "65534" }).catch((e) => e);
      if (root) {
        assert(!(withUser instanceof Error), String(withUser));
        const userFlags = withUser.args.filter((a: string) => a.startsWith("--allow"));
        assertEquals(userFlags.slice(1), ["--allow-run=ip", "--allow-ffi"]);
      } else {
        assert(withUser instanceof Error);
        assert(/does not run as root/.test(withUser.message), withUser.message);
      }
    } finally {
      await f.remove();
    }
  },
});

Deno.test({
  name:
    "every request type is answered by the real secure process and nothing sent, received or logged holds a secret",
  ignore: !CAN_RUN,
  async fn() {
    const f = await writeFixture({ webUser: true });
    const log = captureLog();
    const received: string[] = [];
    const sent: string[] = [];
    let secure: SecureSide | undefined;
    try {
      const pki = await addCertRealm(f.dir);
      secure = await SecureSide.start({
        ...options(f),
        onReceive: (body) => received.push(new TextDecoder().decode(body)),
        onSend: (frame) => sent.push(new TextDecoder().decode(frame.subarray(4))),
      });
      const auth = secure.auth;
      const signedOctets = crypto.getRandomValues(new Uint8Array(300));
      const value = await auth.computePskAuth({
        realmId: 1,
        peerId: GW2_ID,
        prf: "sha384",
        signedOctets,
      });
      assertEquals(value.length, 48);
      assertEquals(
        await auth.verifyPskAuth({
          realmId: 1,
          peerId: GW2_ID,
          prf: "sha384",
          signedOctets,
          auth: value,
        }),
        true,
      );
      assertEquals(await auth.hasPsk(1, GW2_ID), true);
      assertEquals(await auth.localMethod(2), "cert");
      assertEquals(await auth.peerMethod(1, GW2_ID), "psk");
      assertEquals(await auth.peerMethod(2, "fqdn:gw-p256.example.com"), "cert");
      assertEquals(await auth.peerMethod(7, GW2_ID), undefined);
      const certificates = await auth.localCertificates(2);
      assertEquals(certificates.length, 2, "our certificate and the intermediate");
      const certreq = (await auth.certificateRequest(2))!;
      assertEquals([certreq[0], (certreq.length - 1) % 20], [4, 0], "encoding, SHA-1 hashes");
      const signature = await auth.signAuth({
        realmId: 2,
        signedOctets,
        peerHashAlgorithms: [2, 3, 4],
      });
      assertEquals(signature.method, 14, "RFC 7427 digital signature");
      const verdict = await auth.verifyCertificateAuth({
        realmId: 2,
        peerId: "fqdn:gw-rsa.example.com",
        idType: 2,
        idData: new TextEncoder().encode("gw-rsa.example.com"),
        certificates,
        method: signature.method,
        data: signature.data,
        signedOctets,
      });
      assert(verdict.ok, JSON.stringify(verdict));
      const unavailable = await auth.signAuth({
        realmId: 1,
        signedOctets,
        peerHashAlgorithms: undefined,
      })
        .catch((e) => e);
      assert(unavailable instanceof AuthUnavailableError, String(unavailable));
      assertEquals(await secure.webUsers.verifyWebUser("admin", f.password), {
        user: "admin",
        realm: "any",
      });
      assertEquals(await secure.webUsers.verifyWebUser("admin", randomSecret()), null);
      assertEquals(await secure.webUsers.verifyWebUser("nobody", f.password), null);

      const privateKey = (await Deno.readTextFile(pki.path("gw-rsa.key")))
        .split("\n").filter((l) => l.length === 64);
      assert(privateKey.length > 10);
      const keys = [...spellings(f.realmPsk), ...spellings(f.peerPsk), ...privateKey];
      // The password comes from the web client and goes to the secure process for the check;
      // it never comes back, and no key ever crosses in either direction.
      const secrets = [...keys, ...spellings(f.password)];
      const inbound = [...received, ...log.lines].join("\n");
      assertEquals(received.length, 16, "ready and 15 replies");
      assertEquals(sent.length, 15, "15 requests");
      for (const secret of secrets) {
        assert(!inbound.includes(secret), `a secret appears: ${secret}`);
      }
      for (const key of keys) assert(!sent.join("\n").includes(key), `a key was sent: ${key}`);
    } finally {
      await secure?.close();
      log.restore();
      await f.remove();
    }
  },
});

Deno.test({
  name: "a malformed request on the real pipe gets a refusal and the next request is answered",
  ignore: !CAN_RUN,
  async fn() {
    const f = await writeFixture();
    const log = captureLog();
    const received: unknown[] = [];
    const client = new SecureClient({
      send: (frame) => supervisor.send(frame),
      onReceive: (body) => received.push(JSON.parse(new TextDecoder().decode(body))),
    });
    const supervisor = new SecureProcessSupervisor({
      command: () => workerCommand(options(f)),
      onBody: (body) => client.receive(body),
    });
    try {
      supervisor.start();
      await client.waitReady(30_000);
      const raw = [
        encodeFrame("this is not JSON"),
        encodeFrame(
          JSON.stringify({ id: 77, type: "hasPsk", args: { realmId: "1", peerId: GW2_ID } }),
        ),
        encodeFrame(JSON.stringify({ id: 78, type: "readFile", args: { path: f.authPath } })),
        encodeFrame(encodeRequest(79, "addRoute", { prefix: "0.0.0.0/0", device: "eth0" })),
      ];
      for (const frame of raw) supervisor.send(frame);
      assertEquals(await client.request("localMethod", { realmId: 1 }), "psk");
      const deadline = Date.now() + 5_000;
      while (received.length < 6 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 20));
      }
      const refusals = received.filter((m) => (m as { ok?: boolean }).ok === false) as {
        id: number | null;
        error: { code: string; message: string };
      }[];
      refusals.sort((a, b) => (a.id ?? 0) - (b.id ?? 0));
      assertEquals(refusals.map((r) => [r.id, r.error.code]), [
        [null, "malformed"],
        [77, "malformed"],
        [78, "unknown_request"],
        [79, "refused"],
      ]);
      assert(
        refusals[1]!.error.message.includes("hasPsk.args.realmId"),
        refusals[1]!.error.message,
      );
      assert(!JSON.stringify(received).includes(f.peerPsk));
    } finally {
      client.close();
      await supervisor.close();
      log.restore();
      await f.remove();
    }
  },
});

Deno.test({
  name:
    "after SIGKILL of the secure process requests fail fast, then it is back within the back-off",
  ignore: !CAN_RUN,
  async fn() {
    const f = await writeFixture();
    const log = captureLog();
    let secure: SecureSide | undefined;
    try {
      secure = await SecureSide.start(options(f));
      const first = secure.pid;
      assertEquals(await secure.auth.hasPsk(1, GW2_ID), true);
      Deno.kill(first, "SIGKILL");
      const deadline = Date.now() + 5_000;
      while (secure.client.up && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      const started = performance.now();
      const error = await secure.auth.computePskAuth({
        realmId: 1,
        peerId: GW2_ID,
        prf: "sha256",
        signedOctets: new Uint8Array(8),
      }).catch((e) => e);
      assert(performance.now() - started < 100, "refused at once");
      assert(error instanceof SecureProcessUnavailableError, String(error));
      assert(error.message.includes("new SAs are refused until it is back"), error.message);
      while (!secure.client.up && Date.now() < deadline + 20_000) {
        await new Promise((r) => setTimeout(r, 50));
      }
      assert(secure.pid !== first, "a new secure process");
      assertEquals(await secure.auth.hasPsk(1, GW2_ID), true);
      const text = log.lines.join("\n");
      assert(
        text.includes(
          `the secure process (pid ${first}) was killed by SIGKILL: new SAs are refused until it is back (established SAs keep running); restarting it in 250 ms`,
        ),
        text,
      );
      assert(text.includes(`secure process ready again (pid ${secure.pid})`), text);
      assertEquals(secure.starts, 2);
    } finally {
      await secure?.close();
      log.restore();
      await f.remove();
    }
  },
});

Deno.test({
  name:
    "reload starts the secure process afresh at once and it takes a realm added to rockhopper.xml",
  ignore: !CAN_RUN,
  async fn() {
    const f = await writeFixture();
    const log = captureLog();
    let secure: SecureSide | undefined;
    try {
      secure = await SecureSide.start(options(f));
      const first = secure.pid;
      const before = await secure.sys.linkUp("rhpt2").catch((e) => e);
      assert(before instanceof SysRefusedError, String(before));
      await addCertRealm(f.dir);
      const started = Date.now();
      await secure.sys.reload();
      assert(secure.pid !== first, "a new secure process");
      assert(Date.now() - started < 15_000);
      // Now the policy allows it; `ip` itself fails (no such device here, or no root).
      const after = await secure.sys.linkUp("rhpt2").catch((e) => e);
      assert(after instanceof IpCommandError, String(after));
      const text = log.lines.join("\n");
      assert(
        text.includes(
          `the secure process (pid ${first}) exited with status 0 to restart: starting it again`,
        ),
        text,
      );
      assert(!text.includes("new SAs are refused"), "a reload is no crash");
    } finally {
      await secure?.close();
      log.restore();
      await f.remove();
    }
  },
});

Deno.test({
  name: "an auth.xml error stops the start with the loader's message",
  ignore: !CAN_RUN,
  async fn() {
    const f = await writeFixture();
    try {
      await Deno.writeTextFile(
        f.authPath,
        `<rockhopper_auth version="1">\n  <realm id="x"/>\n</rockhopper_auth>\n`,
      );
      const error = await SecureSide.start(options(f)).catch((e) => e);
      assert(error instanceof Error);
      assert(error.message.startsWith(`${f.authPath}:2: `), error.message);
    } finally {
      await f.remove();
    }
  },
});

Deno.test({
  name: "inside a main process with a file list, auth.xml is out of reach after start (NotCapable)",
  ignore: !CAN_RUN,
  async fn() {
    const f = await writeFixture();
    try {
      const output = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "--no-prompt",
          "--config",
          DENO_CONFIG,
          `--allow-read=${f.configPath},${f.authPath}`,
          "--allow-run",
          new URL("./main_agent.ts", import.meta.url).pathname,
          f.configPath,
          f.authPath,
          ENTRY,
          DENO_CONFIG,
        ],
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).output();
      const stderr = new TextDecoder().decode(output.stderr);
      assertEquals(output.code, 0, stderr);
      const report = JSON.parse(new TextDecoder().decode(output.stdout));
      assertEquals(report.before, "ok", "readable before the start: the grant was real");
      assertEquals(report.files, [f.authPath]);
      assertEquals(report.stillReadable, []);
      assertEquals(report.check, { readable: false, reason: "NotCapable" });
      assertEquals(report.readAuth, "NotCapable");
      assertEquals(report.readConfig, "ok", "rockhopper.xml stays readable");
      assertEquals(report.hasPsk, true);
      for (const s of [...spellings(f.realmPsk), ...spellings(f.peerPsk)]) {
        assert(!stderr.includes(s) && !JSON.stringify(report).includes(s));
      }
    } finally {
      await f.remove();
    }
  },
});
