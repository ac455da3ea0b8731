/**
 * Configuration files for secure-process tests: a PSK realm (and optionally a web user) in a
 * private temp dir, plus helpers to run the real secure process from main.ts.
 */
import { hashPassword } from "../../../lib/auth/mod.ts";

/** The repository root (main.ts, deno.json). */
export const REPO_ROOT: string = new URL("../../../", import.meta.url).pathname;
export const ENTRY = `${REPO_ROOT}main.ts`;
export const DENO_CONFIG = `${REPO_ROOT}deno.json`;

/** True when this test process may start subprocesses (the secure process is one). */
export const CAN_RUN = (await Deno.permissions.query({ name: "run" })).state === "granted" &&
  (await Deno.permissions.query({ name: "write" })).state === "granted";

/** A key no log line or frame could contain by accident. */
export function randomSecret(): string {
  return btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(24))));
}

export interface SecureFixture {
  dir: string;
  configPath: string;
  authPath: string;
  realmPsk: string;
  peerPsk: string;
  password: string;
  remove(): Promise<void>;
}

export const GW1_ID = "fqdn:gw1.example.com";
export const GW2_ID = "fqdn:gw2.example.com";

/** rockhopper.xml of realm 1 "lab": device rhpt1, 10.1.0.1/24, remote 10.2.0.0/24. */
export function configXml(): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<rockhopper version="1">
  <realm id="1" name="lab">
    <tunnel_interface name="rhpt1" address="10.1.0.1/24"/>
    <traffic local="10.1.0.0/24" remote="10.2.0.0/24"/>
    <peer id="${GW2_ID}" address="198.51.100.2"/>
  </realm>
</rockhopper>
`;
}

/** Writes both files (auth.xml mode 0600) into a fresh temp dir. */
export async function writeFixture(options: { webUser?: boolean } = {}): Promise<SecureFixture> {
  const dir = await Deno.makeTempDir({ prefix: "rht_secure_" });
  const realmPsk = randomSecret();
  const peerPsk = randomSecret();
  const password = randomSecret();
  const admin = options.webUser
    ? `  <admin user="admin" hash="${await hashPassword(password, { n: 1024 })}" realm="any"/>\n`
    : "";
  const configPath = `${dir}/rockhopper.xml`;
  const authPath = `${dir}/auth.xml`;
  await Deno.writeTextFile(configPath, configXml());
  await Deno.writeTextFile(
    authPath,
    `<?xml version="1.0" encoding="UTF-8"?>
<rockhopper_auth version="1">
  <realm id="1">
    <my_auth method="psk" id="${GW1_ID}" psk="${realmPsk}"/>
    <peer id="${GW2_ID}" psk="${peerPsk}"/>
  </realm>
${admin}</rockhopper_auth>
`,
    { mode: 0o600 },
  );
  return {
    dir,
    configPath,
    authPath,
    realmPsk,
    peerPsk,
    password,
    remove: () => Deno.remove(dir, { recursive: true }),
  };
}

/** Every spelling of `secret` that could leak: text, UTF-8 hex, base64 of the UTF-8. */
export function spellings(secret: string): string[] {
  const bytes = new TextEncoder().encode(secret);
  const hex = [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
  return [secret, hex, hex.toUpperCase(), bytes.toBase64()];
}
