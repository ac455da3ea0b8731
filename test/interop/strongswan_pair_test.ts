/**
 * Self-test of the strongSwan harness: two charons in two namespaces build a PSK tunnel over
 * kernel-libipsec and carry ping and a checked TCP transfer between their inner addresses.
 */
import assert from "node:assert/strict";
import { requireRoot, withLab } from "../netns/harness.ts";
import { tcpTransfer } from "../netns/traffic.ts";
import { startCharonPair, StrongSwanPeer } from "./strongswan.ts";

const ARTIFACTS_DIR = new URL("../artifacts/", import.meta.url).pathname;

Deno.test({
  name: "two charons establish a PSK tunnel that carries ping and a checked TCP transfer",
  ignore: requireRoot(),
  fn: () =>
    withLab(async (lab) => {
      await lab.addNamespace("left");
      await lab.addNamespace("right");
      await lab.link("left", "198.51.100.1/24", "right", "198.51.100.2/24");
      const { left, right } = await startCharonPair(lab, {
        ikeProposals: "aes128gcm16-prfsha256-ecp256",
        espProposals: "aes128gcm16",
        artifactsDir: ARTIFACTS_DIR,
      });

      // Before the tunnel exists the inner addresses cannot reach each other.
      assert.deepStrictEqual(
        await lab.ping("left", "10.2.0.1", { from: "10.1.0.1", count: 1, wait: 1 }),
        0,
      );

      await left.initiate();
      const l = await left.waitEstablished();
      const r = await right.waitEstablished();
      assert.deepStrictEqual(l.state, "ESTABLISHED");
      assert.deepStrictEqual(r.state, "ESTABLISHED");
      assert.ok(l.initiator, "left initiated");
      assert.ok(!r.initiator, "right responded");
      assert.deepStrictEqual(l.initiatorSpi, r.initiatorSpi);
      assert.deepStrictEqual(l.responderSpi, r.responderSpi);
      assert.deepStrictEqual(l.initiatorSpi.length, 16);
      assert.deepStrictEqual(l.encrAlg, "AES_GCM_16");
      assert.deepStrictEqual(l.prfAlg, "PRF_HMAC_SHA2_256");
      assert.deepStrictEqual(l.dhGroup, "ECP_256");
      // kernel-libipsec fakes NAT detection: IKE moves to 4500 and ESP is UDP-encapsulated.
      assert.deepStrictEqual(l.localPort, 4500);
      assert.deepStrictEqual(l.remotePort, 4500);
      const lc = l.childSas[0];
      const rc = r.childSas[0];
      assert.ok(lc !== undefined && rc !== undefined, "both sides have a child SA");
      assert.deepStrictEqual(lc.state, "INSTALLED");
      assert.deepStrictEqual(rc.state, "INSTALLED");
      assert.deepStrictEqual(lc.protocol, "ESP");
      assert.deepStrictEqual(lc.mode, "TUNNEL");
      assert.ok(lc.encap, "ESP is UDP-encapsulated");
      assert.deepStrictEqual(lc.spiIn.length, 8);
      assert.deepStrictEqual(lc.spiIn, rc.spiOut);
      assert.deepStrictEqual(lc.spiOut, rc.spiIn);
      assert.deepStrictEqual(lc.localTs, ["10.1.0.0/24"]);
      assert.deepStrictEqual(lc.remoteTs, ["10.2.0.0/24"]);

      const before = await lab.interfaceCounters("left", "ipsec0");
      assert.deepStrictEqual(await lab.ping("left", "10.2.0.1", { from: "10.1.0.1", count: 3 }), 3);
      const after = await lab.interfaceCounters("left", "ipsec0");
      assert.ok(after.txPackets - before.txPackets >= 3, "echo requests left through ipsec0");
      assert.ok(after.rxPackets - before.rxPackets >= 3, "echo replies came back through ipsec0");
      const [lAfterPing] = await left.listSas();
      assert.ok(
        (lAfterPing?.childSas[0]?.packetsOut ?? 0) >= 3,
        "child SA counted the echo requests",
      );

      const transfer = await tcpTransfer(lab, {
        from: "left",
        to: "right",
        fromAddress: "10.1.0.1",
        toAddress: "10.2.0.1",
        megabytes: 5,
      });
      assert.deepStrictEqual(transfer.bytes, 5 * 1024 * 1024);
      assert.ok(transfer.sha256Match, "SHA-256 of the received stream matches the sent pattern");
      assert.deepStrictEqual(transfer.peerAddress, "10.1.0.1");
      const [lAfterTcp] = await left.listSas();
      assert.ok(
        (lAfterTcp?.childSas[0]?.bytesOut ?? 0) >= 5 * 1024 * 1024,
        "the transfer went through the child SA",
      );
      console.log(
        `strongSwan pair: 5 MiB in ${transfer.seconds.toFixed(2)} s (${
          transfer.mbps.toFixed(0)
        } Mbit/s)`,
      );
    }, { timeoutMs: 120_000 }),
});

