/**
 * Configuration payloads between two of our engines (RFC 7296 §2.19): a gateway with an
 * address pool and road warriors that ask for an address. Checks the lease, the narrowed
 * selectors on both sides, the DNS settings the client hears, release on delete and reuse on
 * reconnect, IKE SA rekeys that keep the lease, and INTERNAL_ADDRESS_FAILURE.
 */
import { assert, assertEquals } from "../_assert.ts";
import { setLogSinks } from "../../lib/log/mod.ts";
import type { IkeSa } from "../../lib/ike/ike_sa.ts";
import type { AddressPool } from "../../lib/ike/address_pool.ts";
import type { InternalAddress } from "../../lib/ike/config_attributes.ts";
import type { RealmPolicy } from "../../lib/ike/realm_policy.ts";
import type { VirtualIpInstaller } from "../../lib/ike/tasks/task.ts";
import { formatSelector } from "../../lib/ike/traffic_selectors.ts";
import {
  authConfig,
  closeAll,
  nextEvent,
  realm,
  type Side,
  side,
  Wire,
} from "./_engine_fixture.ts";

const PSK = "a-long-enough-test-psk-0123456789";
const GATEWAY = "198.51.100.1";
const GATEWAY_ID = "fqdn:gw.example.com";

async function withLogs<T>(fn: (lines: string[]) => Promise<T>): Promise<T> {
  const lines: string[] = [];
  const prev = setLogSinks([(_r, line) => lines.push(line)]);
  try {
    return await fn(lines);
  } finally {
    setLogSinks(prev);
  }
}

/** Records what the engine asks the appliance to put on (and take off) the TUN. */
class RecordingVirtualIps implements VirtualIpInstaller {
  readonly installed: string[] = [];
  readonly removed: string[] = [];
  install(_sa: IkeSa, addresses: readonly InternalAddress[]): Promise<void> {
    this.installed.push(...addresses.map((a) => `${a.address}/${a.prefixLength}`));
    return Promise.resolve();
  }
  remove(_sa: IkeSa, addresses: readonly InternalAddress[]): Promise<void> {
    this.removed.push(...addresses.map((a) => `${a.address}/${a.prefixLength}`));
    return Promise.resolve();
  }
}

interface Client extends Side {
  id: string;
  virtualIps: RecordingVirtualIps;
}

/** A gateway lending `pool` (or none) and road warriors rw1, rw2, ... asking for IPv4. */
function roadWarriors(options: {
  pool?: string | string[];
  clients: number;
  families?: { ipv4: boolean; ipv6: boolean };
}): {
  wire: Wire;
  gateway: Side;
  clients: Client[];
} {
  const wire = new Wire();
  const ids = Array.from({ length: options.clients }, (_, i) => `fqdn:rw${i + 1}.example.com`);
  const gatewayRealm: RealmPolicy = {
    ...realm({
      local: ["10.1.0.0/24"],
      // Deliberately unrelated: a leased peer's side is its address, not <traffic remote>.
      remote: ["10.255.0.0/24"],
      localId: GATEWAY_ID,
      peers: ids.map((id) => ({ id })),
    }),
    ...(options.pool
      ? {
        addressPool: {
          prefixes: typeof options.pool === "string" ? [options.pool] : options.pool,
          exclude: [],
          dns: ["10.1.0.53"],
          domains: ["corp.example.com"],
          subnets: ["10.1.0.0/24"],
        },
      }
      : {}),
  };
  const gateway = side(
    wire,
    GATEWAY,
    [gatewayRealm],
    authConfig(1, GATEWAY_ID, Object.fromEntries(ids.map((id) => [id, PSK]))),
  );
  const clients = ids.map((id, i) => {
    const virtualIps = new RecordingVirtualIps();
    const client = side(
      wire,
      `198.51.100.${i + 2}`,
      [{
        ...realm({
          local: ["10.9.9.0/24"],
          remote: ["10.1.0.0/24"],
          localId: id,
          peers: [{ id: GATEWAY_ID, address: GATEWAY }],
        }),
        requestAddress: options.families ?? { ipv4: true, ipv6: false },
      }],
      authConfig(1, id, { [GATEWAY_ID]: PSK }),
      { virtualIps },
    );
    return { ...client, id, virtualIps };
  });
  return { wire, gateway, clients };
}

/** Connects `client` and waits until both ends are established. */
async function connect(gateway: Side, client: Side): Promise<{ ours: IkeSa; theirs: IkeSa }> {
  const atGateway = nextEvent(gateway.engine, "established");
  const ours = client.engine.initiate(1);
  assertEquals(await nextEvent(client.engine, "established"), ours);
  return { ours, theirs: await atGateway };
}

/** Deletes `sa` from `client` and waits until the gateway dropped its side. */
async function disconnect(gateway: Side, client: Side, sa: IkeSa): Promise<void> {
  const gone = nextEvent(gateway.engine, "destroyed");
  await client.engine.deleteSa(sa);
  await gone;
}

