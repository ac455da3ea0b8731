/**
 * What the appliance does with `nat_t` when the raw ESP socket cannot be opened (no
 * CAP_NET_RAW): "auto" realms act as "force" with a warning, a "no" realm stops the start, and
 * "force"-only configurations never try to open it. In memory: fake devices and sockets.
 */
import { assert, assertEquals, assertRejects } from "../_assert.ts";
import { Appliance } from "../../lib/appliance/mod.ts";
import { parseAuthConfig, parseConfig } from "../../lib/config/mod.ts";
import { NodeCryptoProvider } from "../../lib/crypto/node_provider.ts";
import { setLogSinks } from "../../lib/log/mod.ts";
import {
  type Endpoint,
  MemoryDevice,
  MemoryNetwork,
  type RawEspSocket,
} from "../../lib/net/mod.ts";
import { Errno, SysError } from "../../lib/sys/mod.ts";

function config(natT: string): string {
  return `<?xml version="1.0"?>
<rockhopper version="1">
  <interfaces><interface address="198.51.100.1"/></interfaces>
  <realm id="1" name="lab">
    <tunnel_interface name="rhp1" address="10.1.0.1/24"/>
    <ike nat_t="${natT}" dpd="0"/>
    <peer id="fqdn:gw2.example.com" address="198.51.100.2"/>
  </realm>
</rockhopper>`;
}

const AUTH = `<?xml version="1.0"?>
<rockhopper_auth version="1">
  <realm id="1">
    <my_auth method="psk" id="fqdn:gw1.example.com"/>
    <peer id="fqdn:gw2.example.com" psk="a-long-enough-test-psk-0123456789"/>
  </realm>
</rockhopper_auth>`;

async function start(
  natT: string,
  lines: string[],
): Promise<{ appliance: Appliance; opened: string[] }> {
  const network = new MemoryNetwork();
  const opened: string[] = [];
  const appliance = await Appliance.start({
    config: parseConfig(config(natT), "test.xml"),
    auth: parseAuthConfig(AUTH, "auth.xml"),
    crypto: new NodeCryptoProvider(),
    openDevice: () => Promise.resolve(new MemoryDevice({ name: "rhp1" })),
    openSocket: (e: Endpoint) => Promise.resolve(network.open(e)),
    openRawEsp: (address: string): RawEspSocket => {
      opened.push(address);
      throw new SysError("socket", Errno.EPERM, "open a raw ESP socket (IP protocol 50)");
    },
    manageRoutes: false,
  });
  assert(lines.some((l) => l.includes("listening for IKE on 198.51.100.1:500")));
  return { appliance, opened };
}

async function withLogs<T>(fn: (lines: string[]) => Promise<T>): Promise<T> {
  const lines: string[] = [];
  const prev = setLogSinks([(_r, line) => lines.push(line)]);
  try {
    return await fn(lines);
  } finally {
    setLogSinks(prev);
  }
}

Deno.test("without a raw ESP socket, nat_t=auto acts as force and start-up says why", () =>
  withLogs(async (lines) => {
    const { appliance, opened } = await start("auto", lines);
    try {
      assertEquals(opened, ["198.51.100.1"]);
      assertEquals(appliance.rawEspAvailable, false);
      assertEquals(appliance.engine.realms.map((r) => r.natT), ["force"]);
      assert(
        lines.some((l) =>
          l.includes("Cannot open a raw ESP socket (IP protocol 50): EPERM") &&
          l.includes('ESP of realms with nat_t="auto" (lab) will always run in UDP 4500') &&
          l.includes("CAP_NET_RAW")
        ),
        lines.join("\n"),
      );
      assert(!lines.some((l) => l.includes("raw ESP (IP protocol 50) on")));
    } finally {
      await appliance.stop();
    }
  }));

Deno.test("without a raw ESP socket, a nat_t=no realm stops the start with a clear error", () =>
  withLogs(async (lines) => {
    await assertRejects(
      () => start("no", lines),
      RangeError,
      'Cannot start realm 1 (lab): nat_t="no" needs raw ESP (IP protocol 50), but the raw ESP socket is not available',
    );
  }));

Deno.test("with every realm at nat_t=force the raw ESP socket is not opened", () =>
  withLogs(async (lines) => {
    const { appliance, opened } = await start("force", lines);
    try {
      assertEquals(opened, []);
      assertEquals(appliance.rawEspAvailable, false);
      assertEquals(appliance.engine.realms.map((r) => r.natT), ["force"]);
      assert(!lines.some((l) => l.includes("Cannot open a raw ESP socket")));
    } finally {
      await appliance.stop();
    }
  }));
