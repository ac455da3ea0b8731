import { createCipheriv, createDecipheriv, createHmac } from "node:crypto";
import { assert, assertEquals, assertThrows } from "../_assert.ts";
import {
  decapsulate,
  EncapFailure,
  encapsulate,
  encapsulatedLength,
  encapsulatedTextStart,
  encapsulateInPlace,
  EspDropReason,
  EspSa,
  NextHeader,
} from "../../lib/esp/mod.ts";
import type { DecapResult } from "../../lib/esp/mod.ts";
import { NodeCryptoProvider } from "../../lib/crypto/mod.ts";
import { fromHex, toHex } from "../../lib/wire/mod.ts";
import { ipv4Packet, ipv6Packet, PROVIDERS, randomBytes, saPair, SUITE_NAMES } from "./_helpers.ts";

const node = new NodeCryptoProvider();

function ok(r: DecapResult | number): DecapResult {
  if (typeof r === "number") throw new Error(`expected a packet, got drop reason ${r}`);
  return r;
}

for (const crypto of PROVIDERS) {
  for (const suite of SUITE_NAMES) {
    Deno.test(`${suite} (${crypto.name}) round-trips IPv4 packets of 20..1500 bytes`, () => {
      const { outbound, inbound } = saPair(suite, crypto);
      const out = new Uint8Array(2048);
      let seq = 0;
      for (let length = 20; length <= 1500; length++) {
        const packet = ipv4Packet(length, { id: length });
        const n = encapsulate(outbound, packet, out);
        assertEquals(n, encapsulatedLength(outbound, length));
        seq++;
        assertEquals(new DataView(out.buffer).getUint32(4), seq, "sequence number");
        // Ciphertext (without ICV) is a whole number of blocks and 4-byte aligned.
        assertEquals((n - 8 - outbound.ivLength - outbound.icvLength) % outbound.blockSize, 0);
        const r = ok(decapsulate(inbound, out.subarray(0, n)));
        assertEquals(r.nextHeader, NextHeader.Ipv4);
        assertEquals(toHex(r.packet), toHex(packet), `length ${length}`);
      }
      assertEquals(outbound.counters.get("packets"), 1481);
      assertEquals(inbound.counters.get("packets"), 1481);
      assertEquals(inbound.counters.get("bytes"), outbound.counters.get("bytes"));
      outbound.dispose();
      inbound.dispose();
    });
  }
}

for (const suite of SUITE_NAMES) {
  Deno.test(`${suite} round-trips IPv6 with next header 41 and decrypts into a separate buffer`, () => {
    const { outbound, inbound } = saPair(suite, PROVIDERS[0]!);
    const packet = ipv6Packet(1280);
    const esp = new Uint8Array(2048);
    const n = encapsulate(outbound, packet, esp);
    const copy = esp.slice(0, n);
    const plain = new Uint8Array(2048);
    const r = ok(decapsulate(inbound, esp.subarray(0, n), plain));
    assertEquals(r.nextHeader, NextHeader.Ipv6);
    assertEquals(toHex(r.packet), toHex(packet));
    assert(r.packet.buffer === plain.buffer, "inner packet lives in `out`");
    assertEquals(toHex(esp.subarray(0, n)), toHex(copy), "ESP buffer untouched");
  });

  Deno.test(`${suite}: tampering with any byte is an auth drop (SPI bytes: wrong SPI)`, () => {
    const { outbound, inbound } = saPair(suite, PROVIDERS[0]!, { replayWindow: 0 });
    const out = new Uint8Array(256);
    const n = encapsulate(outbound, ipv4Packet(60), out);
    const pristine = out.slice(0, n);
    let auth = 0;
    for (let i = 0; i < n; i++) {
      const esp = pristine.slice();
      esp[i]! ^= 0x01;
      const r = decapsulate(inbound, esp);
      if (i < 4) assertEquals(r, EspDropReason.WrongSpi, `byte ${i}`);
      else {
        assertEquals(r, EspDropReason.Auth, `byte ${i}`);
        auth++;
      }
    }
    assertEquals(inbound.counters.get("dropAuth"), auth);
    assertEquals(inbound.counters.get("dropWrongSpi"), 4);
    assertEquals(inbound.counters.get("packets"), 0);
    // The untampered packet still decrypts: failed packets did not move the window.
    assertEquals(toHex(ok(decapsulate(inbound, pristine)).packet), toHex(ipv4Packet(60)));
  });

  Deno.test(`${suite}: a replayed packet is a replay drop`, () => {
    const { outbound, inbound } = saPair(suite, PROVIDERS[0]!);
    const out = new Uint8Array(256);
    const n = encapsulate(outbound, ipv4Packet(100), out);
    const copy = out.slice(0, n);
    ok(decapsulate(inbound, out.subarray(0, n)));
    assertEquals(decapsulate(inbound, copy), EspDropReason.Replay);
    assertEquals(inbound.counters.get("dropReplay"), 1);
  });
}

