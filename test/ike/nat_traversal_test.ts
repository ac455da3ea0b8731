/**
 * NAT detection and `nat_t` (RFC 7296 §2.23) with two engines back to back: honest hashes and
 * raw ESP under "auto" without a NAT (also when bound to a wildcard address), UDP 4500 under
 * "force" and behind a NAT, and the refusals of "no".
 */
import { assert, assertEquals } from "../_assert.ts";
import { LocalAuthService } from "../../lib/auth/mod.ts";
import { NotifyType, PayloadType } from "../../lib/ike/constants.ts";
import { IkeEngine, type IkeTransport } from "../../lib/ike/engine.ts";
import { IkeSaState } from "../../lib/ike/ike_sa.ts";
import type { IkeSa } from "../../lib/ike/ike_sa.ts";
import { decodeMessage, type NotifyPayload } from "../../lib/ike/payloads/mod.ts";
import type { NatTraversalMode, RealmPolicy } from "../../lib/ike/realm_policy.ts";
import {
  natDetectionHash,
  natTraversalRefusal,
  responderForcesEncapsulation,
} from "../../lib/ike/tasks/ike_natd.ts";
import { setLogSinks } from "../../lib/log/mod.ts";
import type { Endpoint } from "../../lib/net/datagram.ts";
import { toHex } from "../../lib/wire/mod.ts";
import {
  authConfig,
  closeAll,
  crypto,
  gatewayPair,
  nextEvent,
  realm,
  RecordingInstaller,
  type Side,
} from "./_engine_fixture.ts";

const A = "198.51.100.1";
const B = "198.51.100.2";
const PSK = "a-long-enough-test-psk-0123456789";

/** Captures log lines during `fn` (and keeps them out of the test output). */
async function withLogs<T>(fn: (lines: string[]) => Promise<T>): Promise<T> {
  const lines: string[] = [];
  const prev = setLogSinks([(_r, line) => lines.push(line)]);
  try {
    return await fn(lines);
  } finally {
    setLogSinks(prev);
  }
}

/** The NAT-D notifies of an IKE message (datagram without non-ESP marker). */
function natNotifies(bytes: Uint8Array): { source: string[]; destination: string[] } {
  const { payloads } = decodeMessage(bytes);
  const notifies = payloads.filter((p): p is NotifyPayload => p.type === PayloadType.Notify);
  const of = (type: number) =>
    notifies.filter((n) => n.notifyType === type).map((n) => toHex(n.data));
  return {
    source: of(NotifyType.NatDetectionSourceIp),
    destination: of(NotifyType.NatDetectionDestinationIp),
  };
}

function realmA(natT: NatTraversalMode): RealmPolicy {
  return realm({
    local: ["10.1.0.0/24"],
    remote: ["10.2.0.0/24"],
    localId: "fqdn:a.example.com",
    peers: [{ id: "fqdn:b.example.com", address: B }],
    natT,
  });
}

function realmB(natT: NatTraversalMode, peerAddress?: string): RealmPolicy {
  return realm({
    local: ["10.2.0.0/24"],
    remote: ["10.1.0.0/24"],
    localId: "fqdn:b.example.com",
    peers: [{ id: "fqdn:a.example.com", ...(peerAddress ? { address: peerAddress } : {}) }],
    natT,
  });
}

/** One side with full control over its binding and transport. */
function engineSide(options: {
  address: string;
  realms: RealmPolicy[];
  localId: string;
  peerId: string;
  transport: IkeTransport;
  localAddress?: string;
  localAddresses?: string[];
  localAddressFor?: (remote: Endpoint) => string | undefined;
}): Side {
  const installer = new RecordingInstaller();
  const engine = new IkeEngine({
    crypto,
    auth: LocalAuthService.withoutCertificates(
      authConfig(1, options.localId, { [options.peerId]: PSK }),
      crypto,
    ),
    realms: options.realms,
    childSas: installer,
    transport: options.transport,
    localAddress: options.localAddress ?? options.address,
    localAddresses: () => options.localAddresses ?? [options.address],
    ...(options.localAddressFor ? { localAddressFor: options.localAddressFor } : {}),
    retransmit: { initialTimeoutMs: 200, factor: 1.5, retries: 4 },
    halfOpenTimeoutMs: 5000,
  });
  return { engine, installer, address: options.address };
}

/**
 * Two engines on a wire; `natA` puts A behind a NAT that maps its ports 500/4500 to
 * 203.0.113.10:40500/44500. `sent` records every datagram (IKE bytes, sender, receiver).
 */
