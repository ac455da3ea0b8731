/**
 * Runs main.ts as a subprocess, as an operator would. Needs --allow-run (and --allow-read,
 * --allow-write for the temporary files); without run permission these tests are ignored.
 */
import { assert, assertEquals } from "../_assert.ts";
import denoJson from "../../deno.json" with { type: "json" };

const ROOT = new URL("../../", import.meta.url).pathname;
const canRun = (await Deno.permissions.query({ name: "run" })).state === "granted";

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

async function runMain(args: string[]): Promise<Result> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-read", "main.ts", ...args],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

async function withTempConfig(text: string, fn: (path: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "rh_cli_test_" });
  try {
    const path = `${dir}/rockhopper.xml`;
    await Deno.writeTextFile(path, text);
    await fn(path);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const lines = (text: string) => text.split("\n").filter((l) => l !== "");

Deno.test({
  name: "an invalid config exits 1 with one stderr line naming file, line and element",
  ignore: !canRun,
  fn: () =>
    withTempConfig(
      `<rockhopper version="1">
  <realm id="1" name="default">
    <tunnel_interface name="rhp0" address="10.255.0.1/24"/>
    <ike suites="aes128-sha1-modp1024"/>
  </realm>
</rockhopper>`,
      async (path) => {
        const result = await runMain(["-f", path, "--check"]);
        assertEquals(result.code, 1);
        assertEquals(lines(result.stderr).length, 1, result.stderr);
        assert(
          result.stderr.startsWith(
            `${path}:4: <ike suites>: unknown IKE suite "aes128-sha1-modp1024"`,
          ),
          result.stderr,
        );
        assert(!result.stderr.includes("    at "), "no stack trace");
        assertEquals(result.stdout, "");
      },
    ),
});

Deno.test({
  name: "malformed XML exits 1 with one stderr line naming file and line",
  ignore: !canRun,
  fn: () =>
    withTempConfig(
      `<rockhopper version="1">\n  <realm id="1" name="default">\n</rockhopper>\n`,
      async (path) => {
        const result = await runMain(["-f", path, "--check"]);
        assertEquals(result.code, 1);
        assertEquals(lines(result.stderr), [`${path}:3: malformed XML: unexpected close tag`]);
      },
    ),
});

Deno.test({
  name: "--check on the shipped configuration exits 0",
  ignore: !canRun,
  async fn() {
    const result = await runMain(["--check"]);
    assertEquals(result.code, 0, result.stderr);
    assertEquals(result.stdout, "configuration OK: 1 realm\n");
    // The shipped auth.xml has no key yet: start-up says so, without failing.
    assert(result.stderr.includes("has no PSK yet"), result.stderr);
  },
});

Deno.test({
  name: "a missing file exits 1 naming it",
  ignore: !canRun,
  async fn() {
    const result = await runMain(["-a", "/nonexistent/auth.xml", "--check"]);
    assertEquals(result.code, 1);
    assertEquals(lines(result.stderr), [
      "/nonexistent/auth.xml: cannot read the file: it does not exist",
    ]);
  },
});

Deno.test({
  name: "an unknown option is a usage error with exit status 2",
  ignore: !canRun,
  async fn() {
    const result = await runMain(["--bogus"]);
    assertEquals(result.code, 2);
    assert(result.stderr.includes("unknown option --bogus"), result.stderr);
    assert(result.stderr.includes("--help"), result.stderr);
  },
});

Deno.test({
  name: "--version prints the version from deno.json and --help the usage",
  ignore: !canRun,
  async fn() {
    const version = await runMain(["-V"]);
    assertEquals([version.code, version.stdout], [0, `rockhopper-ts ${denoJson.version}\n`]);
    const help = await runMain(["--help"]);
    assertEquals(help.code, 0);
    assert(help.stdout.startsWith("Usage: rockhopper [options]"), help.stdout);
  },
});