Deno.test("truncated or misaligned packets are malformed drops, never exceptions", () => {
  for (const suite of SUITE_NAMES) {
    const { outbound, inbound } = saPair(suite, PROVIDERS[0]!);
    const out = new Uint8Array(256);
    const n = encapsulate(outbound, ipv4Packet(64), out);
    let malformed = 0;
    for (let cut = 0; cut < n; cut++) {
      const r = decapsulate(inbound, out.slice(0, cut));
      assert(typeof r === "number", `${suite} cut ${cut}`);
      if (r === EspDropReason.Malformed) malformed++;
    }
    assertEquals(inbound.counters.get("dropMalformed"), malformed);
    assert(malformed > 0);
  }
});

Deno.test("an outbound SA does not decapsulate and an inbound SA does not encapsulate", () => {
  const { outbound, inbound } = saPair("aes128gcm16", PROVIDERS[0]!);
  const out = new Uint8Array(256);
  assertEquals(encapsulate(inbound, ipv4Packet(40), out), EncapFailure.WrongSa);
  const n = encapsulate(outbound, ipv4Packet(40), out);
  assertEquals(decapsulate(outbound, out.subarray(0, n)), EspDropReason.Malformed);
});

Deno.test("encapsulate returns TooBig when the packet does not fit the output buffer", () => {
  const { outbound } = saPair("aes256-sha256", PROVIDERS[0]!);
  const packet = ipv4Packet(100);
  const need = encapsulatedLength(outbound, 100);
  assertEquals(encapsulate(outbound, packet, new Uint8Array(need - 1)), EncapFailure.TooBig);
  assertEquals(outbound.counters.get("dropTooBig"), 1);
  assertEquals(outbound.lastSequence, 0, "no sequence number consumed");
  assertEquals(encapsulate(outbound, packet, new Uint8Array(need)), need);
});

Deno.test("encapsulate refuses a non-IP packet unless a next header is given", () => {
  const { outbound, inbound } = saPair("aes128gcm16", PROVIDERS[0]!);
  const frame = randomBytes(60);
  frame[0] = 0x00;
  const out = new Uint8Array(256);
  assertEquals(encapsulate(outbound, frame, out), EncapFailure.UnknownNextHeader);
  const n = encapsulate(outbound, frame, out, NextHeader.EtherIp);
  const r = ok(decapsulate(inbound, out.subarray(0, n)));
  assertEquals(r.nextHeader, NextHeader.EtherIp);
  assertEquals(toHex(r.packet), toHex(frame));
});

Deno.test("the sequence counter never wraps: 2^32-1 is the last, then the SA is exhausted", () => {
  const { outbound, inbound } = saPair("aes128gcm16", PROVIDERS[0]!);
  const out = new Uint8Array(256);
  assert(!outbound.rekeyNeeded);
  outbound.skipSequenceTo(0xffff_fffe);
  assert(outbound.rekeyNeeded, "close to the end: rekey");
  const n = encapsulate(outbound, ipv4Packet(40), out);
  assert(n > 0);
  assertEquals(new DataView(out.buffer).getUint32(4), 0xffff_ffff);
  ok(decapsulate(inbound, out.subarray(0, n)));
  assert(outbound.sequenceExhausted);
  assertEquals(encapsulate(outbound, ipv4Packet(40), out), EncapFailure.SequenceExhausted);
  assertEquals(outbound.counters.get("dropSequenceExhausted"), 1);
  assertEquals(outbound.lastSequence, 0xffff_ffff);
});

