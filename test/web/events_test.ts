/**
 * What a bus client sees: VPN events in order, connect errors, log records at the requested
 * level (never `private`), periodic statistics, and status with the ESP counters of the SADB.
 */
import { assert, assertEquals } from "../_assert.ts";
import type { XmlElement } from "../../lib/config/mod.ts";
import { getLogLevel, Logger, setLogLevel } from "../../lib/log/mod.ts";
import { type BusClient, BusClientError } from "../../lib/cli/ctl_client.ts";
import { ipv4Packet } from "../esp/_helpers.ts";
import { GW2_ID, waitFor, type WebLab, withLab } from "./_fixture.ts";

function attr(element: XmlElement | undefined, name: string): string | undefined {
  return element?.attributes.get(name)?.value;
}

/** Reads until `count` records with one of `actions` arrived (other records are kept too). */
async function collect(bus: BusClient, predicate: (r: XmlElement) => boolean, count: number) {
  const records: XmlElement[] = [];
  const deadline = Date.now() + 10_000;
  while (records.filter(predicate).length < count) {
    if (Date.now() > deadline) {
      throw new Error(`only ${records.filter(predicate).length} of ${count} records arrived`);
    }
    records.push(...(await bus.read()).records);
  }
  return records;
}

const isVpnEvent = (r: XmlElement) => (attr(r, "action") ?? "").startsWith("vpn_");

Deno.test("connect and close produce vpn_added, vpn_established and vpn_deleted in order", async () => {
  await withLab({ bus: { statsIntervalMs: 0, readTimeoutMs: 2000 } }, async (lab) => {
    const watcher = lab.client();
    await watcher.open();
    const admin = lab.client();
    await admin.open();
    const connected = await admin.write("connect", { realm: "branch", wait: 10 });
    const ikeSa = attr(connected.records[0], "ike_sa")!;
    await admin.write("close", { realm: "branch", peer_id: GW2_ID });
    const records = (await collect(watcher, isVpnEvent, 3)).filter(isVpnEvent);
    assertEquals(records.map((r) => attr(r, "action")), [
      "vpn_added",
      "vpn_established",
      "vpn_deleted",
    ]);
    const seqs = records.map((r) => Number(attr(r, "seq")));
    assert(seqs[0]! < seqs[1]! && seqs[1]! < seqs[2]!, `seq ${seqs}`);
    for (const r of records) assertEquals(attr(r, "ike_sa"), ikeSa);
    const established = records[1]!.children[0]!;
    assertEquals(attr(established, "state"), "ESTABLISHED");
    assertEquals(attr(established, "peer_id"), GW2_ID);
    assertEquals(established.children.length, 1, "one child SA");
    assert((attr(records[2], "reason") ?? "").length > 0, "the engine's reason is passed on");
    assertEquals(attr(records[2], "was_established"), "yes");
  });
});

Deno.test("a failing connect is a connect_failed error and a vpn_connect_i_error event", async () => {
  await withLab(
    { gw2Psk: "a different key of more than twenty", bus: { statsIntervalMs: 0 } },
    async (lab) => {
      const watcher = lab.client();
      await watcher.open();
      const admin = lab.client();
      await admin.open();
      let error: BusClientError | undefined;
      try {
        await admin.write("connect", { realm: "branch", wait: 10 });
      } catch (e) {
        error = e as BusClientError;
      }
      assert(error instanceof BusClientError, String(error));
      assertEquals([error.status, error.code], [502, "connect_failed"]);
      assert(error.message.startsWith(`Cannot connect to ${GW2_ID}: IKE_SA #`), error.message);
      const records = await collect(watcher, isVpnEvent, 3);
      const actions = records.filter(isVpnEvent).map((r) => attr(r, "action"));
      assertEquals(actions, ["vpn_added", "vpn_connect_i_error", "vpn_deleted"]);
      const failure = records.find((r) => attr(r, "action") === "vpn_connect_i_error")!;
      assert((attr(failure, "reason") ?? "").length > 0, "a reason is given");
      assertEquals(
        attr(records.find((r) => attr(r, "action") === "vpn_deleted"), "was_established"),
        "no",
      );
    },
  );
});