function wirePair(options: {
  natTA: NatTraversalMode;
  natTB: NatTraversalMode;
  natA?: boolean;
  bindA?: string;
  bindB?: string;
  localAddressesB?: string[];
  localAddressFor?: (remote: Endpoint) => string | undefined;
  peerAddressInB?: string;
}) {
  const publicA = "203.0.113.10";
  const toPublic = (port: number) => (port === 500 ? 40500 : 44500);
  const fromPublic = (port: number) => (port === 40500 ? 500 : 4500);
  const sent: { bytes: Uint8Array; from: Endpoint; to: Endpoint }[] = [];
  const pending = new Set<Promise<void>>();
  const holder: { a?: Side; b?: Side } = {};
  const deliver = (engine: IkeEngine, bytes: Uint8Array, from: Endpoint, localPort: number) => {
    const copy = bytes.slice();
    const p = Promise.resolve().then(() => engine.handleDatagram(copy, from, localPort));
    pending.add(p);
    p.finally(() => pending.delete(p));
  };
  const a = engineSide({
    address: A,
    ...(options.bindA ? { localAddress: options.bindA } : {}),
    ...(options.localAddressFor ? { localAddressFor: options.localAddressFor } : {}),
    realms: [realmA(options.natTA)],
    localId: "fqdn:a.example.com",
    peerId: "fqdn:b.example.com",
    transport: {
      send: (bytes, to, localPort) => {
        sent.push({ bytes, from: { address: A, port: localPort }, to });
        const from = options.natA
          ? { address: publicA, port: toPublic(localPort) }
          : { address: A, port: localPort };
        if (to.address === B) deliver(holder.b!.engine, bytes, from, to.port);
      },
    },
  });
  const b = engineSide({
    address: B,
    ...(options.bindB ? { localAddress: options.bindB } : {}),
    ...(options.localAddressesB ? { localAddresses: options.localAddressesB } : {}),
    realms: [realmB(options.natTB, options.peerAddressInB)],
    localId: "fqdn:b.example.com",
    peerId: "fqdn:a.example.com",
    transport: {
      send: (bytes, to, localPort) => {
        sent.push({ bytes, from: { address: B, port: localPort }, to });
        const from = { address: B, port: localPort };
        if (options.natA && to.address === publicA) {
          deliver(holder.a!.engine, bytes, from, fromPublic(to.port));
        } else if (!options.natA && to.address === A) {
          deliver(holder.a!.engine, bytes, from, to.port);
        }
      },
    },
  });
  holder.a = a;
  holder.b = b;
  return { a, b, sent };
}

async function establish(a: Side, b: Side): Promise<{ sa: IkeSa; responder: IkeSa }> {
  const establishedB = nextEvent(b.engine, "established");
  const sa = a.engine.initiate(1);
  await nextEvent(a.engine, "established");
  return { sa, responder: await establishedB };
}

Deno.test("auto without a NAT: honest NAT-D hashes, raw ESP, IKE stays on port 500", () =>
  withLogs(async () => {
    const { a, b, sent } = wirePair({ natTA: "auto", natTB: "auto" });
    const { sa, responder } = await establish(a, b);
    const request = sent[0]!;
    const notifies = natNotifies(request.bytes);
    const spiI = sa.spiI;
    assertEquals(notifies.source, [toHex(natDetectionHash(spiI, new Uint8Array(8), A, 500))]);
    assertEquals(notifies.destination, [toHex(natDetectionHash(spiI, new Uint8Array(8), B, 500))]);
    const response = natNotifies(sent[1]!.bytes);
    assertEquals(response.source, [toHex(natDetectionHash(spiI, sa.spiR, B, 500))]);
    for (const s of [sa, responder]) {
      assertEquals([s.natLocal, s.natRemote, s.udpEncapsulation], [false, false, false]);
      assertEquals([s.local.port, s.remote.port], [500, 500]);
    }
    const [childA] = a.installer.installed;
    const [childB] = b.installer.installed;
    assert(childA && childB, "both sides installed a child SA");
    assertEquals(childA.record.udpEncapsulation, false);
    assertEquals(childB.record.udpEncapsulation, false);
    assertEquals(childA.remote.address, B);
    assertEquals(childB.remote.address, A);
    assert(sent.every((d) => d.to.port === 500), "no IKE message went to port 4500");
    await closeAll(a, b);
  }));

