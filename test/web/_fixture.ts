/**
 * Two appliances (gw1 initiator, gw2 responder) on an in-memory network with in-memory TUN
 * devices — no root needed — and the management server of gw1 on 127.0.0.1 with an ephemeral
 * port. Configuration files live in a temp dir so realm changes can be checked on disk.
 */
import { Appliance } from "../../lib/appliance/mod.ts";
import { hashPassword, type WebUserAuthService } from "../../lib/auth/mod.ts";
import {
  type AuthConfig,
  checkAuthAgainstConfig,
  loadAuthConfig,
  loadConfig,
  type RockhopperConfig,
} from "../../lib/config/mod.ts";
import type { RealmPolicy } from "../../lib/ike/mod.ts";
import { setLogSinks } from "../../lib/log/mod.ts";
import { MemoryDevice, MemoryNetwork } from "../../lib/net/mod.ts";
import { type Management, startManagement } from "../../lib/web/mod.ts";
import type { BusOptions } from "../../lib/web/mod.ts";
import { BusClient } from "../../lib/cli/ctl_client.ts";

export const GW1_ID = "fqdn:gw1.example.com";
export const GW2_ID = "fqdn:gw2.example.com";
export const PSK = "Vq3yq4mY3qkq1v8uJbG0zq7tqf5x2m9c";
/** Passwords of the web users of gw1's auth.xml. */
export const PASSWORDS = {
  admin: "correct horse battery staple",
  branch: "branch office password",
  lab: "lab realm password",
} as const;

/** Cheap hashes: the tests check behaviour, not cost. */
const TEST_SCRYPT = { n: 1024, r: 8, p: 1 };

function gw1Xml(admin: string): string {
  return `<?xml version="1.0" encoding="UTF-8"?>
<!-- gw1 of the web tests -->
<rockhopper version="1">
  <interfaces>
    <interface name="eth0" address="198.51.100.1"/>
  </interfaces>
  ${admin}

  <!-- the branch realm: initiates toward gw2 -->
  <realm id="1" name="branch">
    <tunnel_interface name="rhp1" address="10.1.0.1/24"/>
    <ike dpd="0"/>
    <traffic local="10.1.0.0/24" remote="10.2.0.0/24"/>
    <peer id="${GW2_ID}" address="198.51.100.2" auto="add"/>
  </realm>

  <realm id="2" name="lab">
    <tunnel_interface name="rhp2" address="10.9.0.1/24"/>
    <ike dpd="0"/>
    <peer id="fqdn:lab.example.com"/>
  </realm>
</rockhopper>
`;
}

async function gw1AuthXml(): Promise<string> {
  const line = async (user: keyof typeof PASSWORDS, realm: string) =>
    `  <admin user="${user}" hash="${await hashPassword(
      PASSWORDS[user],
      TEST_SCRYPT,
    )}" realm="${realm}"/>`;
  return `<?xml version="1.0" encoding="UTF-8"?>
<rockhopper_auth version="1">
  <realm id="1">
    <my_auth method="psk" id="${GW1_ID}"/>
    <peer id="${GW2_ID}" psk="${PSK}"/>
  </realm>
  <realm id="2">
    <my_auth method="psk" id="${GW1_ID}"/>
    <peer id="fqdn:lab.example.com" psk="${PSK}"/>
  </realm>
${await line("admin", "any")}
${await line("branch", "1")}
${await line("lab", "2")}
</rockhopper_auth>
`;
}

const GW2_XML = `<rockhopper version="1">
  <interfaces><interface address="198.51.100.2"/></interfaces>
  <admin enabled="no"/>
  <realm id="1" name="branch">
    <tunnel_interface name="rhp1" address="10.2.0.1/24"/>
    <ike dpd="0"/>
    <traffic local="10.2.0.0/24" remote="10.1.0.0/24"/>
    <peer id="${GW1_ID}"/>
  </realm>
</rockhopper>
`;

const gw2AuthXml = (psk: string) =>
  `<rockhopper_auth version="1">
  <realm id="1">
    <my_auth method="psk" id="${GW2_ID}"/>
    <peer id="${GW1_ID}" psk="${psk}"/>
  </realm>
</rockhopper_auth>
`;

/** Options of {@link startLab}. */
export interface WebLabOptions {
  /** The `<admin>` element of gw1 (port is overridden with an ephemeral one). */
  admin?: string;
  bus?: Partial<BusOptions>;
  maxBodyBytes?: number;
  failedLogins?: { limit: number; windowMs: number };
  /** gw2's key for gw1 (a different one makes IKE_AUTH fail). */
  gw2Psk?: string;
  /**
   * The web-user check of gw1's server, made from gw1's files (a secure process reading them);
   * default the users of auth.xml in this process.
   */
  users?: (files: { configPath: string; authPath: string }) => Promise<WebUserAuthService>;
}

/** The running pair, gw1's management server and its files. */
export interface WebLab {
  dir: string;
  configPath: string;
  authPath: string;
  net: MemoryNetwork;
  /** gw1's configuration as loaded at start. */
  config1: RockhopperConfig;
  gw1: Appliance;
  gw2: Appliance;
  /** gw1's devices by realm name, as opened (a reopened realm gets a new device). */
  devices1: Map<string, MemoryDevice>;
  devices2: Map<string, MemoryDevice>;
  /** Tunnel device names whose opening fails on gw1 (apply failures). */
  failDevices: Set<string>;
  management: Management;
  url: string;
  client(user?: keyof typeof PASSWORDS, password?: string): BusClient;
  /** Every log line emitted while the lab ran. */
  logLines: string[];
  stop(): Promise<void>;
}

