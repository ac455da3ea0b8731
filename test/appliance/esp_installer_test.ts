/**
 * The ESP installer's make-before-break: after a peer's rekey the new inbound SA works at once,
 * while outbound traffic stays on the old SA until the old pair is deleted.
 */
import { assertEquals } from "../_assert.ts";
import { EspInstaller, RealmRuntime } from "../../lib/appliance/mod.ts";
import type { ChildSaRecord, IkeSa, NegotiatedChildSa } from "../../lib/ike/mod.ts";
import { ESP_SUITES, selectorFromCidr } from "../../lib/ike/mod.ts";
import { MemoryDevice } from "../../lib/net/mod.ts";
import { Logger } from "../../lib/log/mod.ts";
import { crypto, realm } from "../ike/_engine_fixture.ts";

const policy = realm({
  local: ["10.1.0.0/24"],
  remote: ["10.2.0.0/24"],
  localId: "fqdn:a.example.com",
  peers: [],
});
const suite = ESP_SUITES.get("aes256gcm16")!;
const sa = { log: new Logger("ike") } as unknown as IkeSa;

function child(spiIn: number, spiOut: number, replaces?: ChildSaRecord): NegotiatedChildSa {
  const record: ChildSaRecord = {
    spiIn,
    spiOut,
    suite,
    localTs: [selectorFromCidr("10.1.0.0/24")],
    remoteTs: [selectorFromCidr("10.2.0.0/24")],
    udpEncapsulation: true,
    createdAt: Date.now(),
    ...(replaces ? { replaces } : {}),
  };
  const key = () => ({
    encryptionKey: new Uint8Array(36).fill(spiIn & 0xff),
    integrityKey: new Uint8Array(0),
  });
  return {
    realm: policy,
    record,
    suite,
    inbound: key(),
    outbound: key(),
    local: { address: "198.51.100.1", port: 4500 },
    remote: { address: "198.51.100.2", port: 4500 },
  };
}

/** An IPv4 header toward 10.2.0.9. */
const packet = new Uint8Array(20);
packet[0] = 0x45;
packet.set([10, 2, 0, 9], 16);

Deno.test("after a peer's rekey the new outbound SA takes over only when the old pair is deleted", async () => {
  const runtime = new RealmRuntime(policy, new MemoryDevice(), "10.1.0.1");
  const installer = new EspInstaller({
    crypto,
    realms: new Map([[policy.id, runtime]]),
    manageRoutes: false,
  });
  const old = child(0x1000, 0x2000);
  await installer.install(sa, old);
  assertEquals(runtime.sadb.lookupOutbound(packet)?.spi, 0x2000);

  const renewed = child(0x1001, 0x2001, old.record);
  await installer.install(sa, renewed);
  assertEquals(runtime.sadb.lookupInbound(0x1001)?.sa.spi, 0x1001, "new inbound at once");
  assertEquals(runtime.sadb.lookupOutbound(packet)?.spi, 0x2000, "still sending on the old SA");

  await installer.remove(sa, old.record);
  assertEquals(runtime.sadb.lookupOutbound(packet)?.spi, 0x2001, "the new SA carries traffic");
  assertEquals(runtime.sadb.lookupInbound(0x1000), undefined);
  await installer.remove(sa, renewed.record);
  assertEquals(runtime.sadb.lookupOutbound(packet), undefined);
});

Deno.test("our own rekey switches outbound at once (the peer installed the new pair first)", async () => {
  const runtime = new RealmRuntime(policy, new MemoryDevice(), "10.1.0.1");
  const installer = new EspInstaller({
    crypto,
    realms: new Map([[policy.id, runtime]]),
    manageRoutes: false,
  });
  const old = child(0x3000, 0x4000);
  await installer.install(sa, old);
  await installer.install(sa, child(0x3001, 0x4001));
  assertEquals(runtime.sadb.lookupOutbound(packet)?.spi, 0x4001);
  await installer.remove(sa, old.record);
  assertEquals(runtime.sadb.lookupOutbound(packet)?.spi, 0x4001);
});
