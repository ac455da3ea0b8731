/**
 * Plays the main process for secure_process_test.ts: started with `--allow-read` for exactly
 * rockhopper.xml and auth.xml (as an operator would list them), it starts the secure process,
 * gives up the secret files as main.ts does, and reports from the inside what it can still
 * read, as one JSON line on stdout.
 *
 *   deno run --allow-read=CONF,AUTH --allow-run main_agent.ts CONF AUTH ENTRY DENO_JSON
 */
import { checkUnreadable, revokePaths, SecureSide } from "../../../lib/auth/secure/mod.ts";
import { setLogLevel } from "../../../lib/log/mod.ts";

const [configPath, authPath, entry, denoConfig] = Deno.args as [string, string, string, string];
setLogLevel("warn");

function tryRead(path: string): string {
  try {
    Deno.readTextFileSync(path);
    return "ok";
  } catch (e) {
    return (e as Error).name;
  }
}

const before = tryRead(authPath);
const secure = await SecureSide.start({
  configPath,
  authPath,
  logLevel: "warn",
  entry,
  denoConfig,
});
const stillReadable = await revokePaths(secure.info.files);
const report = {
  before,
  files: secure.info.files,
  stillReadable,
  check: checkUnreadable(authPath),
  readAuth: tryRead(authPath),
  readConfig: tryRead(configPath),
  // The secure process still answers: the secrets moved, they did not vanish.
  hasPsk: await secure.auth.hasPsk(1, "fqdn:gw2.example.com"),
};
await secure.close();
console.log(JSON.stringify(report));