Deno.test({
  name: "charon accepts the harness's optional settings and logs keys on request",
  ignore: requireRoot(),
  fn: () =>
    withLab(async (lab) => {
      await lab.addNamespace("left");
      await lab.addNamespace("right");
      await lab.link("left", "198.51.100.1/24", "right", "198.51.100.2/24");
      const common = {
        psk: 'another psk with "quotes" and spaces',
        ikeProposals: "aes256gcm16-prfsha384-x25519",
        espProposals: "aes256gcm16",
        ikeRekeyTime: "2h",
        childRekeyTime: "30m",
        childLifeTime: "40m",
        childRekeyBytes: 1_000_000_000,
        dpdDelay: "5s",
        dpdAction: "clear" as const,
        fragmentation: "yes" as const,
        mobike: false,
        logKeys: true,
        artifactsDir: ARTIFACTS_DIR,
      };
      const left = new StrongSwanPeer(lab, {
        ...common,
        namespace: "left",
        localAddress: "198.51.100.1",
        remoteAddress: "198.51.100.2",
        localId: "198.51.100.1",
        remoteId: "198.51.100.2",
        localTs: "10.1.0.0/24",
        remoteTs: "10.2.0.0/24",
        innerAddress: "10.1.0.1",
        startAction: "start",
      });
      const right = new StrongSwanPeer(lab, {
        ...common,
        namespace: "right",
        localAddress: "198.51.100.2",
        remoteAddress: "%any",
        localId: "198.51.100.2",
        remoteId: "%any",
        localTs: "10.2.0.0/24",
        remoteTs: "10.1.0.0/24",
        innerAddress: "10.2.0.1",
      });
      await Promise.all([left.start(), right.start()]);
      await right.loadConfig();
      await left.loadConfig(); // start_action = start: loading initiates
      const conns = (await left.swanctl(["--list-conns"])).stdout;
      assert.match(conns, /rekeying every 7200s, dpd delay 5s/);
      assert.match(conns, /TUNNEL, rekeying every 1800s or 1000000000 bytes, dpd action is none/);

      const l = await left.waitEstablished();
      assert.equal(l.encrAlg, "AES_GCM_16");
      assert.equal(l.dhGroup, "CURVE_25519");
      assert.equal(l.remoteId, "198.51.100.2");
      assert.equal(await lab.ping("left", "10.2.0.1", { from: "10.1.0.1", count: 2 }), 2);

      // Both ends log the same keys: SK_ei is AES-256 key + 4-byte salt (RFC 5282 §7.1).
      for (
        const label of [
          "Sk_ei secret",
          "Sk_er secret",
          "encryption initiator key",
          "encryption responder key",
        ]
      ) {
        const [mine] = await left.loggedKeys(label);
        const [theirs] = await right.loggedKeys(label);
        assert.ok(mine !== undefined && theirs !== undefined, `both logs contain ${label}`);
        assert.equal(mine.length, 36);
        assert.deepEqual(mine, theirs);
      }
    }, { timeoutMs: 120_000 }),
});
