/**
 * IKE fragmentation (RFC 7383) between two in-memory engines with a small fragment size, so
 * that IKE_AUTH (and later exchanges) go in SKF fragments; plus the reassembler's limits.
 */
import { assert, assertEquals } from "../_assert.ts";
import { getLogLevel, setLogLevel, setLogSinks } from "../../lib/log/mod.ts";
import {
  EncrId,
  ExchangeType,
  HeaderFlag,
  IntegId,
  NotifyType,
  PayloadType,
} from "../../lib/ike/constants.ts";
import { IkeSaState } from "../../lib/ike/ike_sa.ts";
import type { RealmPolicy } from "../../lib/ike/realm_policy.ts";
import { decodeMessage, encodePayloadChain } from "../../lib/ike/payloads/mod.ts";
import type {
  IkeHeader,
  NotifyPayload,
  OpaquePayload,
  Payload,
} from "../../lib/ike/payloads/types.ts";
import { encryptionInfo, integrityInfo } from "../../lib/ike/algorithms.ts";
import { MessageProtection } from "../../lib/ike/protection.ts";
import {
  FragmentReassembler,
  type FragmentReassemblerOptions,
  ikeMessageBudget,
  MAX_FRAGMENTS,
  MAX_REASSEMBLED_BYTES,
  sealMessage,
} from "../../lib/ike/fragmentation.ts";
import type { Endpoint } from "../../lib/net/datagram.ts";
import {
  authConfig,
  closeAll,
  crypto,
  nextEvent,
  realm,
  type Side,
  side,
  Wire,
} from "./_engine_fixture.ts";

const A = "198.51.100.1";
const B = "198.51.100.2";
const PSK = "a-long-enough-test-psk-0123456789";
/** Small enough that every IKE_AUTH message goes in fragments. */
const SMALL = 200;

/** Captures log lines during `fn` (and keeps them out of the test output). */
async function withLogs<T>(fn: (lines: string[]) => Promise<T>): Promise<T> {
  const lines: string[] = [];
  const prev = setLogSinks([(_r, line) => lines.push(line)]);
  const level = getLogLevel();
  setLogLevel("debug");
  try {
    return await fn(lines);
  } finally {
    setLogSinks(prev);
    setLogLevel(level);
  }
}

interface PairOptions {
  fragmentationA?: boolean;
  fragmentationB?: boolean;
  fragmentSize?: number;
  ike?: string;
  esp?: string;
  retransmitMs?: number;
}

function pair(options: PairOptions = {}): { wire: Wire; a: Side; b: Side } {
  const wire = new Wire();
  const common = (fragmentation: boolean | undefined): Partial<RealmPolicy> => ({
    fragmentSize: options.fragmentSize ?? SMALL,
    ...(fragmentation === undefined ? {} : { fragmentation }),
  });
  const suites = {
    ...(options.ike ? { ikeSuites: [options.ike] } : {}),
    ...(options.esp ? { espSuites: [options.esp] } : {}),
  };
  const lifecycle = options.retransmitMs === undefined
    ? {}
    : { retransmit: { initialTimeoutMs: options.retransmitMs, factor: 1.5, retries: 4 } };
  const a = side(
    wire,
    A,
    [{
      ...realm({
        ...suites,
        local: ["10.1.0.0/24"],
        remote: ["10.2.0.0/24"],
        localId: "fqdn:a.example.com",
        peers: [{ id: "fqdn:b.example.com", address: B }],
        lifecycle,
      }),
      ...common(options.fragmentationA),
    }],
    authConfig(1, "fqdn:a.example.com", { "fqdn:b.example.com": PSK }),
    options.retransmitMs === undefined ? {} : { retransmitMs: options.retransmitMs },
  );
  const b = side(
    wire,
    B,
    [{
      ...realm({
        ...suites,
        local: ["10.2.0.0/24"],
        remote: ["10.1.0.0/24"],
        localId: "fqdn:b.example.com",
        peers: [{ id: "fqdn:a.example.com" }],
        lifecycle,
      }),
      ...common(options.fragmentationB),
    }],
    authConfig(1, "fqdn:b.example.com", { "fqdn:a.example.com": PSK }),
    options.retransmitMs === undefined ? {} : { retransmitMs: options.retransmitMs },
  );
  return { wire, a, b };
}

