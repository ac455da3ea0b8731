import assert from "node:assert/strict";
import { fromHex, toHex } from "../../lib/wire/mod.ts";
import { PROVIDERS } from "./_providers.ts";

const K3 = "feffe9928665731c6d6a8f9467308308";
const IV3 = "cafebabefacedbaddecaf888";
const P3 =
  "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255";
const P4 = P3.slice(0, 120);
const A4 = "feedfacedeadbeeffeedfacedeadbeefabaddad2";

/** McGrew & Viega, "The Galois/Counter Mode of Operation", Appendix B. */
const VECTORS = [
  {
    name: "test case 2 (AES-128, no AAD)",
    key: "00000000000000000000000000000000",
    nonce: "000000000000000000000000",
    aad: "",
    plain: "00000000000000000000000000000000",
    cipher: "0388dace60b6a392f328c2b971b2fe78",
    tag: "ab6e47d42cec13bdf53a67b21257bddf",
  },
  {
    name: "test case 3 (AES-128, 64 bytes, no AAD)",
    key: K3,
    nonce: IV3,
    aad: "",
    plain: P3,
    cipher:
      "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091473f5985",
    tag: "4d5c2af327cd64a62cf35abd2ba6fab4",
  },
  {
    name: "test case 4 (AES-128, 60 bytes, AAD)",
    key: K3,
    nonce: IV3,
    aad: A4,
    plain: P4,
    cipher:
      "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091",
    tag: "5bc94fbc3221a5db94fae95ae7121a47",
  },
  {
    name: "test case 14 (AES-256, no AAD)",
    key: "0000000000000000000000000000000000000000000000000000000000000000",
    nonce: "000000000000000000000000",
    aad: "",
    plain: "00000000000000000000000000000000",
    cipher: "cea7403d4d606b6e074ec5d3baf39d18",
    tag: "d0d1c8a799996bf0265b98b5d48ab919",
  },
  {
    name: "test case 15 (AES-256, 64 bytes, no AAD)",
    key: K3 + K3,
    nonce: IV3,
    aad: "",
    plain: P3,
    cipher:
      "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad",
    tag: "b094dac5d93471bdec1a502270e3cc6c",
  },
  {
    name: "test case 16 (AES-256, 60 bytes, AAD)",
    key: K3 + K3,
    nonce: IV3,
    aad: A4,
    plain: P4,
    cipher:
      "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
    tag: "76fc6ece0f4e1768cddf8853bb2d551b",
  },
] as const;

for (const provider of PROVIDERS) {
  Deno.test(`${provider.name}: AES-GCM seal matches the GCM spec vectors`, () => {
    for (const v of VECTORS) {
      const aead = provider.createAead(fromHex(v.key));
      const text = fromHex(v.plain);
      const tag = new Uint8Array(16);
      aead.seal(fromHex(v.nonce), fromHex(v.aad), text, tag);
      assert.equal(toHex(text), v.cipher, v.name);
      assert.equal(toHex(tag), v.tag, v.name);
      aead.dispose();
    }
  });

  Deno.test(`${provider.name}: AES-GCM open recovers the GCM spec plaintexts`, () => {
    for (const v of VECTORS) {
      const aead = provider.createAead(fromHex(v.key));
      const text = fromHex(v.cipher);
      assert.equal(aead.open(fromHex(v.nonce), fromHex(v.aad), text, fromHex(v.tag)), true, v.name);
      assert.equal(toHex(text), v.plain, v.name);
      aead.dispose();
    }
  });

  Deno.test(`${provider.name}: AES-GCM open returns false and zeroes text on a forged tag, ciphertext or AAD`, () => {
    const v = VECTORS[5];
    const aead = provider.createAead(fromHex(v.key));
    const forgeries: [string, (t: Uint8Array, tag: Uint8Array, aad: Uint8Array) => void][] = [
      ["tag", (_t, tag) => (tag[15]! ^= 0x01)],
      ["ciphertext", (t) => (t[0]! ^= 0x80)],
      ["AAD", (_t, _tag, aad) => (aad[3]! ^= 0x10)],
    ];
    for (const [what, forge] of forgeries) {
      const text = fromHex(v.cipher);
      const tag = fromHex(v.tag);
      const aad = fromHex(v.aad);
      forge(text, tag, aad);
      assert.equal(aead.open(fromHex(v.nonce), aad, text, tag), false, `forged ${what}`);
      assert.ok(text.every((b) => b === 0), `text zeroed after forged ${what}`);
    }
    // The context still works after failures.
    const text = fromHex(v.cipher);
    assert.equal(aead.open(fromHex(v.nonce), fromHex(v.aad), text, fromHex(v.tag)), true);
    assert.equal(toHex(text), v.plain);
    aead.dispose();
  });

  Deno.test(`${provider.name}: AES-GCM works in place on a view inside a larger buffer`, () => {
    const v = VECTORS[2];
    const packet = new Uint8Array(8 + 60 + 16 + 8).fill(0xee);
    packet.set(fromHex(v.plain), 8);
    const text = packet.subarray(8, 68);
    const tag = packet.subarray(68, 84);
    const aead = provider.createAead(fromHex(v.key));
    aead.seal(fromHex(v.nonce), fromHex(v.aad), text, tag);
    assert.equal(toHex(text), v.cipher);
    assert.equal(toHex(tag), v.tag);
    assert.ok(packet.subarray(0, 8).every((b) => b === 0xee), "bytes before the view untouched");
    assert.ok(packet.subarray(84).every((b) => b === 0xee), "bytes after the view untouched");
    assert.equal(aead.open(fromHex(v.nonce), fromHex(v.aad), text, tag), true);
    assert.equal(toHex(text), v.plain);
    aead.dispose();
  });

  Deno.test(`${provider.name}: AES-GCM seals an empty text (tag over AAD only)`, () => {
    const aead = provider.createAead(new Uint8Array(16));
    const tag = new Uint8Array(16);
    aead.seal(new Uint8Array(12), new Uint8Array(0), new Uint8Array(0), tag);
    // GCM spec test case 1: K=0, IV=0, empty P and A.
    assert.equal(toHex(tag), "58e2fccefa7e3061367f1d57a4e7455a");
    assert.equal(aead.open(new Uint8Array(12), new Uint8Array(0), new Uint8Array(0), tag), true);
    aead.dispose();
  });

  Deno.test(`${provider.name}: AES-GCM rejects bad key, nonce and tag lengths`, () => {
    assert.throws(() => provider.createAead(new Uint8Array(24)), {
      name: "RangeError",
      message: "Cannot create AES-GCM context: key is 24 bytes, expected 16 or 32",
    });
    const aead = provider.createAead(new Uint8Array(32));
    assert.throws(
      () => aead.seal(new Uint8Array(8), new Uint8Array(0), new Uint8Array(16), new Uint8Array(16)),
      { name: "RangeError", message: "Cannot seal with AES-GCM: nonce is 8 bytes, expected 12" },
    );
    assert.throws(
      () => aead.open(new Uint8Array(12), new Uint8Array(0), new Uint8Array(16), new Uint8Array(8)),
      { name: "RangeError", message: "Cannot open with AES-GCM: tag is 8 bytes, expected 16" },
    );
    aead.dispose();
  });

  Deno.test(`${provider.name}: AES-GCM context refuses work after dispose`, () => {
    const aead = provider.createAead(new Uint8Array(16));
    aead.dispose();
    aead.dispose();
    assert.throws(
      () =>
        aead.seal(new Uint8Array(12), new Uint8Array(0), new Uint8Array(16), new Uint8Array(16)),
      /disposed/,
    );
  });
}