async function startAppliance(
  config: RockhopperConfig,
  auth: AuthConfig,
  net: MemoryNetwork,
  devices: Map<string, MemoryDevice>,
  failDevices: Set<string> = new Set(),
): Promise<Appliance> {
  return await Appliance.start({
    config,
    auth,
    manageRoutes: false,
    openSocket: (endpoint) => Promise.resolve(net.open(endpoint)),
    openDevice: (realm: RealmPolicy) => {
      const name = realm.config.tunnelInterface.name;
      if (failDevices.has(name)) {
        return Promise.reject(new Error(`Cannot open TUN device ${name}: test failure`));
      }
      const device = new MemoryDevice({ name, mtu: 1400 });
      devices.set(realm.name, device);
      return Promise.resolve(device);
    },
  });
}

/**
 * Starts gw1 and gw2 on a memory network and gw1's management server; the caller must
 * `stop()` it. Log lines go to {@link WebLab.logLines} instead of stderr.
 */
export async function startLab(options: WebLabOptions = {}): Promise<WebLab> {
  const logLines: string[] = [];
  const previousSinks = setLogSinks([(_r, line) => logLines.push(line)]);
  const dir = await Deno.makeTempDir({ prefix: "rht_web_" });
  const configPath = `${dir}/rockhopper.xml`;
  const authPath = `${dir}/auth.xml`;
  await Deno.writeTextFile(
    configPath,
    gw1Xml(options.admin ?? `<admin address="127.0.0.1" port="32501" allow="127.0.0.0/8"/>`),
  );
  await Deno.writeTextFile(authPath, await gw1AuthXml(), { mode: 0o600 });
  await Deno.writeTextFile(`${dir}/gw2.xml`, GW2_XML);
  await Deno.writeTextFile(`${dir}/gw2-auth.xml`, gw2AuthXml(options.gw2Psk ?? PSK));
  const config1 = await loadConfig(configPath);
  const auth1 = await loadAuthConfig(authPath);
  checkAuthAgainstConfig(config1, auth1);
  const config2 = await loadConfig(`${dir}/gw2.xml`);
  const auth2 = await loadAuthConfig(`${dir}/gw2-auth.xml`);
  const net = new MemoryNetwork();
  const devices1 = new Map<string, MemoryDevice>();
  const devices2 = new Map<string, MemoryDevice>();
  const gw2 = await startAppliance(config2, auth2, net, devices2);
  const failDevices = new Set<string>();
  const gw1 = await startAppliance(config1, auth1, net, devices1, failDevices);
  const management = (await startManagement({
    appliance: gw1,
    config: config1,
    auth: auth1,
    configPath,
    authPath,
    ...(options.users ? { users: await options.users({ configPath, authPath }) } : {}),
    server: {
      port: 0,
      staticDir: null,
      ...(options.bus ? { bus: options.bus } : {}),
      ...(options.maxBodyBytes ? { maxBodyBytes: options.maxBodyBytes } : {}),
      ...(options.failedLogins ? { failedLogins: options.failedLogins } : {}),
    },
  }))!;
  const url = management.server.url;
  const clients: BusClient[] = [];
  return {
    dir,
    configPath,
    authPath,
    net,
    config1,
    gw1,
    gw2,
    devices1,
    devices2,
    failDevices,
    management,
    url,
    logLines,
    client(user = "admin", password?: string) {
      const client = new BusClient({ url, user, password: password ?? PASSWORDS[user] });
      clients.push(client);
      return client;
    },
    async stop() {
      for (const c of clients) await c.close();
      await management.stop();
      await gw1.stop();
      await gw2.stop();
      setLogSinks(previousSinks);
      await Deno.remove(dir, { recursive: true });
    },
  };
}

/** Runs `fn` with a started lab and always stops it. */
export async function withLab(
  options: WebLabOptions,
  fn: (lab: WebLab) => Promise<void>,
): Promise<void> {
  const lab = await startLab(options);
  try {
    await fn(lab);
  } finally {
    await lab.stop();
  }
}

/** Raw HTTP to the lab's server, with Basic credentials unless `auth` is null. */
export async function request(
  lab: WebLab,
  method: string,
  path: string,
  options: { auth?: [string, string] | null; body?: string; headers?: Record<string, string> } = {},
): Promise<{ status: number; text: string; headers: Headers }> {
  const auth = options.auth === undefined ? ["admin", PASSWORDS.admin] : options.auth;
  const headers: Record<string, string> = { ...options.headers };
  if (auth) {
    const bytes = new TextEncoder().encode(`${auth[0]}:${auth[1]}`);
    headers.authorization = `Basic ${btoa(String.fromCharCode(...bytes))}`;
  }
  const response = await fetch(lab.url + path, {
    method,
    headers,
    ...(options.body === undefined ? {} : { body: options.body }),
  });
  return { status: response.status, text: await response.text(), headers: response.headers };
}

/** Polls `check` every 20 ms until it returns true or `timeoutMs` passes. */
export async function waitFor(
  check: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 5000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