/** One datagram as the wire saw it. */
interface Seen {
  bytes: Uint8Array;
  from: Endpoint;
  to: Endpoint;
  exchangeType: number;
  messageId: number;
  response: boolean;
  /** [number, total] for an SKF message. */
  fragment: [number, number] | undefined;
}

function inspect(bytes: Uint8Array, from: Endpoint, to: Endpoint): Seen {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const skf = bytes[16] === PayloadType.EncryptedFragment;
  return {
    bytes: bytes.slice(),
    from,
    to,
    exchangeType: bytes[18]!,
    messageId: view.getUint32(20),
    response: (bytes[19]! & HeaderFlag.Response) !== 0,
    fragment: skf ? [view.getUint16(32), view.getUint16(34)] : undefined,
  };
}

/** Records every datagram; `hold` decides which ones are kept back instead of delivered. */
function record(wire: Wire, hold: (d: Seen) => boolean = () => false): {
  seen: Seen[];
  held: Seen[];
} {
  const seen: Seen[] = [];
  const held: Seen[] = [];
  wire.drop = (bytes, from, to) => {
    const d = inspect(bytes, from, to);
    seen.push(d);
    if (!hold(d)) return false;
    held.push(d);
    return true;
  };
  return { seen, held };
}

function deliver(wire: Wire, d: Seen, bytes: Uint8Array = d.bytes): Promise<void> {
  return wire.engines.get(d.to.address)!.handleDatagram(bytes.slice(), d.from, d.to.port);
}

function isAuthRequestFragment(d: Seen): boolean {
  return d.exchangeType === ExchangeType.IkeAuth && !d.response && d.fragment !== undefined;
}

function fragmentationNotify(d: Seen): boolean {
  const { payloads } = decodeMessage(d.bytes);
  return payloads.some((p) =>
    p.type === PayloadType.Notify &&
    (p as NotifyPayload).notifyType === NotifyType.IkeFragmentationSupported
  );
}

for (
  const [ike, esp] of [
    ["aes256gcm16-prfsha384-x25519", "aes256gcm16"],
    ["aes256-sha256-modp2048", "aes256-sha256"],
  ]
) {
  Deno.test(`establishes with IKE_AUTH in fragments both ways (${ike})`, () =>
    withLogs(async (lines) => {
      const { wire, a, b } = pair({ ike: ike!, esp: esp! });
      const { seen } = record(wire);
      const establishedB = nextEvent(b.engine, "established");
      const sa = a.engine.initiate(1);
      await nextEvent(a.engine, "established");
      const responder = await establishedB;
      assert(sa.fragmentation && responder.fragmentation, "both SAs agreed on fragmentation");
      assertEquals(sa.state, IkeSaState.Established);
      assertEquals(a.installer.installed.length, 1);
      assertEquals(b.installer.installed.length, 1);

      const init = seen.filter((d) => d.exchangeType === ExchangeType.IkeSaInit);
      assertEquals(init.length, 2);
      assert(init.every(fragmentationNotify), "IKE_SA_INIT request and response offer it");
      assert(init.every((d) => d.fragment === undefined), "IKE_SA_INIT is never fragmented");

      const auth = seen.filter((d) => d.exchangeType === ExchangeType.IkeAuth);
      const request = auth.filter((d) => !d.response);
      const response = auth.filter((d) => d.response);
      assert(request.length >= 2 && response.length >= 2, "both directions in fragments");
      for (const part of [request, response]) {
        const total = part.length;
        assertEquals(
          part.map((d) => d.fragment),
          part.map((_, i): [number, number] => [i + 1, total]),
        );
        assert(part.every((d) => d.messageId === 1), "every fragment has message ID 1");
      }
      // On port 4500: the IP datagram (20 + 8 + 4-byte marker + IKE) fits in SMALL.
      for (const d of auth) {
        assertEquals(d.to.port, 4500);
        assert(d.bytes.length + 32 <= SMALL, `${d.bytes.length}-byte fragment too large`);
      }
      // Next Payload of SKF: the first inner type in fragment 1, 0 in the others.
      assertEquals(request[0]!.bytes[28], PayloadType.IdInitiator);
      assert(request.slice(1).every((d) => d.bytes[28] === PayloadType.None));

      assertEquals(a.engine.counters.get("txFragments"), request.length);
      assertEquals(b.engine.counters.get("txFragments"), response.length);
      assertEquals(b.engine.counters.get("rxReassembled"), 1);
      assertEquals(a.engine.counters.get("rxReassembled"), 1);
      assert(lines.some((l) => /sending IKE_AUTH request 1 .* in \d+ fragments/.test(l)));
      assert(lines.some((l) => /reassembled IKE_AUTH request 1 from \d+ fragments/.test(l)));
      await closeAll(a, b);
    }));
}