/** The gateway realm's IPv4 pool (created by the first request). */
function pool(gateway: Side): AddressPool {
  const entry = [...gateway.engine.addressPools.entries()][0]?.[1];
  assert(entry, "the gateway has a pool");
  return entry.pools[0]!;
}

Deno.test("a road warrior gets an address, DNS and domain; both sides narrow TSi to it", () =>
  withLogs(async (lines) => {
    const { gateway, clients: [rw1] } = roadWarriors({ pool: "10.3.0.0/24", clients: 1 });
    const { ours, theirs } = await connect(gateway, rw1!);

    assertEquals(theirs.addressing.leases.map((l) => l.address), ["10.3.0.1"]);
    assertEquals(ours.addressing.assigned, [{ address: "10.3.0.1", prefixLength: 32 }]);
    assertEquals(rw1!.virtualIps.installed, ["10.3.0.1/32"]);

    const [clientChild] = rw1!.installer.installed;
    const [gatewayChild] = gateway.installer.installed;
    assert(clientChild && gatewayChild, "both sides installed the child SA");
    assertEquals(clientChild.record.localTs.map(formatSelector), ["10.3.0.1"]);
    assertEquals(clientChild.record.remoteTs.map(formatSelector), ["10.1.0.0/24"]);
    assertEquals(gatewayChild.record.remoteTs.map(formatSelector), ["10.3.0.1"]);
    assertEquals(gatewayChild.record.localTs.map(formatSelector), ["10.1.0.0/24"]);

    assert(
      lines.some((l) =>
        /assigning virtual IP 10\.3\.0\.1 to fqdn:rw1\.example\.com \(pool 10\.3\.0\.0\/24\)/.test(
          l,
        )
      ),
    );
    assert(lines.some((l) => /received virtual IP 10\.3\.0\.1 from fqdn:gw\.example\.com/.test(l)));
    assert(lines.some((l) => l.endsWith("received DNS 10.1.0.53, domain corp.example.com")));
    assert(lines.some((l) => /announces internal subnets 10\.1\.0\.0\/24/.test(l)));
    await closeAll(rw1!, gateway);
  }));

Deno.test("a lease is released on delete, kept for its identity, and reused on reconnect", () =>
  withLogs(async (lines) => {
    const { gateway, clients: [rw1, rw2] } = roadWarriors({ pool: "10.3.0.0/24", clients: 2 });
    const first = await connect(gateway, rw1!);
    assertEquals(pool(gateway).online, 1);

    await disconnect(gateway, rw1!, first.ours);
    assertEquals([pool(gateway).online, pool(gateway).offline], [0, 1]);
    assertEquals(first.theirs.addressing.leases, []);
    assertEquals(rw1!.virtualIps.removed, ["10.3.0.1/32"], "the client took the address off");
    assert(lines.some((l) => /released virtual IP 10\.3\.0\.1 of fqdn:rw1\.example\.com/.test(l)));

    const other = await connect(gateway, rw2!);
    assertEquals(
      other.theirs.addressing.leases[0]?.address,
      "10.3.0.2",
      "a new identity gets a new one",
    );
    const again = await connect(gateway, rw1!);
    assertEquals(
      again.theirs.addressing.leases[0]?.address,
      "10.3.0.1",
      "the same identity gets its own",
    );
    assertEquals(again.ours.addressing.assigned[0]?.address, "10.3.0.1");
    assertEquals(pool(gateway).online, 2);
    await closeAll(rw1!, rw2!, gateway);
    assertEquals(pool(gateway).online, 0);
  }));

Deno.test("an exhausted pool answers INTERNAL_ADDRESS_FAILURE; the address serves the next peer once free", () =>
  withLogs(async (lines) => {
    const { gateway, clients: [rw1, rw2] } = roadWarriors({ pool: "10.3.0.5/32", clients: 2 });
    const first = await connect(gateway, rw1!);
    assertEquals(first.ours.addressing.assigned[0]?.address, "10.3.0.5");

    // rw2 authenticates, hears INTERNAL_ADDRESS_FAILURE, gets no child SA and deletes its SA.
    const rw2Gone = nextEvent(rw2!.engine, "destroyed");
    const gatewayDropsRw2 = nextEvent(gateway.engine, "destroyed");
    const refused = rw2!.engine.initiate(1);
    assertEquals(await rw2Gone, refused);
    await gatewayDropsRw2;
    assertEquals(rw2!.installer.installed.length, 0);
    assertEquals(rw2!.virtualIps.installed.length, 0);
    assertEquals(gateway.installer.installed.length, 1, "no child SA for rw2 at the gateway");
    assert(
      lines.some((l) =>
        /INTERNAL_ADDRESS_FAILURE for fqdn:rw2\.example\.com: address pool 10\.3\.0\.5\/32 \(1 of 1 addresses in use\) of realm test is exhausted/
          .test(l)
      ),
    );
    assert(
      lines.some((l) =>
        /no inner address from fqdn:gw\.example\.com: it answered INTERNAL_ADDRESS_FAILURE/.test(l)
      ),
    );
    assertEquals(pool(gateway).online, 1, "the refusal took nothing from rw1");

    await disconnect(gateway, rw1!, first.ours);
    const second = await connect(gateway, rw2!);
    assertEquals(
      second.ours.addressing.assigned[0]?.address,
      "10.3.0.5",
      "a different identity gets it after release",
    );
    assertEquals(rw2!.installer.installed[0]?.record.localTs.map(formatSelector), ["10.3.0.5"]);
    await closeAll(rw2!, gateway);
  }));

