/** Parsers of the strongSwan harness, on output captured from charon 5.9.8 (no root needed). */
import assert from "node:assert/strict";
import { parseLoggedChunks, parseViciRaw, toIkeSaStatuses } from "./strongswan.ts";

const LIST_SAS_RAW =
  "list-sa event {rh {uniqueid=1 version=2 state=ESTABLISHED local-host=198.51.100.1 " +
  "local-port=4500 local-id=left.example.net remote-host=198.51.100.2 remote-port=4500 " +
  "remote-id=right.example.net initiator=yes initiator-spi=60ac430869011f93 " +
  "responder-spi=560266612639678d nat-remote=yes nat-any=yes encr-alg=AES_GCM_16 " +
  "encr-keysize=128 prf-alg=PRF_HMAC_SHA2_256 dh-group=ECP_256 established=0 rekey-time=13414 " +
  "child-sas {child-1 {name=child uniqueid=1 reqid=1 state=INSTALLED mode=TUNNEL protocol=ESP " +
  "encap=yes spi-in=a2059855 spi-out=d27aa8f6 encr-alg=AES_GCM_16 encr-keysize=128 " +
  "bytes-in=84 packets-in=1 bytes-out=168 packets-out=2 rekey-time=3289 life-time=3960 " +
  "install-time=0 local-ts=[10.1.0.0/24] remote-ts=[10.2.0.0/24 10.3.0.0/24]}}}}\n" +
  "list-sa event {}\n";

Deno.test("parseViciRaw reads sections, values and both list spellings", () => {
  const [first, second] = parseViciRaw(LIST_SAS_RAW);
  assert.deepEqual(second, {});
  const rh = first?.["rh"];
  assert.ok(typeof rh === "object" && !Array.isArray(rh));
  assert.equal(rh["state"], "ESTABLISHED");
  assert.deepEqual(parseViciRaw("x {list [a b] k=v}"), [{ list: ["a", "b"], k: "v" }]);
  assert.throws(() => parseViciRaw("x {oops}"), SyntaxError);
});

Deno.test("toIkeSaStatuses types the list-sa events", () => {
  const [sa, ...rest] = toIkeSaStatuses(parseViciRaw(LIST_SAS_RAW));
  assert.equal(rest.length, 0);
  assert.ok(sa !== undefined);
  assert.equal(sa.name, "rh");
  assert.equal(sa.state, "ESTABLISHED");
  assert.equal(sa.localPort, 4500);
  assert.equal(sa.initiator, true);
  assert.equal(sa.initiatorSpi, "60ac430869011f93");
  assert.equal(sa.natAny, true);
  assert.equal(sa.dhGroup, "ECP_256");
  assert.deepEqual(sa.childSas, [{
    name: "child",
    uniqueId: "1",
    state: "INSTALLED",
    mode: "TUNNEL",
    protocol: "ESP",
    encap: true,
    spiIn: "a2059855",
    spiOut: "d27aa8f6",
    encrAlg: "AES_GCM_16",
    encrKeySize: "128",
    bytesIn: 84,
    bytesOut: 168,
    packetsIn: 1,
    packetsOut: 2,
    localTs: ["10.1.0.0/24"],
    remoteTs: ["10.2.0.0/24", "10.3.0.0/24"],
  }]);
});

Deno.test("parseLoggedChunks reads charon's level-4 hex dumps", () => {
  const log = [
    "06:44:44 09[IKE] <rh|1> Sk_ei secret => 36 bytes @ 0x7f364000ac60",
    "06:44:44 09[IKE] <rh|1>    0: 00 A4 85 D0 6D D8 FE C2 C9 C0 8B B1 E2 06 49 CB  ....m.........I.",
    "06:44:44 09[IKE] <rh|1>   16: C2 C6 B1 DF 20 BC 08 13 4A 3C 51 CC 80 EF F5 19  .... ...J<Q.....",
    "06:44:44 09[IKE] <rh|1>   32: D0 6B 6C 8C                                      .kl.",
    "06:44:44 14[CHD] <rh|1> CHILD_SA child{1} state change: CREATED => INSTALLING",
    "06:44:44 14[CHD] <rh|1> encryption initiator key => 4 bytes @ 0x7f36240023b0",
    "06:44:44 14[CHD] <rh|1>    0: 25 81 0C 88                                      AB 12",
    "06:44:44 14[CHD] <rh|1> truncated => 20 bytes @ 0x7f36240023b0",
    "06:44:44 14[CHD] <rh|1>    0: 25 81 0C 88",
  ].join("\n");
  const chunks = parseLoggedChunks(log);
  assert.deepEqual(chunks.map((c) => c.label), ["Sk_ei secret", "encryption initiator key"]);
  assert.equal(chunks[0]?.bytes.length, 36);
  assert.deepEqual([...chunks[0]!.bytes.subarray(0, 3)], [0x00, 0xa4, 0x85]);
  assert.deepEqual([...chunks[0]!.bytes.subarray(32)], [0xd0, 0x6b, 0x6c, 0x8c]);
  assert.deepEqual([...chunks[1]!.bytes], [0x25, 0x81, 0x0c, 0x88]);
});