Deno.test("force: a random source hash makes both ends encapsulate and move to 4500", () =>
  withLogs(async () => {
    const { a, b, sent } = wirePair({ natTA: "force", natTB: "auto" });
    const { sa, responder } = await establish(a, b);
    const notifies = natNotifies(sent[0]!.bytes);
    assert(
      notifies.source[0] !== toHex(natDetectionHash(sa.spiI, new Uint8Array(8), A, 500)),
      "the forced source hash is not the honest one",
    );
    assertEquals([sa.natRemote, sa.udpEncapsulation], [false, true]);
    assertEquals([responder.natRemote, responder.udpEncapsulation], [true, true]);
    assertEquals(a.installer.installed[0]!.record.udpEncapsulation, true);
    assertEquals(b.installer.installed[0]!.record.udpEncapsulation, true);
    assertEquals(a.installer.installed[0]!.remote.port, 4500);
    assertEquals([sa.local.port, sa.remote.port], [4500, 4500]);
    await closeAll(a, b);
  }));

Deno.test("a responder forces encapsulation when the realm listing the peer's address forces", () =>
  withLogs(async () => {
    const { a, b } = wirePair({ natTA: "auto", natTB: "force", peerAddressInB: A });
    const { sa, responder } = await establish(a, b);
    assertEquals([sa.natRemote, sa.udpEncapsulation], [true, true], "A sees B's random hash");
    assertEquals(responder.udpEncapsulation, true);
    assertEquals(b.installer.installed[0]!.record.udpEncapsulation, true);
    await closeAll(a, b);
  }));

Deno.test("bound to 0.0.0.0: the responder finds its address by the peer's destination hash", () =>
  withLogs(async () => {
    const { a, b, sent } = wirePair({
      natTA: "auto",
      natTB: "auto",
      bindB: "0.0.0.0",
      localAddressesB: ["10.9.9.9", "fe80::1", B],
    });
    const { sa, responder } = await establish(a, b);
    assertEquals(responder.local.address, B, "the matching address became the SA's own");
    const response = natNotifies(sent[1]!.bytes);
    assertEquals(response.source, [toHex(natDetectionHash(sa.spiI, sa.spiR, B, 500))]);
    assertEquals([sa.udpEncapsulation, responder.udpEncapsulation], [false, false]);
    assertEquals(b.installer.installed[0]!.record.udpEncapsulation, false);
    await closeAll(a, b);
  }));

Deno.test("bound to 0.0.0.0: the initiator asks localAddressFor before IKE_SA_INIT", () =>
  withLogs(async () => {
    const asked: Endpoint[] = [];
    const { a, b, sent } = wirePair({
      natTA: "auto",
      natTB: "auto",
      bindA: "0.0.0.0",
      localAddressFor: (remote) => {
        asked.push(remote);
        return A;
      },
    });
    const { sa } = await establish(a, b);
    assertEquals(asked, [{ address: B, port: 500 }]);
    assertEquals(sa.local.address, A);
    const notifies = natNotifies(sent[0]!.bytes);
    assertEquals(notifies.source, [toHex(natDetectionHash(sa.spiI, new Uint8Array(8), A, 500))]);
    assertEquals(sa.udpEncapsulation, false);
    assertEquals(a.installer.installed[0]!.record.udpEncapsulation, false);
    await closeAll(a, b);
  }));

Deno.test("bound to 0.0.0.0 without a source address: both ends agree on UDP encapsulation", () =>
  withLogs(async () => {
    const { a, b } = wirePair({
      natTA: "auto",
      natTB: "auto",
      bindA: "0.0.0.0",
      localAddressFor: () => undefined,
    });
    const { sa, responder } = await establish(a, b);
    // A could not make its source hash honest: B sees a NAT, and A knows that B does.
    assertEquals([sa.natLocal, sa.natRemote], [false, false]);
    assertEquals(responder.natRemote, true);
    assertEquals([sa.udpEncapsulation, responder.udpEncapsulation], [true, true]);
    assertEquals(sa.local.address, A, "learned from B's destination hash");
    assertEquals(a.installer.installed[0]!.record.udpEncapsulation, true);
    assertEquals(b.installer.installed[0]!.record.udpEncapsulation, true);
    await closeAll(a, b);
  }));

