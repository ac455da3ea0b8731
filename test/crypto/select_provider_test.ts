import assert from "node:assert/strict";
import { selectCryptoProvider } from "../../lib/crypto/select_provider.ts";

Deno.test("auto selects libcrypto when FFI is granted", () => {
  // The unit tests run with --allow-ffi, and libcrypto.so.3 is part of the platform.
  assert.equal(selectCryptoProvider().name, "libcrypto");
  assert.equal(selectCryptoProvider("auto").name, "libcrypto");
});

Deno.test("an explicit preference is honoured", () => {
  assert.equal(selectCryptoProvider("node").name, "node");
  assert.equal(selectCryptoProvider("libcrypto").name, "libcrypto");
});

Deno.test({
  name: "auto falls back to node:crypto without --allow-ffi",
  // Needs --allow-run to start the child Deno; reported as ignored otherwise.
  ignore: Deno.permissions.querySync({ name: "run" }).state !== "granted",
  fn: async () => {
    const script = new URL("../../lib/crypto/select_provider.ts", import.meta.url).href;
    const code = `const { selectCryptoProvider } = await import(${JSON.stringify(script)});` +
      `console.log(selectCryptoProvider().name);`;
    // `deno eval` grants everything; `deno run -` reads the program from stdin with only the
    // permissions given here.
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-read", "--allow-env", "-"],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const writer = child.stdin.getWriter();
    await writer.write(new TextEncoder().encode(code));
    await writer.close();
    const out = await child.output();
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, stderr);
    assert.equal(new TextDecoder().decode(out.stdout).trim(), "node", stderr);
  },
});