Deno.test("reassembles fragments that arrive reordered and duplicated", () =>
  withLogs(async () => {
    const { wire, a, b } = pair({ retransmitMs: 5_000 });
    const { held } = record(wire, isAuthRequestFragment);
    const established = nextEvent(a.engine, "established");
    a.engine.initiate(1);
    while (held.length === 0 || held.length < held[0]!.fragment![1]) {
      await new Promise((r) => setTimeout(r, 5));
    }
    wire.drop = () => false;
    const total = held.length;
    assert(total >= 2, `IKE_AUTH request in ${total} fragments`);
    // Last fragment first and twice, then the others backwards, then the last one once more
    // (after completion: a fragment other than 1 of an answered request is ignored).
    const [last, ...others] = [...held].reverse();
    for (const d of [last!, last!, ...others, last!]) await deliver(wire, d);
    await established;
    assertEquals(b.engine.counters.get("rxFragments"), total + 2);
    assertEquals(b.engine.counters.get("rxFragmentsDropped"), 2, "both duplicates dropped");
    assertEquals(b.engine.counters.get("rxReassembled"), 1);
    assertEquals(b.installer.installed.length, 1);
    await closeAll(a, b);
  }));

Deno.test("a lost fragment is made good by the retransmission of all fragments", () =>
  withLogs(async () => {
    const { wire, a, b } = pair({ retransmitMs: 100 });
    let lost = 0;
    const { seen } = record(wire, (d) => {
      // The first transmission's fragment 2 of the IKE_AUTH request is lost.
      if (!isAuthRequestFragment(d) || d.fragment![0] !== 2 || lost > 0) return false;
      lost++;
      return true;
    });
    a.engine.initiate(1);
    await nextEvent(a.engine, "established");
    assertEquals(lost, 1);
    const requests = seen.filter(isAuthRequestFragment);
    const total = requests[0]!.fragment![1];
    assertEquals(requests.length, 2 * total, "the retransmission repeats every fragment");
    // The retransmission's other fragments were duplicates of stored ones.
    assertEquals(b.engine.counters.get("rxFragmentsDropped"), total - 1);
    assertEquals(b.engine.counters.get("rxReassembled"), 1);
    assertEquals(b.installer.installed.length, 1);
    await closeAll(a, b);
  }));