Deno.test("lifetime limits are counted and reported", () => {
  const { outbound } = saPair("aes128gcm16", PROVIDERS[0]!, {
    lifetimePackets: 3,
    lifetimeBytes: 1_000_000,
  });
  const out = new Uint8Array(256);
  for (let i = 0; i < 2; i++) encapsulate(outbound, ipv4Packet(40), out);
  assert(!outbound.lifetimeExpired);
  encapsulate(outbound, ipv4Packet(40), out);
  assert(outbound.lifetimeExpired);
  assert(outbound.rekeyNeeded);
  const bytes = saPair("aes128gcm16", PROVIDERS[0]!, { lifetimeBytes: 100 }).outbound;
  encapsulate(bytes, ipv4Packet(60), out);
  assert(!bytes.lifetimeExpired);
  encapsulate(bytes, ipv4Packet(60), out);
  assert(bytes.lifetimeExpired);
});

Deno.test("rejects invalid SA parameters with a RangeError naming the problem", () => {
  const base = {
    spi: 0x1000,
    direction: "out" as const,
    encapsulation: null,
    crypto: node,
  };
  const cases: [Record<string, unknown>, string][] = [
    [{ encryption: "aes-gcm-16", encryptionKey: randomBytes(16), integrity: "none" }, "20 or 36"],
    [
      { encryption: "aes-gcm-16", encryptionKey: randomBytes(20), integrity: "hmac-sha256-128" },
      "combined mode",
    ],
    [{ encryption: "aes-cbc", encryptionKey: randomBytes(24), integrity: "none" }, "16 or 32"],
    [{ encryption: "aes-cbc", encryptionKey: randomBytes(16), integrity: "none" }, "integrity"],
    [
      {
        encryption: "aes-cbc",
        encryptionKey: randomBytes(16),
        integrity: "hmac-sha256-128",
        integrityKey: randomBytes(20),
      },
      "not 32",
    ],
    [
      { encryption: "aes-gcm-16", encryptionKey: randomBytes(36), integrity: "none", spi: 255 },
      "SPI",
    ],
  ];
  for (const [params, text] of cases) {
    assertThrows(
      () => new EspSa({ ...base, ...params } as unknown as ConstructorParameters<typeof EspSa>[0]),
      RangeError,
      text,
    );
  }
});

Deno.test("dispose is idempotent and a disposed SA drops instead of crashing", () => {
  const { outbound, inbound } = saPair("aes256-sha256", PROVIDERS[0]!);
  const out = new Uint8Array(256);
  const n = encapsulate(outbound, ipv4Packet(40), out);
  inbound.dispose();
  inbound.dispose();
  assert(inbound.disposed);
  assertEquals(decapsulate(inbound, out.subarray(0, n)), EspDropReason.Malformed);
  outbound.dispose();
  assertEquals(encapsulate(outbound, ipv4Packet(40), out), EncapFailure.WrongSa);
});

// --- Known answers ---------------------------------------------------------------------------

/** Independent ESP-GCM construction with node:crypto: RFC 4106 nonce and AAD, RFC 4303 trailer. */
function referenceGcmEsp(
  keyMaterial: Uint8Array,
  spi: number,
  seq: number,
  iv: Uint8Array,
  plaintextWithTrailer: Uint8Array,
): Uint8Array {
  const key = keyMaterial.subarray(0, keyMaterial.length - 4);
  const salt = keyMaterial.subarray(keyMaterial.length - 4);
  const header = new Uint8Array(8);
  new DataView(header.buffer).setUint32(0, spi);
  new DataView(header.buffer).setUint32(4, seq);
  const cipher = createCipheriv(
    key.length === 16 ? "aes-128-gcm" : "aes-256-gcm",
    key,
    new Uint8Array([...salt, ...iv]),
    { authTagLength: 16 },
  );
  cipher.setAAD(header);
  const ct = new Uint8Array([...cipher.update(plaintextWithTrailer), ...cipher.final()]);
  return new Uint8Array([...header, ...iv, ...ct, ...cipher.getAuthTag()]);
}

function trailer(payload: Uint8Array, block: number, nextHeader: number): Uint8Array {
  const pad = (block - ((payload.length + 2) % block)) % block;
  const padding = Array.from({ length: pad }, (_, i) => i + 1);
  return new Uint8Array([...payload, ...padding, pad, nextHeader]);
}

for (const suite of ["aes128gcm16", "aes256gcm16"]) {
  Deno.test(`${suite} output equals an independent node:crypto RFC 4106 computation`, () => {
    for (const crypto of PROVIDERS) {
      const { outbound, encryptionKey } = saPair(suite, crypto, {}, 0x12345678);
      const out = new Uint8Array(2048);
      for (const length of [20, 21, 22, 23, 24, 99, 1400]) {
        const packet = ipv4Packet(length, { id: length });
        const n = encapsulate(outbound, packet, out);
        const seq = outbound.lastSequence;
        const iv = new Uint8Array(8);
        new DataView(iv.buffer).setUint32(4, seq);
        const expected = referenceGcmEsp(encryptionKey, 0x12345678, seq, iv, trailer(packet, 4, 4));
        assertEquals(toHex(out.subarray(0, n)), toHex(expected), `${crypto.name} length ${length}`);
      }
    }
  });
}