Deno.test("log records follow event_log_control's level, replay history and never carry private records", async () => {
  const previousLevel = getLogLevel();
  await withLab({ bus: { statsIntervalMs: 0, readTimeoutMs: 300 } }, async (lab) => {
    const bus = lab.client();
    await bus.open();
    const log = new Logger("main", "test");
    log.info("before anyone listened");
    let control = await bus.write("event_log_control", { level: "warn" });
    assertEquals(attr(control.records[0], "appliance_level"), "info");
    log.info("an info line");
    log.warn("a warn line");
    let records = (await bus.read()).records;
    assertEquals(records.map((r) => attr(r, "message")), ["a warn line"]);
    assertEquals(attr(records[0], "level"), "warn");
    assertEquals(attr(records[0], "subsystem"), "main");
    assertEquals(attr(records[0], "tag"), "test");

    control = await bus.write("event_log_control", { level: "info", history: 50 });
    const replayed = Number(attr(control.records[0], "history"));
    records = (await bus.read()).records;
    assertEquals(records.length, replayed);
    const messages = records.map((r) => attr(r, "message"));
    assert(messages.includes("before anyone listened"), messages.join("|"));
    assert(messages.includes("an info line") && messages.includes("a warn line"));

    setLogLevel("private");
    await bus.write("event_log_control", { level: "trace" });
    log.private("key material 0011223344556677");
    log.trace("a trace line");
    setLogLevel(previousLevel);
    records = (await bus.read()).records;
    assertEquals(records.map((r) => attr(r, "message")), ["a trace line"]);

    await bus.write("event_log_control", { level: "off" });
    log.error("nobody hears this");
    assertEquals((await bus.read()).records.length, 0);
  }).finally(() => setLogLevel(previousLevel));
});

async function sendThrough(lab: WebLab, count: number, length: number) {
  const tun1 = lab.devices1.get("branch")!;
  const tun2 = lab.devices2.get("branch")!;
  for (let i = 0; i < count; i++) {
    tun1.inject(ipv4Packet(length, { src: "10.1.0.1", dst: "10.2.0.1", id: i }));
  }
  await waitFor(() => tun2.written.length >= count, `${count} packets at gw2`);
  for (let i = 0; i < count; i++) {
    tun2.inject(ipv4Packet(length, { src: "10.2.0.1", dst: "10.1.0.1", id: i }));
  }
  await waitFor(() => tun1.written.length >= count, `${count} packets at gw1`);
}

Deno.test("status_vpn shows ESP counters from the SADB; peers and statistics agree", async () => {
  await withLab({ bus: { statsIntervalMs: 0 } }, async (lab) => {
    const admin = lab.client();
    await admin.open();
    await admin.write("connect", { realm: "branch", wait: 10 });
    await sendThrough(lab, 10, 200);

    const status = await admin.write("status_vpn", { realm: "branch" });
    const vpn = status.records[0]!.children[0]!;
    const child = vpn.children[0]!;
    assertEquals(attr(child, "tx_packets"), "10");
    assertEquals(attr(child, "tx_bytes"), "2000");
    assertEquals(attr(child, "rx_packets"), "10");
    assertEquals(attr(child, "rx_bytes"), "2000");
    assertEquals(attr(child, "rx_dropped"), "0");
    assertEquals(attr(child, "local_ts"), "10.1.0.0/24");
    assertEquals(attr(child, "remote_ts"), "10.2.0.0/24");
    assertEquals(attr(child, "esp_suite"), "aes256gcm16");
    assertEquals(attr(vpn, "tx_bytes"), "2000", "VPN totals sum the child SAs");
    const sa = lab.gw1.engine.list()[0]!;
    assertEquals(attr(child, "spi_in"), sa.children[0]!.spiIn.toString(16).padStart(8, "0"));
    assertEquals(attr(vpn, "ike_sa"), String(sa.serial));
    assertEquals(attr(vpn, "rekey_in"), "14400");

    const esp = await admin.write("global_statistics_esp");
    const realm1 = esp.records[0]!.children.find((c) => attr(c, "id") === "1")!;
    const outbound = realm1.children.find((c) => c.name === "outbound")!;
    const inbound = realm1.children.find((c) => c.name === "inbound")!;
    assertEquals([attr(outbound, "rx_packets"), attr(outbound, "tx_packets")], ["10", "10"]);
    assertEquals([attr(inbound, "rx_packets"), attr(inbound, "tx_packets")], ["10", "10"]);
    assertEquals(attr(realm1, "child_sas"), "1");

    const ike = await admin.write("global_statistics_ikev2");
    const ikev2 = ike.records[0]!.children.find((c) => c.name === "ikev2")!;
    assertEquals(attr(ikev2, "established_sas"), "1");
    assertEquals(attr(ikev2, "established"), "1");

    const peers = await admin.write("status_vpn_peers");
    const peer = peers.records[0]!.children.find((c) => attr(c, "peer_id") === GW2_ID)!;
    assertEquals(attr(peer, "state"), "established");
    assertEquals(attr(peer, "ike_sa"), String(sa.serial));
  });
});

