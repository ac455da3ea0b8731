import assert from "node:assert/strict";
import { fromHex, toHex } from "../../lib/wire/mod.ts";
import { PROVIDERS } from "./_providers.ts";

const IV = "000102030405060708090a0b0c0d0e0f";
const PLAIN =
  "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e5130c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710";

/** NIST SP 800-38A F.2.1 (CBC-AES128) and F.2.5 (CBC-AES256); F.2.2/F.2.6 are the inverses. */
const VECTORS = [
  {
    name: "F.2.1 CBC-AES128",
    key: "2b7e151628aed2a6abf7158809cf4f3c",
    cipher:
      "7649abac8119b246cee98e9b12e9197d5086cb9b507219ee95db113a917678b273bed6b8e3c1743b7116e69e222295163ff1caa1681fac09120eca307586e1a7",
  },
  {
    name: "F.2.5 CBC-AES256",
    key: "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4",
    cipher:
      "f58c4c04d6e5f1ba779eabfb5f7bfbd69cfc4e967edb808d679f777bc6702c7d39f23369a9d9bacfa530e26304231461b2eb05e2c39be9fcda6c19078c6a9d1b",
  },
] as const;

for (const provider of PROVIDERS) {
  Deno.test(`${provider.name}: AES-CBC encrypts the SP 800-38A vectors in place`, () => {
    for (const v of VECTORS) {
      const cbc = provider.createCbc(fromHex(v.key));
      const text = fromHex(PLAIN);
      cbc.encrypt(fromHex(IV), text);
      assert.equal(toHex(text), v.cipher, v.name);
      cbc.dispose();
    }
  });

  Deno.test(`${provider.name}: AES-CBC decrypts the SP 800-38A vectors in place`, () => {
    for (const v of VECTORS) {
      const cbc = provider.createCbc(fromHex(v.key));
      const text = fromHex(v.cipher);
      cbc.decrypt(fromHex(IV), text);
      assert.equal(toHex(text), PLAIN, v.name);
      cbc.dispose();
    }
  });

  Deno.test(`${provider.name}: AES-CBC chains per call, not across calls`, () => {
    // Encrypting block 2 alone with IV = ciphertext block 1 gives ciphertext block 2.
    const v = VECTORS[0];
    const cbc = provider.createCbc(fromHex(v.key));
    const block = fromHex(PLAIN.slice(32, 64));
    cbc.encrypt(fromHex(v.cipher.slice(0, 32)), block);
    assert.equal(toHex(block), v.cipher.slice(32, 64));
    const again = fromHex(PLAIN);
    cbc.encrypt(fromHex(IV), again);
    assert.equal(toHex(again), v.cipher);
    cbc.dispose();
  });

  Deno.test(`${provider.name}: AES-CBC works on a view and leaves the rest untouched`, () => {
    const v = VECTORS[1];
    const packet = new Uint8Array(8 + 64 + 8).fill(0x5a);
    packet.set(fromHex(PLAIN), 8);
    const text = packet.subarray(8, 72);
    const cbc = provider.createCbc(fromHex(v.key));
    cbc.encrypt(fromHex(IV), text);
    assert.equal(toHex(text), v.cipher);
    assert.ok(packet.subarray(0, 8).every((b) => b === 0x5a));
    assert.ok(packet.subarray(72).every((b) => b === 0x5a));
    cbc.decrypt(fromHex(IV), text);
    assert.equal(toHex(text), PLAIN);
    cbc.dispose();
  });

  Deno.test(`${provider.name}: AES-CBC rejects partial blocks, bad IVs and bad keys`, () => {
    assert.throws(() => provider.createCbc(new Uint8Array(20)), {
      name: "RangeError",
      message: "Cannot create AES-CBC context: key is 20 bytes, expected 16 or 32",
    });
    const cbc = provider.createCbc(new Uint8Array(16));
    assert.throws(() => cbc.encrypt(new Uint8Array(16), new Uint8Array(15)), {
      name: "RangeError",
      message: "Cannot encrypt with AES-CBC: text is 15 bytes, not a multiple of 16",
    });
    assert.throws(() => cbc.decrypt(new Uint8Array(12), new Uint8Array(16)), {
      name: "RangeError",
      message: "Cannot decrypt with AES-CBC: IV is 12 bytes, expected 16",
    });
    cbc.dispose();
    assert.throws(() => cbc.encrypt(new Uint8Array(16), new Uint8Array(16)), /disposed/);
  });
}
