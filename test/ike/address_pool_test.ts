import { assert, assertEquals } from "../_assert.ts";
import { AddressPool, AddressPools } from "../../lib/ike/address_pool.ts";

const saA = { name: "sa A" };
const saB = { name: "sa B" };
const saC = { name: "sa C" };

Deno.test("a pool lends host addresses in order, never the network, broadcast or excluded ones", () => {
  const pool = new AddressPool("10.3.0.0/29", { exclude: ["10.3.0.1", "192.168.1.1"] });
  assertEquals(pool.size, 5n);
  const got = ["a", "b", "c", "d", "e"].map((id) => pool.acquire(`fqdn:${id}`, saA)!.address);
  assertEquals(got, ["10.3.0.2", "10.3.0.3", "10.3.0.4", "10.3.0.5", "10.3.0.6"]);
  assertEquals(pool.acquire("fqdn:f", saA), undefined);
  assertEquals(pool.online, 5);
});

Deno.test("/31 and /32 pools lend every address; IPv6 skips the subnet-router anycast", () => {
  const p31 = new AddressPool("10.3.0.2/31");
  assertEquals([p31.acquire("x", saA)?.address, p31.acquire("y", saA)?.address], [
    "10.3.0.2",
    "10.3.0.3",
  ]);
  assertEquals(new AddressPool("10.3.0.9/32").acquire("x", saA)?.address, "10.3.0.9");
  const v6 = new AddressPool("fd00:3::/64");
  assertEquals(v6.size, (1n << 64n) - 1n);
  assertEquals(v6.acquire("x", saA)?.address, "fd00:3::1");
  assertEquals(v6.family, 6);
});

Deno.test("an identity keeps its address across reconnects while unused addresses remain", () => {
  const pool = new AddressPool("10.3.0.0/29");
  const first = pool.acquire("fqdn:rw1", saA)!;
  assert(pool.release(first, saA), "the lease goes offline with its last SA");
  assertEquals([pool.online, pool.offline], [0, 1]);
  assertEquals(
    pool.acquire("fqdn:rw2", saB)!.address,
    "10.3.0.2",
    "a new identity gets a fresh one",
  );
  assertEquals(pool.acquire("fqdn:rw1", saC)!.address, first.address);
  assertEquals([pool.online, pool.offline], [2, 0]);
});

Deno.test("two SAs of one identity share the lease; it goes offline with the last", () => {
  const pool = new AddressPool("10.3.0.0/24");
  const a = pool.acquire("fqdn:rw1", saA)!;
  const b = pool.acquire("fqdn:rw1", saB)!;
  assertEquals(a, b);
  assertEquals(pool.release(a, saA), false);
  assertEquals(pool.online, 1);
  assertEquals(pool.release(a, saA), false, "releasing twice changes nothing");
  pool.transfer(b, saB, saC);
  assertEquals(pool.release(b, saB), false, "the rekeyed-away SA no longer holds it");
  assertEquals(pool.release(b, saC), true);
});

Deno.test("when no address was never used, the oldest offline lease moves to a new identity", () => {
  const pool = new AddressPool("10.3.0.2/31");
  const one = pool.acquire("fqdn:rw1", saA)!;
  const two = pool.acquire("fqdn:rw2", saB)!;
  assertEquals(pool.acquire("fqdn:rw3", saC), undefined, "exhausted while both are online");
  pool.release(two, saB);
  pool.release(one, saA);
  const three = pool.acquire("fqdn:rw3", saC)!;
  assertEquals(three.address, two.address, "the lease released first is reused first");
  assertEquals(three.identity, "fqdn:rw3");
  assertEquals(pool.acquire("fqdn:rw1", saA)!.address, one.address, "rw1 still has its own");
  assertEquals(pool.acquire("fqdn:rw2", saB), undefined, "rw2 lost its address to rw3");
  assertEquals(
    pool.leases().map((l) => `${l.address} ${l.identity} ${l.online}`).sort(),
    ["10.3.0.2 fqdn:rw1 true", "10.3.0.3 fqdn:rw3 true"],
  );
});

Deno.test("realm pools survive a configuration reload unless the pool changed", () => {
  const pools = new AddressPools();
  const policy = { prefixes: ["10.3.0.0/24"], exclude: [], dns: [], domains: [], subnets: [] };
  const first = pools.forRealm(1, policy);
  first[0]!.acquire("fqdn:rw1", saA);
  assert(pools.forRealm(1, { ...policy, dns: ["10.1.0.53"] }) === first, "DNS changes keep leases");
  const changed = pools.forRealm(1, { ...policy, prefixes: ["10.3.1.0/24"] });
  assert(changed !== first);
  assertEquals(changed[0]!.online, 0);
});