Deno.test("a listening session gets periodic statistics; statistics_control sets the interval", async () => {
  await withLab({ bus: { statsIntervalMs: 0, readTimeoutMs: 1500 } }, async (lab) => {
    const admin = lab.client();
    await admin.open();
    await admin.write("connect", { realm: "branch", wait: 10 });
    const control = await admin.write("statistics_control", { interval: 1 });
    assertEquals(attr(control.records[0], "interval"), "1");
    await sendThrough(lab, 4, 100);
    const started = Date.now();
    const records = await collect(admin, (r) => attr(r, "action") === "statistics", 2);
    const stats = records.filter((r) => attr(r, "action") === "statistics");
    assert(Date.now() - started < 3500, "two ticks within about two seconds");
    const last = stats.at(-1)!;
    assertEquals(attr(last, "interval"), "1");
    const vpn = last.children.find((c) => c.name === "vpn")!;
    assertEquals([attr(vpn, "tx_packets"), attr(vpn, "tx_bytes")], ["4", "400"]);
    assert(last.children.some((c) => c.name === "realm" && attr(c, "id") === "1"));
    assert(last.children.some((c) => c.name === "ikev2"));

    await admin.write("statistics_control", { interval: 0 });
    await admin.read().catch(() => undefined); // a tick may have been queued meanwhile
    const quiet = await admin.read();
    assertEquals(quiet.records.length, 0, "no statistics once off");
  });
});

Deno.test("global_statistics_esp and statistics carry the data-plane workers' counters", async () => {
  await withLab({ bus: { statsIntervalMs: 0, readTimeoutMs: 1500 } }, async (lab) => {
    // As a pool of two workers reports them (DataPlanePool.statistics).
    const workers = {
      workers: 2,
      workersRunning: 2,
      workersFailed: 0,
      workerCrashes: 1,
      workerRestarts: 1,
      dropUnknownSpi: 7,
      dropMalformed: 0,
      dropInvalid: 2,
    };
    Object.assign(lab.gw1, { dataPlaneStatistics: () => workers });
    const admin = lab.client();
    await admin.open();
    const esp = await admin.write("global_statistics_esp");
    const children = esp.records[0]!.children;
    const dataPlane = children.find((c) => c.name === "data_plane")!;
    assertEquals(children.at(-1), dataPlane, "after <total>");
    assertEquals(
      [
        attr(dataPlane, "workers_running"),
        attr(dataPlane, "worker_crashes"),
        attr(dataPlane, "worker_restarts"),
        attr(dataPlane, "drop_unknown_spi"),
        attr(dataPlane, "drop_invalid"),
      ],
      ["2", "1", "1", "7", "2"],
    );
    await admin.write("statistics_control", { interval: 1 });
    const records = await collect(admin, (r) => attr(r, "action") === "statistics", 1);
    const tick = records.find((r) => attr(r, "action") === "statistics")!;
    const live = tick.children.find((c) => c.name === "data_plane")!;
    assertEquals(attr(live, "drop_unknown_spi"), "7");
    await admin.write("statistics_control", { interval: 0 });
  });
});