Deno.test("drops a forged fragment, counts it, and still completes", () =>
  withLogs(async () => {
    const { wire, a, b } = pair({ retransmitMs: 5_000 });
    const { held } = record(wire, isAuthRequestFragment);
    const established = nextEvent(a.engine, "established");
    a.engine.initiate(1);
    while (held.length === 0 || held.length < held[0]!.fragment![1]) {
      await new Promise((r) => setTimeout(r, 5));
    }
    wire.drop = () => false;
    const forged = held[0]!.bytes.slice();
    forged[forged.length - 20] = forged[forged.length - 20]! ^ 0x01; // inside the ciphertext
    await deliver(wire, held[0]!, forged);
    assertEquals(b.engine.counters.get("rxFragmentsForged"), 1);
    for (const d of held) await deliver(wire, d);
    await established;
    assertEquals(b.engine.counters.get("rxFragmentsForged"), 1);
    assertEquals(b.engine.counters.get("rxReassembled"), 1);
    assertEquals(b.installer.installed.length, 1);
    await closeAll(a, b);
  }));

Deno.test("fragment 1 of an answered request repeats the whole response; others are ignored", () =>
  withLogs(async () => {
    const { wire, a, b } = pair({ retransmitMs: 5_000 });
    const { seen } = record(wire);
    a.engine.initiate(1);
    await nextEvent(a.engine, "established");
    const request = seen.filter(isAuthRequestFragment);
    const responses = () =>
      seen.filter((d) => d.exchangeType === ExchangeType.IkeAuth && d.response).length;
    const before = responses();
    assert(before >= 2, "the response went in fragments");
    await deliver(wire, request[1]!);
    assertEquals(responses(), before, "fragment 2 of an answered request is ignored");
    await deliver(wire, request[0]!);
    await Promise.all(wire.pending);
    assertEquals(responses(), 2 * before, "fragment 1 repeats every response fragment");
    assertEquals(b.installer.installed.length, 1, "no second child SA");
    await closeAll(a, b);
  }));

for (const [noSide, other] of [["initiator", "responder"], ["responder", "initiator"]]) {
  Deno.test(`does not fragment when the ${noSide} says fragmentation="no"`, () =>
    withLogs(async () => {
      const { wire, a, b } = pair(
        noSide === "initiator" ? { fragmentationA: false } : { fragmentationB: false },
      );
      const { seen } = record(wire);
      const establishedB = nextEvent(b.engine, "established");
      const sa = a.engine.initiate(1);
      await nextEvent(a.engine, "established");
      const responder = await establishedB;
      assert(!sa.fragmentation && !responder.fragmentation, "not negotiated");
      const [request, response] = seen.filter((d) => d.exchangeType === ExchangeType.IkeSaInit);
      const offered = noSide === "initiator" ? request! : response!;
      assert(!fragmentationNotify(offered), `the ${noSide} does not offer it`);
      if (noSide === "responder") {
        assert(fragmentationNotify(request!), `the ${other} still offers it`);
      }
      const auth = seen.filter((d) => d.exchangeType === ExchangeType.IkeAuth);
      assertEquals(auth.length, 2, "one IKE_AUTH request and one response");
      assert(auth.every((d) => d.fragment === undefined && d.bytes.length + 32 > SMALL));
      assertEquals(a.engine.counters.get("txFragments"), 0);
      assertEquals(b.engine.counters.get("txFragments"), 0);
      await closeAll(a, b);
    }));
}

Deno.test("drops fragments when fragmentation was not negotiated", () =>
  withLogs(async () => {
    const { wire, a, b } = pair({ fragmentationB: false });
    const { seen } = record(wire);
    const sa = a.engine.initiate(1);
    await nextEvent(a.engine, "established");
    const sent = seen.length;
    // A's keys, an INFORMATIONAL request split into fragments anyway.
    const fragments = sealMessage(
      sa.protection!,
      {
        initiatorSpi: sa.spiI,
        responderSpi: sa.spiR,
        majorVersion: 2,
        minorVersion: 0,
        exchangeType: ExchangeType.Informational,
        flags: HeaderFlag.Initiator,
        messageId: 2,
      },
      [notify(NotifyType.InitialContact, 40)],
      100,
    );
    assert(fragments.length >= 2);
    for (const bytes of fragments) await b.engine.handleDatagram(bytes, sa.local, 4500);
    assertEquals(b.engine.counters.get("rxFragments"), fragments.length);
    assertEquals(b.engine.counters.get("rxFragmentsDropped"), fragments.length);
    assertEquals(b.engine.counters.get("rxReassembled"), 0);
    assertEquals(seen.length, sent, "no answer");
    await closeAll(a, b);
  }));