for (const suite of ["aes256-sha256", "aes128-sha256"]) {
  Deno.test(`${suite} output verifies and decrypts with an independent node:crypto check`, () => {
    for (const crypto of PROVIDERS) {
      const { outbound, encryptionKey, integrityKey } = saPair(suite, crypto, {}, 0x0badcafe);
      const out = new Uint8Array(2048);
      const ivs = new Set<string>();
      for (const length of [20, 29, 30, 31, 32, 1400]) {
        const packet = ipv4Packet(length, { id: length });
        const n = encapsulate(outbound, packet, out);
        const esp = out.slice(0, n);
        assertEquals(new DataView(esp.buffer).getUint32(0), 0x0badcafe);
        const icv = createHmac("sha256", integrityKey!).update(esp.subarray(0, n - 16)).digest();
        assertEquals(toHex(esp.subarray(n - 16)), toHex(icv.subarray(0, 16)), "HMAC-SHA2-256-128");
        const iv = esp.subarray(8, 24);
        ivs.add(toHex(iv));
        const d = createDecipheriv(
          encryptionKey.length === 16 ? "aes-128-cbc" : "aes-256-cbc",
          encryptionKey,
          iv,
        ).setAutoPadding(false);
        const plain = new Uint8Array([...d.update(esp.subarray(24, n - 16)), ...d.final()]);
        assertEquals(toHex(plain), toHex(trailer(packet, 16, 4)), `${crypto.name} ${length}`);
      }
      assertEquals(ivs.size, 6, "a fresh IV per packet");
    }
  });
}

/**
 * Known-answer vectors from draft-mcgrew-gcm-test-01 §4 (the ones with 8-byte AAD, i.e. no
 * ESN, and a 128/256-bit key): ESP packets whose explicit IV is arbitrary, so they exercise
 * decapsulate's nonce and AAD layout against published ciphertext.
 */
const MCGREW_VECTORS = [
  {
    name: "AES-256 test case (SPI 4a2cbfe3, seq 2)",
    key: "abbccddef00112233445566778899aababbccddef00112233445566778899aab" + "11223344",
    esp: "4a2cbfe3" + "00000002" + "0102030405060708" +
      "ff425c9b724599df7a3bcd510194e00d6a78107f1b0b1cbf06efae9d65a5d763" +
      "748a637985771d347f0545659f14e99def842d8e" + "b335f4eecfdbf831824b4c4915956c96",
    inner: "4500003069a6400080062690c0a801029389155e0a9e008b2dc57ee000000000" +
      "7002400020bf0000020405b401010402",
    nextHeader: 1,
  },
  {
    name: "AES-128 test case (SPI 335467ae, seq ffffffff, empty payload)",
    key: "7d773d00c144c525ac619d18c84a3f47" + "d9664267",
    esp: "335467ae" + "ffffffff" + "43457e9182443bc6" + "437f866b" +
      "cb3f699fe9b0822bac961c4504bef270",
    inner: "",
    nextHeader: 1,
  },
];

for (const v of MCGREW_VECTORS) {
  Deno.test(`decapsulates the draft-mcgrew-gcm-test-01 ${v.name}`, () => {
    for (const crypto of PROVIDERS) {
      const esp = fromHex(v.esp);
      const inbound = () =>
        new EspSa({
          spi: new DataView(esp.buffer).getUint32(0),
          direction: "in",
          encryption: "aes-gcm-16",
          encryptionKey: fromHex(v.key),
          integrity: "none",
          encapsulation: null,
          crypto,
        });
      const r = ok(decapsulate(inbound(), esp.slice()));
      assertEquals(toHex(r.packet), v.inner);
      assertEquals(r.nextHeader, v.nextHeader);
      const tampered = esp.slice();
      tampered[tampered.length - 1]! ^= 0x80;
      assertEquals(decapsulate(inbound(), tampered), EspDropReason.Auth);
    }
  });
}

// --- Padding and next header checks, on authentic packets ---------------------------------------