Deno.test("auto behind a NAT: detected on both sides, IKE moves to 4500, ESP in UDP", () =>
  withLogs(async () => {
    const { a, b, sent } = wirePair({ natTA: "auto", natTB: "auto", natA: true });
    const { sa, responder } = await establish(a, b);
    assertEquals([sa.natLocal, sa.natRemote], [true, false]);
    assertEquals([responder.natLocal, responder.natRemote], [false, true]);
    assertEquals([sa.udpEncapsulation, responder.udpEncapsulation], [true, true]);
    assertEquals(responder.remote, { address: "203.0.113.10", port: 44500 });
    assert(sent.slice(2).every((d) => d.from.port === 4500), "IKE_AUTH and later on 4500");
    assertEquals(a.installer.installed[0]!.record.udpEncapsulation, true);
    assertEquals(b.installer.installed[0]!.record.udpEncapsulation, true);
    assertEquals(b.installer.installed[0]!.remote, { address: "203.0.113.10", port: 44500 });
    await closeAll(a, b);
  }));

Deno.test("nat_t=no on an initiator behind a NAT fails the IKE SA with a clear log", () =>
  withLogs(async (lines) => {
    const { a, b } = wirePair({ natTA: "no", natTB: "auto", natA: true });
    const destroyed = nextEvent(a.engine, "destroyed");
    a.engine.initiate(1);
    const sa = await destroyed;
    assertEquals(sa.state, IkeSaState.Destroyed);
    assert(
      lines.some((l) =>
        l.includes(`NAT detected toward ${B} (we are behind a NAT)`) &&
        l.includes('realm test has nat_t="no"')
      ),
      lines.join("\n"),
    );
    assertEquals(a.installer.installed.length, 0);
    await closeAll(a, b);
  }));

Deno.test("nat_t=no on a responder refuses the child SA of a peer behind a NAT", () =>
  withLogs(async (lines) => {
    const { a, b } = wirePair({ natTA: "auto", natTB: "no", natA: true });
    const { sa, responder } = await establish(a, b);
    assertEquals(sa.state, IkeSaState.Established, "the IKE SA stays up");
    assertEquals(responder.udpEncapsulation, true);
    assertEquals(a.installer.installed.length, 0);
    assertEquals(b.installer.installed.length, 0);
    assert(
      lines.some((l) =>
        l.includes("CHILD_SA for fqdn:a.example.com refused: the peer is behind a NAT") &&
        l.includes('realm test has nat_t="no"')
      ),
      lines.join("\n"),
    );
    assert(lines.some((l) => l.includes("NO_PROPOSAL_CHOSEN")), "A logs the refusal");
    await closeAll(a, b);
  }));

Deno.test("nat_t=no between two peers without a NAT runs raw ESP", () =>
  withLogs(async () => {
    const { a, b } = wirePair({ natTA: "no", natTB: "no" });
    const { sa, responder } = await establish(a, b);
    assertEquals([sa.udpEncapsulation, responder.udpEncapsulation], [false, false]);
    assertEquals(a.installer.installed[0]!.record.udpEncapsulation, false);
    assertEquals(b.installer.installed[0]!.record.udpEncapsulation, false);
    await closeAll(a, b);
  }));

Deno.test("the default gateway pair (force) still runs ESP in UDP 4500", () =>
  withLogs(async () => {
    const { a, b } = gatewayPair();
    await establish(a, b);
    assertEquals(a.installer.installed[0]!.record.udpEncapsulation, true);
    await closeAll(a, b);
  }));

Deno.test("responderForcesEncapsulation looks at the realms listing the peer, else all", () => {
  const listing = realmB("auto", A);
  const other = { ...realmB("force"), id: 2, name: "other" };
  assertEquals(responderForcesEncapsulation([listing, other], A), false);
  assertEquals(responderForcesEncapsulation([listing, other], "203.0.113.7"), true);
  assertEquals(responderForcesEncapsulation([{ ...listing, natT: "force" }, other], A), true);
  assertEquals(responderForcesEncapsulation([listing], "203.0.113.7"), false);
  assertEquals(responderForcesEncapsulation([], A), false);
});

Deno.test("natTraversalRefusal names the realm whose nat_t the outcome breaks", () => {
  const sa = (natT: NatTraversalMode, udpEncapsulation: boolean) =>
    ({
      realm: realmB(natT),
      udpEncapsulation,
      natLocal: false,
      natRemote: udpEncapsulation,
    }) as unknown as IkeSa;
  assertEquals(natTraversalRefusal(sa("auto", true)), undefined);
  assertEquals(natTraversalRefusal(sa("auto", false)), undefined);
  assertEquals(natTraversalRefusal(sa("force", true)), undefined);
  assertEquals(natTraversalRefusal(sa("no", false)), undefined);
  assert(natTraversalRefusal(sa("no", true))!.includes('realm test has nat_t="no"'));
  assert(
    natTraversalRefusal(sa("force", false))!.startsWith(
      'realm test has nat_t="force", but IKE_SA_INIT settled on raw ESP',
    ),
  );
});