Deno.test("an IKE SA rekey keeps fragmentation and its CREATE_CHILD_SA goes in fragments", () =>
  withLogs(async () => {
    const { wire, a, b } = pair({ ike: "aes256-sha256-modp2048", esp: "aes256-sha256" });
    const { seen } = record(wire);
    const sa = a.engine.initiate(1);
    await nextEvent(a.engine, "established");
    const rekeyed = new Promise<void>((resolve) => {
      const off = a.engine.on((e) => {
        if (e.type === "rekeyed") {
          off();
          resolve();
        }
      });
    });
    a.engine.rekeyIkeSa(sa);
    await rekeyed;
    const successor = a.engine.list().find((s) => s !== sa && s.state === IkeSaState.Established);
    assert(successor?.fragmentation, "the new IKE SA inherits fragmentation");
    const rekey = seen.filter((d) => d.exchangeType === ExchangeType.CreateChildSa);
    assert(rekey.some((d) => !d.response && d.fragment !== undefined), "request in fragments");
    assert(rekey.some((d) => d.response && d.fragment !== undefined), "response in fragments");
    await closeAll(a, b);
  }));

// The reassembler and the splitting on their own, with one protection that opens what it seals.

function loopbackProtection(cbc = false): MessageProtection {
  const encryption = cbc
    ? encryptionInfo(EncrId.AesCbc, 256)!
    : encryptionInfo(EncrId.AesGcm16, 256)!;
  const integrity = cbc ? integrityInfo(IntegId.HmacSha2_256_128) : undefined;
  const keys = {
    encryptionKey: new Uint8Array(encryption.keyMaterialLength),
    integrityKey: new Uint8Array(integrity ? 32 : 0),
  };
  crypto.randomBytes(keys.encryptionKey);
  crypto.randomBytes(keys.integrityKey);
  return new MessageProtection(crypto, { encryption, integrity, outbound: keys, inbound: keys });
}

function notify(type: number, dataLength: number): NotifyPayload {
  return {
    type: PayloadType.Notify,
    protocol: 0,
    spi: new Uint8Array(0),
    notifyType: type,
    data: new Uint8Array(dataLength).map((_, i) => i & 0xff),
  };
}

const HEADER: Omit<IkeHeader, "length" | "nextPayload"> = {
  initiatorSpi: new Uint8Array(8).fill(1),
  responderSpi: new Uint8Array(8).fill(2),
  majorVersion: 2,
  minorVersion: 0,
  exchangeType: ExchangeType.IkeAuth,
  flags: HeaderFlag.Initiator,
  messageId: 1,
};

/** A received fragment as the engine hands it over. */
interface Piece {
  header: IkeHeader;
  skf: OpaquePayload;
  raw: Uint8Array;
}

function pieces(datagrams: Uint8Array[]): Piece[] {
  return datagrams.map((raw) => {
    const { header, payloads } = decodeMessage(raw);
    return { header, skf: payloads[payloads.length - 1] as OpaquePayload, raw };
  });
}

function split(
  protection: MessageProtection,
  payloads: Payload[],
  budget: number,
  header: Omit<IkeHeader, "length" | "nextPayload"> = HEADER,
): Piece[] {
  return pieces(sealMessage(protection, header, payloads, budget));
}

function feed(
  reassembler: FragmentReassembler,
  protection: MessageProtection,
  list: Piece[],
) {
  return list.map((p) => reassembler.add(p.header, p.skf, p.raw, protection, { answered: false }));
}

const BIG_CHAIN: Payload[] = [notify(NotifyType.InitialContact, 900), notify(16500, 700)];