function forgeGcm(
  suiteKey: Uint8Array,
  spi: number,
  seq: number,
  plaintextWithTrailer: Uint8Array,
): Uint8Array {
  const iv = new Uint8Array(8);
  new DataView(iv.buffer).setUint32(4, seq);
  return referenceGcmEsp(suiteKey, spi, seq, iv, plaintextWithTrailer);
}

Deno.test("authentic packets with non-monotonic padding are padding drops", () => {
  const { inbound, encryptionKey } = saPair("aes128gcm16", PROVIDERS[0]!, {}, 0x5000);
  const inner = ipv4Packet(21); // 21 + 2 → 1 pad byte to reach a multiple of 4
  const good = trailer(inner, 4, 4);
  assertEquals(good[21], 1);
  const bad = good.slice();
  bad[21] = 7;
  assertEquals(
    decapsulate(inbound, forgeGcm(encryptionKey, 0x5000, 1, bad)),
    EspDropReason.Padding,
  );
  // Pad length larger than the payload.
  const over = good.slice();
  over[over.length - 2] = 200;
  assertEquals(
    decapsulate(inbound, forgeGcm(encryptionKey, 0x5000, 2, over)),
    EspDropReason.Padding,
  );
  assertEquals(inbound.counters.get("dropPadding"), 2);
  // Extra (but correct) padding up to 255 bytes is accepted (RFC 4303 §2.4).
  const extra = new Uint8Array([...inner, ...Array.from({ length: 9 }, (_, i) => i + 1), 9, 4]);
  const r = ok(decapsulate(inbound, forgeGcm(encryptionKey, 0x5000, 3, extra)));
  assertEquals(toHex(r.packet), toHex(inner));
});

Deno.test("dummy packets (next header 59) are dropped silently and counted", () => {
  const { inbound, encryptionKey } = saPair("aes256gcm16", PROVIDERS[0]!, {}, 0x6000);
  const dummy = trailer(randomBytes(30), 4, NextHeader.NoNext);
  assertEquals(
    decapsulate(inbound, forgeGcm(encryptionKey, 0x6000, 1, dummy)),
    EspDropReason.Dummy,
  );
  assertEquals(inbound.counters.get("dropDummy"), 1);
  assertEquals(inbound.counters.get("packets"), 0);
  // The window moved (the packet was authentic): a replay is a replay drop.
  assertEquals(
    decapsulate(inbound, forgeGcm(encryptionKey, 0x6000, 1, dummy)),
    EspDropReason.Replay,
  );
});

Deno.test("text views made once per slot give the same ESP packets; a view at the wrong place is ignored", () => {
  for (const provider of PROVIDERS) {
    for (const name of SUITE_NAMES) {
      const what = `${provider.name} ${name}`;
      // Two outbound SAs with the same keys and sequence numbers: one with views, one without.
      const { outbound, inbound, encryptionKey, integrityKey } = saPair(name, provider);
      const plain = new EspSa({
        spi: outbound.spi,
        direction: "out",
        encryption: outbound.encryption,
        encryptionKey,
        integrity: outbound.integrity,
        ...(integrityKey ? { integrityKey } : {}),
        encapsulation: null,
        peerAddress: "198.51.100.2",
        crypto: provider,
      });
      const start = encapsulatedTextStart(outbound);
      for (const [view, label] of [[0, "right"], [1, "wrong"]] as const) {
        const packet = ipv4Packet(1000, { id: view });
        const slot = new Uint8Array(2048);
        const reference = new Uint8Array(2048);
        slot.set(packet, start);
        reference.set(packet, start);
        const text = slot.subarray(start + view);
        const length = encapsulateInPlace(outbound, slot, packet.length, undefined, text);
        const expected = encapsulateInPlace(plain, reference, packet.length);
        if (name.includes("gcm")) {
          assertEquals(length, expected, `${what}, ${label} view: length`);
          assertEquals(slot.subarray(0, length), reference.subarray(0, expected), what);
        } else {
          assertEquals(length, expected, `${what}, ${label} view: length (CBC IVs differ)`);
        }
        const esp = slot.subarray(0, length);
        const textView = slot.subarray(start + view);
        const result = decapsulate(inbound, esp, undefined, textView) as DecapResult;
        assert(typeof result !== "number", `${what}, ${label} view: decapsulates`);
        assertEquals(result.packet, packet, `${what}, ${label} view: inner packet`);
      }
      outbound.dispose();
      inbound.dispose();
      plain.dispose();
    }
  }
});
