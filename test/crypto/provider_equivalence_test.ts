/** The libcrypto and node:crypto providers must be interchangeable bit for bit. */
import assert from "node:assert/strict";
import { toHex } from "../../lib/wire/mod.ts";
import { libcryptoProvider as ffi, nodeProvider as node } from "./_providers.ts";

function random(n: number): Uint8Array {
  const out = new Uint8Array(n);
  ffi.randomBytes(out);
  return out;
}

const LENGTHS = [0, 1, 15, 16, 17, 63, 64, 65, 255, 1400, 1500, 9000];

Deno.test("providers produce identical AES-GCM output on random inputs", () => {
  for (const keyLength of [16, 32]) {
    const key = random(keyLength);
    const a = ffi.createAead(key);
    const b = node.createAead(key);
    for (const length of LENGTHS) {
      for (const aadLength of [0, 8, 12, 20]) {
        const nonce = random(12);
        const aad = random(aadLength);
        const plain = random(length);
        const textA = plain.slice();
        const textB = plain.slice();
        const tagA = new Uint8Array(16);
        const tagB = new Uint8Array(16);
        a.seal(nonce, aad, textA, tagA);
        b.seal(nonce, aad, textB, tagB);
        const label = `key ${keyLength}, text ${length}, aad ${aadLength}`;
        assert.equal(toHex(textA), toHex(textB), label);
        assert.equal(toHex(tagA), toHex(tagB), label);
        if (length > 0) assert.notEqual(toHex(textA), toHex(plain), label);
        // Each opens what the other sealed.
        assert.equal(b.open(nonce, aad, textA, tagA), true, label);
        assert.equal(a.open(nonce, aad, textB, tagB), true, label);
        assert.equal(toHex(textA), toHex(plain), label);
        assert.equal(toHex(textB), toHex(plain), label);
      }
    }
    a.dispose();
    b.dispose();
  }
});

Deno.test("providers produce identical AES-CBC output on random inputs", () => {
  for (const keyLength of [16, 32]) {
    const key = random(keyLength);
    const a = ffi.createCbc(key);
    const b = node.createCbc(key);
    for (const blocks of [0, 1, 2, 3, 87, 94]) {
      const iv = random(16);
      const plain = random(blocks * 16);
      const textA = plain.slice();
      const textB = plain.slice();
      a.encrypt(iv, textA);
      b.encrypt(iv, textB);
      assert.equal(toHex(textA), toHex(textB), `key ${keyLength}, ${blocks} blocks`);
      b.decrypt(iv, textA);
      a.decrypt(iv, textB);
      assert.equal(toHex(textA), toHex(plain));
      assert.equal(toHex(textB), toHex(plain));
    }
    a.dispose();
    b.dispose();
  }
});

Deno.test("providers produce identical HMAC output on random inputs", () => {
  for (const hash of ["sha1", "sha256", "sha384", "sha512"] as const) {
    for (const keyLength of [1, 16, 32, 64, 128, 200]) {
      const key = random(keyLength);
      const a = ffi.createMac(hash, key);
      const b = node.createMac(hash, key);
      assert.equal(a.outputLength, b.outputLength);
      for (const length of LENGTHS) {
        const parts = [random(length), random(length % 7), random(3)];
        for (const outLength of [a.outputLength, a.outputLength >> 1, 12]) {
          const outA = new Uint8Array(outLength);
          const outB = new Uint8Array(outLength);
          a.compute(parts, outA);
          b.compute(parts, outB);
          assert.equal(toHex(outA), toHex(outB), `${hash} key ${keyLength} text ${length}`);
        }
      }
      a.dispose();
      b.dispose();
    }
  }
});

Deno.test("both providers fill random buffers with distinct, non-zero data", () => {
  for (const provider of [ffi, node]) {
    const x = new Uint8Array(64);
    const y = new Uint8Array(64);
    provider.randomBytes(x);
    provider.randomBytes(y);
    assert.notEqual(toHex(x), toHex(y), provider.name);
    assert.ok(x.some((b) => b !== 0), provider.name);
    const empty = new Uint8Array(0);
    provider.randomBytes(empty);
  }
});

Deno.test("a DH exchange of one provider agrees with the other provider's", () => {
  for (const group of [14, 19, 20, 31]) {
    const a = ffi.createDh(group);
    const b = node.createDh(group);
    assert.equal(toHex(a.computeSecret(b.publicKey)), toHex(b.computeSecret(a.publicKey)));
  }
});