for (const cbc of [false, true]) {
  Deno.test(`splits a message into fragments that fit the budget and reassemble (${cbc ? "AES-CBC" : "AES-GCM"})`, () => {
    const protection = loopbackProtection(cbc);
    const budget = ikeMessageBudget(576, { address: "198.51.100.2", port: 4500 }, true);
    assertEquals(budget, 576 - 20 - 8 - 4);
    const datagrams = sealMessage(protection, HEADER, BIG_CHAIN, budget);
    const chain = encodePayloadChain(BIG_CHAIN).bytes.length;
    assert(datagrams.length === Math.ceil(chain / protection.maxFragmentContent(budget)));
    assert(datagrams.every((d) => d.length <= budget), "every fragment fits");
    assert(datagrams.slice(0, -1).every((d) => d.length > budget - 16), "fragments are full");
    const outcomes = feed(new FragmentReassembler(), protection, pieces(datagrams));
    assertEquals(outcomes.slice(0, -1).map((o) => o.kind), datagrams.slice(1).map(() => "pending"));
    const last = outcomes[outcomes.length - 1]!;
    assert(last.kind === "complete");
    assertEquals(last.payloads, BIG_CHAIN);
    assertEquals(last.length, chain);
  });
}

Deno.test("keeps a message that fits in one SK payload", () => {
  const protection = loopbackProtection();
  const small = [notify(NotifyType.InitialContact, 10)];
  const [only, ...rest] = sealMessage(protection, HEADER, small, 1248);
  assertEquals(rest.length, 0);
  assertEquals(only![16], PayloadType.Encrypted);
  assertEquals(sealMessage(protection, HEADER, BIG_CHAIN, undefined).length, 1);
});

Deno.test(`refuses a message of more than ${MAX_FRAGMENTS} fragments`, () => {
  const protection = loopbackProtection();
  const list = split(protection, [notify(NotifyType.InitialContact, 4000)], 100);
  assert(list.length > MAX_FRAGMENTS);
  const reassembler = new FragmentReassembler();
  const outcomes = feed(reassembler, protection, list);
  assert(outcomes.every((o) => o.kind === "dropped" && /exceed the limit of 64/.test(o.reason)));
  assertEquals(reassembler.pending, 0);
});

Deno.test(`discards a message larger than ${MAX_REASSEMBLED_BYTES} bytes`, () => {
  const protection = loopbackProtection();
  // 60 fragments of ~1200 bytes: 72 000 bytes of payloads, within the fragment count limit.
  const chain = Array.from({ length: 12 }, () => notify(16500, 6000));
  const list = split(protection, chain, 1248);
  assert(list.length <= MAX_FRAGMENTS && list.length > 54, `${list.length} fragments`);
  const reassembler = new FragmentReassembler();
  const outcomes = feed(reassembler, protection, list);
  const dropped = outcomes.findIndex((o) => o.kind === "dropped");
  assert(dropped > 0, "dropped once the limit is passed");
  const outcome = outcomes[dropped]!;
  assert(outcome.kind === "dropped" && /exceeds 65536 bytes/.test(outcome.reason));
  assertEquals(reassembler.pending, 0, "everything stored so far is gone");
  assert(
    outcomes.slice(dropped + 1).every((o) => o.kind === "dropped" && /given up/.test(o.reason)),
    "the rest of the message is ignored",
  );
});