Deno.test("a realm without <pool> refuses an address request with INTERNAL_ADDRESS_FAILURE", () =>
  withLogs(async (lines) => {
    const { gateway, clients: [rw1] } = roadWarriors({ clients: 1 });
    const gone = nextEvent(rw1!.engine, "destroyed");
    rw1!.engine.initiate(1);
    await gone;
    assertEquals(gateway.installer.installed.length, 0);
    assert(lines.some((l) => /realm test has no <pool>/.test(l)));
    await closeAll(rw1!, gateway);
  }));

Deno.test("IKE SA and child SA rekeys keep the lease and the client's address", () =>
  withLogs(async () => {
    const { gateway, clients: [rw1] } = roadWarriors({ pool: "10.3.0.0/24", clients: 1 });
    const { ours } = await connect(gateway, rw1!);

    // IKE SA rekey from the gateway: the lease moves to the new SA, the old one goes.
    const rekeyed = new Promise<IkeSa>((resolve) => {
      const off = gateway.engine.on((e) => {
        if (e.type === "rekeyed") {
          off();
          resolve(e.sa);
        }
      });
    });
    const oldGone = nextEvent(gateway.engine, "destroyed");
    gateway.engine.rekeyIkeSa(gateway.engine.list()[0]!);
    const newGatewaySa = await rekeyed;
    await oldGone;
    assertEquals(newGatewaySa.addressing.leases.map((l) => l.address), ["10.3.0.1"]);
    assertEquals(pool(gateway).online, 1);
    await new Promise((r) => setTimeout(r, 50));
    const clientSa = rw1!.engine.list()[0]!;
    assert(clientSa !== ours, "the client moved to the new IKE SA too");
    assertEquals(clientSa.addressing.assigned[0]?.address, "10.3.0.1");
    assertEquals(rw1!.virtualIps.removed, [], "the address stayed on the client's TUN");

    // Child SA rekey, once from each side: the selectors stay narrowed.
    for (const [by, sa] of [[rw1!, clientSa], [gateway, newGatewaySa]] as const) {
      const before = by.installer.installed.length;
      by.engine.rekeyChildSa(sa, sa.children[0]!);
      for (let i = 0; i < 50 && by.installer.installed.length === before; i++) {
        await new Promise((r) => setTimeout(r, 20));
      }
    }
    const clientChildren = rw1!.installer.installed;
    assertEquals(clientChildren.length, 3);
    for (const child of clientChildren) {
      assertEquals(child.record.localTs.map(formatSelector), ["10.3.0.1"]);
    }
    for (const child of gateway.installer.installed) {
      assertEquals(child.record.remoteTs.map(formatSelector), ["10.3.0.1"]);
    }
    await closeAll(rw1!, gateway);
    assertEquals(pool(gateway).online, 0);
    assertEquals(rw1!.virtualIps.removed, ["10.3.0.1/32"]);
  }));

Deno.test("a client asking for both families gets an IPv4 and an IPv6 address", () =>
  withLogs(async (lines) => {
    const { gateway, clients: [rw1] } = roadWarriors({
      pool: ["10.3.0.0/24", "fd00:3::/120"],
      clients: 1,
      families: { ipv4: true, ipv6: true },
    });
    const { ours, theirs } = await connect(gateway, rw1!);
    assertEquals(theirs.addressing.leases.map((l) => l.address), ["10.3.0.1", "fd00:3::1"]);
    assertEquals(rw1!.virtualIps.installed, ["10.3.0.1/32", "fd00:3::1/128"]);
    assertEquals(ours.children[0]!.localTs.map(formatSelector), ["10.3.0.1", "fd00:3::1"]);
    assertEquals(gateway.installer.installed[0]!.record.remoteTs.map(formatSelector), [
      "10.3.0.1",
      "fd00:3::1",
    ]);
    assert(lines.some((l) => l.includes("received virtual IP 10.3.0.1, fd00:3::1")));
    await closeAll(rw1!, gateway);
  }));
