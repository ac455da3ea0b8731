/**
 * The X.509 test PKI, made fresh with the `openssl` command by make_test_pki.sh (see its header
 * for the certificates). Without openssl this throws, so every test that needs it fails with
 * that message instead of passing vacuously.
 */
import { Certificate, RevocationList, SigningKey } from "../../../lib/auth/x509/mod.ts";

const SCRIPT = new URL("./make_test_pki.sh", import.meta.url).pathname;
/** Under test/artifacts/ (git-ignored), which `deno task test:unit` may write. */
const ARTIFACTS = new URL("../../artifacts/", import.meta.url).pathname;

/** A generated PKI in a fresh directory, removed when the test module unloads. */
export interface TestPki {
  dir: string;
  path(file: string): string;
  text(file: string): string;
  cert(name: string): Certificate;
  crl(name: string): RevocationList;
  key(name: string): SigningKey;
}

/** Runs a command; returns stdout, throws with stderr on failure. */
export async function run(command: string, args: string[], stdin?: Uint8Array): Promise<string> {
  let child;
  try {
    child = new Deno.Command(command, {
      args,
      stdin: stdin ? "piped" : "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  } catch (e) {
    throw new Error(`Cannot run ${command}: ${(e as Error).message} (is it installed?)`);
  }
  if (stdin) {
    const writer = child.stdin.getWriter();
    await writer.write(stdin);
    await writer.close();
  }
  const out = await child.output();
  const decoder = new TextDecoder();
  if (!out.success) {
    throw new Error(
      `${command} ${args.join(" ")} failed (${out.code}): ${decoder.decode(out.stderr)}`,
    );
  }
  return decoder.decode(out.stdout);
}

/** Creates the PKI once per test module. */
export async function makeTestPki(): Promise<TestPki> {
  await Deno.mkdir(ARTIFACTS, { recursive: true });
  const dir = await Deno.makeTempDir({ dir: ARTIFACTS, prefix: "x509-pki-" });
  globalThis.addEventListener("unload", () => {
    try {
      Deno.removeSync(dir, { recursive: true });
    } catch {
      // already gone
    }
  });
  await run("bash", [SCRIPT, dir]);
  const path = (file: string) => `${dir}/${file}`;
  const text = (file: string) => Deno.readTextFileSync(path(file));
  return {
    dir,
    path,
    text,
    cert: (name) => Certificate.from(text(`${name}.crt`)),
    crl: (name) => RevocationList.from(text(`${name}.crl`)),
    key: (name) => SigningKey.fromPem(text(`${name}.key`)),
  };
}
