import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { prf, PRF_PLUS_MAX_ITERATIONS, prfPlus } from "../../lib/crypto/prf.ts";
import { concatBytes, fromHex, toHex } from "../../lib/wire/mod.ts";
import { ascii, PROVIDERS } from "./_providers.ts";

const KEY = fromHex("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f");
const SEED = ascii("Ni|Nr|SPIi|SPIr seed for prf+");

/** HMAC straight from node:crypto, independent of both providers. */
function hmac(hash: string, key: Uint8Array, ...parts: Uint8Array[]): Uint8Array {
  const h = createHmac(hash, key);
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
}

for (const provider of PROVIDERS) {
  Deno.test(`${provider.name}: prf is HMAC with the full output length`, () => {
    // RFC 4231 test case 2 as prf(K="Jefe", S).
    const out = prf(provider, "sha256", ascii("Jefe"), ascii("what do ya want for nothing?"));
    assert.equal(toHex(out), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    assert.equal(prf(provider, "sha512", KEY, SEED).length, 64);
  });

  Deno.test(`${provider.name}: prf+ chains T1 = prf(K, S|0x01), Tn = prf(K, Tn-1|S|n)`, () => {
    const out = prfPlus(provider, "sha256", KEY, SEED, 100);
    const t1 = hmac("sha256", KEY, SEED, Uint8Array.of(1));
    const t2 = hmac("sha256", KEY, t1, SEED, Uint8Array.of(2));
    const t3 = hmac("sha256", KEY, t2, SEED, Uint8Array.of(3));
    const t4 = hmac("sha256", KEY, t3, SEED, Uint8Array.of(4));
    assert.equal(out.length, 100);
    assert.equal(toHex(out), toHex(concatBytes(t1, t2, t3, t4).subarray(0, 100)));
  });

  Deno.test(`${provider.name}: prf+ matches a golden value computed independently`, () => {
    // Computed with Python's hmac module from the RFC 7296 §2.13 definition.
    assert.equal(
      toHex(prfPlus(provider, "sha256", KEY, SEED, 100)),
      "79f6d7ec6b8b6ffc5ecc322e7e95cef4c0be89d2e857d243f5a0fb388f602ed228481d9b58856ac8870924fa" +
        "61c458b3dca18a90131a6d8cfc2ce79cff1c2d27dac90163f110689425c89e4d14a6dc9cc613b2bb37c077052a" +
        "676cc28e593b59f59937a4",
    );
    assert.equal(
      toHex(prfPlus(provider, "sha384", KEY, SEED, 100)),
      "f9a091e8607a8cafa5be3cb982cc154b7458fe143f09dcf0424fbd1cbb6b971ade0bd993423538e8e923946e" +
        "4bf811b15fd993596d232c9fa7a38581bd8f3ea04971ad20fb1331dea577abf5f51df8a9ec7d42b4580950e4a5" +
        "6cbffe3cbd9fae8ea35168",
    );
  });

  Deno.test(`${provider.name}: prf+ output is a prefix of any longer output`, () => {
    const long = prfPlus(provider, "sha384", KEY, SEED, 200);
    for (const length of [0, 1, 47, 48, 49, 96, 199]) {
      assert.equal(
        toHex(prfPlus(provider, "sha384", KEY, SEED, length)),
        toHex(long.subarray(0, length)),
      );
    }
  });

  Deno.test(`${provider.name}: prf+ allows 255 iterations and rejects a 256th`, () => {
    const max = PRF_PLUS_MAX_ITERATIONS * 32;
    assert.equal(prfPlus(provider, "sha256", KEY, SEED, max).length, max);
    assert.throws(() => prfPlus(provider, "sha256", KEY, SEED, max + 1), {
      name: "RangeError",
      message: "Cannot expand prf+: 8161 bytes need 256 iterations, at most 255 allowed",
    });
    assert.throws(() => prfPlus(provider, "sha256", KEY, SEED, -1), RangeError);
    assert.throws(() => prfPlus(provider, "sha256", KEY, SEED, 1.5), RangeError);
  });
}