Deno.test("drops fragments with numbers out of range or without a first payload type", () => {
  const protection = loopbackProtection();
  const [first, second] = split(protection, BIG_CHAIN, 600);
  const reassembler = new FragmentReassembler();
  const withBody = (p: Piece, patch: (body: Uint8Array) => void, innerFirst?: number): Piece => {
    const body = p.skf.body.slice();
    patch(body);
    return { ...p, skf: { ...p.skf, body, ...(innerFirst === undefined ? {} : { innerFirst }) } };
  };
  const zero = withBody(first!, (b) => (b[1] = 0));
  const beyond = withBody(second!, (b) => (b[1] = 9));
  const noType = withBody(first!, () => {}, PayloadType.None);
  const outcomes = feed(reassembler, protection, [zero, beyond, noType]);
  assertEquals(outcomes.map((o) => o.kind), ["dropped", "dropped", "dropped"]);
  assert(outcomes[0]!.kind === "dropped" && /out of range/.test(outcomes[0]!.reason));
  assert(outcomes[2]!.kind === "dropped" && /names no first payload/.test(outcomes[2]!.reason));
  assertEquals(reassembler.pending, 0);
});

Deno.test("restarts on a larger Total Fragments and drops a smaller one", () => {
  const protection = loopbackProtection();
  const coarse = split(protection, BIG_CHAIN, 1000);
  const fine = split(protection, BIG_CHAIN, 500);
  assert(fine.length > coarse.length && coarse.length >= 2);
  const reassembler = new FragmentReassembler();
  // Part of the coarse set, then the sender re-fragments smaller (RFC 7383 §2.6).
  assertEquals(feed(reassembler, protection, [coarse[0]!])[0]!.kind, "pending");
  const outcomes = feed(reassembler, protection, [fine[0]!, coarse[1]!, ...fine.slice(1)]);
  assert(outcomes[1]!.kind === "dropped" && /this message has/.test(outcomes[1]!.reason));
  const last = outcomes[outcomes.length - 1]!;
  assert(last.kind === "complete" && last.fragments === fine.length);
  assertEquals(last.payloads, BIG_CHAIN);
});

Deno.test("forgets a partial message after 30 s without fragments, and on a newer message ID", () => {
  const protection = loopbackProtection();
  let now = 0;
  const options: FragmentReassemblerOptions = { now: () => now };
  const reassembler = new FragmentReassembler(options);
  const first = split(protection, BIG_CHAIN, 600);
  feed(reassembler, protection, first.slice(0, -1));
  assertEquals(reassembler.pending, 1);
  now += 30_001;
  const late = feed(reassembler, protection, first.slice(-1))[0]!;
  assertEquals(late.kind, "pending", "the earlier pieces were forgotten");

  const second = split(protection, BIG_CHAIN, 600, { ...HEADER, messageId: 2 });
  const outcomes = feed(reassembler, protection, second);
  assertEquals(outcomes[outcomes.length - 1]!.kind, "complete");
  assertEquals(reassembler.pending, 0, "message 1's partial state was replaced");
});

Deno.test("keeps a partial request and a partial response apart", () => {
  const protection = loopbackProtection();
  const reassembler = new FragmentReassembler();
  const request = split(protection, BIG_CHAIN, 600);
  const response = split(protection, BIG_CHAIN, 600, {
    ...HEADER,
    flags: HeaderFlag.Response,
  });
  const outcomes = feed(reassembler, protection, [
    ...request.slice(0, -1),
    ...response.slice(0, -1),
    request[request.length - 1]!,
    response[response.length - 1]!,
  ]);
  assertEquals(outcomes.filter((o) => o.kind === "complete").length, 2);
});

Deno.test("answers only fragment 1 of an answered request, after checking its ICV", () => {
  const protection = loopbackProtection();
  const reassembler = new FragmentReassembler();
  const [first, second] = split(protection, BIG_CHAIN, 600);
  const add = (p: Piece) =>
    reassembler.add(p.header, p.skf, p.raw, protection, { answered: true }).kind;
  assertEquals(add(second!), "dropped");
  assertEquals(add(first!), "repeat");
  const forged = first!.raw.slice();
  forged[forged.length - 1] = forged[forged.length - 1]! ^ 1;
  const outcome = reassembler.add(first!.header, first!.skf, forged, protection, {
    answered: true,
  });
  assert(outcome.kind === "dropped" && outcome.forged);
  assertEquals(reassembler.pending, 0);
});
