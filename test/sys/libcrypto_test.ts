import assert from "node:assert/strict";
import {
  EvpAesGcm,
  EvpHmac,
  hasLibcrypto,
  libcrypto,
  opensslError,
  randBytes,
  takeOpensslErrors,
} from "../../lib/sys/mod.ts";

Deno.test("libcrypto loads and is OpenSSL 3", () => {
  assert.equal(hasLibcrypto(), true);
  const version = BigInt(libcrypto().OpenSSL_version_num());
  assert.equal(version >> 28n, 3n);
});

Deno.test("a forged GCM tag leaves OpenSSL's error queue empty", () => {
  const gcm = new EvpAesGcm(new Uint8Array(16));
  const tag = new Uint8Array(16);
  const text = new Uint8Array(32);
  gcm.seal(new Uint8Array(12), new Uint8Array(0), text, tag);
  tag[0]! ^= 1;
  for (let i = 0; i < 10; i++) {
    assert.equal(gcm.open(new Uint8Array(12), new Uint8Array(0), text.slice(), tag), false);
  }
  assert.equal(BigInt(libcrypto().ERR_peek_error()), 0n);
  gcm.dispose();
});

Deno.test("opensslError drains the error queue into the message", () => {
  // EVP_MAC_fetch of an unknown algorithm queues an "unsupported" error.
  const s = libcrypto();
  const mac = s.EVP_MAC_fetch(null, new TextEncoder().encode("NO-SUCH-MAC\0"), null);
  assert.equal(mac, null);
  const e = opensslError("Cannot create NO-SUCH-MAC context", "EVP_MAC_fetch");
  assert.match(e.message, /^Cannot create NO-SUCH-MAC context: EVP_MAC_fetch failed \(error:/);
  assert.notEqual(e.detail, "");
  assert.equal(takeOpensslErrors(), "");
});

Deno.test("randBytes fills buffers and views with fresh bytes", () => {
  const a = new Uint8Array(48);
  const b = new Uint8Array(48);
  randBytes(a);
  randBytes(b);
  assert.notDeepEqual(a, b);
  const outer = new Uint8Array(40);
  randBytes(outer.subarray(8, 32));
  assert.ok(outer.subarray(0, 8).every((x) => x === 0));
  assert.ok(outer.subarray(32).every((x) => x === 0));
  assert.ok(outer.subarray(8, 32).some((x) => x !== 0));
});

Deno.test("HMAC truncation writes only the requested prefix", () => {
  const mac = new EvpHmac("sha256", new Uint8Array(20).fill(0x0c));
  const out = new Uint8Array(20).fill(0xff);
  mac.compute([new TextEncoder().encode("Test With Truncation")], out.subarray(0, 16));
  // RFC 4231 test case 5.
  assert.equal(
    [...out.subarray(0, 16)].map((x) => x.toString(16).padStart(2, "0")).join(""),
    "a3b6167473100ee06e0c796c2955552b",
  );
  assert.ok(out.subarray(16).every((x) => x === 0xff));
  mac.dispose();
});

function random(length: number): Uint8Array {
  const out = new Uint8Array(length);
  randBytes(out);
  return out;
}

Deno.test("GCM: the direct path is in use and matches the provider path byte for byte", () => {
  const lengths = [0, 1, 15, 16, 17, 1400, 1438, 9000];
  for (const keyLength of [16, 32]) {
    const key = random(keyLength);
    const direct = new EvpAesGcm(key);
    Deno.env.set("RHP_GCM_PROVIDER_ONLY", "1");
    let provided: EvpAesGcm;
    try {
      provided = new EvpAesGcm(key);
    } finally {
      Deno.env.delete("RHP_GCM_PROVIDER_ONLY");
    }
    assert.equal(direct.direct, true, "OpenSSL 3.0 here offers the direct path");
    assert.equal(provided.direct, false);
    for (const length of lengths) {
      for (const aadLength of [0, 8, 12]) {
        const nonce = random(12);
        const aad = random(aadLength);
        const plain = random(length);
        const a = plain.slice();
        const b = plain.slice();
        const tagA = new Uint8Array(16);
        const tagB = new Uint8Array(16);
        direct.seal(nonce, aad, a, tagA);
        provided.seal(nonce, aad, b, tagB);
        const what = `AES-${keyLength * 8} text ${length} aad ${aadLength}`;
        assert.deepEqual(a, b, `${what}: ciphertext`);
        assert.deepEqual(tagA, tagB, `${what}: tag`);
        // Each opens what the other sealed.
        const c = a.slice();
        assert.equal(provided.open(nonce, aad, c, tagA), true, `${what}: provider opens`);
        assert.deepEqual(c, plain);
        assert.equal(direct.open(nonce, aad, b, tagB), true, `${what}: direct opens`);
        assert.deepEqual(b, plain);
        // A forged tag is refused and the text zeroed.
        const forged = tagA.slice();
        forged[15]! ^= 1;
        const d = a.slice();
        assert.equal(direct.open(nonce, aad, d, forged), false, `${what}: forged tag`);
        assert.equal(d.every((x) => x === 0), true, `${what}: zeroed after a forged tag`);
        // The context is usable again after a refusal.
        const e = a.slice();
        assert.equal(direct.open(nonce, aad, e, tagA), true, `${what}: open after refusal`);
        assert.deepEqual(e, plain);
      }
    }
    direct.dispose();
    provided.dispose();
  }
});

Deno.test("GCM bound to scratch buffers: same bytes as seal/open, only [0, length) of a longer view touched", () => {
  for (const providerOnly of [false, true]) {
    const key = random(32);
    if (providerOnly) Deno.env.set("RHP_GCM_PROVIDER_ONLY", "1");
    let gcm: EvpAesGcm;
    try {
      gcm = new EvpAesGcm(key);
    } finally {
      Deno.env.delete("RHP_GCM_PROVIDER_ONLY");
    }
    assert.equal(gcm.direct, !providerOnly);
    const nonce = new Uint8Array(12);
    const aad = new Uint8Array(8);
    const tag = new Uint8Array(16);
    const bound = gcm.bind(nonce, aad, tag);
    for (const length of [0, 1, 16, 1400, 1438]) {
      const what = `${providerOnly ? "provider" : "direct"} path, text ${length}`;
      nonce.set(random(12));
      aad.set(random(8));
      const plain = random(length);
      const expected = plain.slice();
      const expectedTag = new Uint8Array(16);
      gcm.seal(nonce, aad, expected, expectedTag);
      // The text sits 16 bytes into a slot and the view runs 100 bytes past it.
      const slot = random(16 + length + 100);
      const after = slot.slice(16 + length);
      slot.set(plain, 16);
      const view = slot.subarray(16);
      bound.seal(view, length);
      assert.deepEqual(slot.subarray(16, 16 + length), expected, `${what}: ciphertext`);
      assert.deepEqual(tag, expectedTag, `${what}: tag`);
      assert.deepEqual(slot.subarray(16 + length), after, `${what}: bytes past the text`);
      assert.equal(bound.open(view, length), true, `${what}: opens`);
      assert.deepEqual(slot.subarray(16, 16 + length), plain, `${what}: plaintext again`);
      // A forged tag: refused, the text zeroed, nothing past it touched.
      bound.seal(view, length);
      tag[0]! ^= 0x80;
      assert.equal(bound.open(view, length), false, `${what}: forged tag refused`);
      assert.equal(slot.subarray(16, 16 + length).every((x) => x === 0), true, what);
      assert.deepEqual(slot.subarray(16 + length), after, `${what}: past the text after refusal`);
    }
    gcm.dispose();
    assert.throws(() => bound.seal(new Uint8Array(16), 16), /disposed/);
    assert.throws(() => bound.open(new Uint8Array(16), 16), /disposed/);
  }
});

Deno.test("GCM set up to seal only or open only: that half interoperates, the other refuses clearly", () => {
  for (const providerOnly of [false, true]) {
    const key = random(16);
    if (providerOnly) Deno.env.set("RHP_GCM_PROVIDER_ONLY", "1");
    let sealer: EvpAesGcm;
    let opener: EvpAesGcm;
    try {
      sealer = new EvpAesGcm(key, "seal");
      opener = new EvpAesGcm(key, "open");
    } finally {
      Deno.env.delete("RHP_GCM_PROVIDER_ONLY");
    }
    const what = providerOnly ? "provider path" : "direct path";
    const nonce = random(12);
    const aad = random(8);
    const tag = new Uint8Array(16);
    const plain = random(1400);
    const text = plain.slice();
    sealer.seal(nonce, aad, text, tag);
    assert.equal(opener.open(nonce, aad, text, tag), true, `${what}: opens what the sealer sealed`);
    assert.deepEqual(text, plain, what);
    const bound = { seal: sealer.bind(nonce, aad, tag), open: opener.bind(nonce, aad, tag) };
    bound.seal.seal(text, text.length);
    assert.equal(bound.open.open(text, text.length), true, `${what}: bound halves interoperate`);
    assert.deepEqual(text, plain, what);
    assert.throws(() => sealer.open(nonce, aad, text, tag), /set up to seal only/);
    assert.throws(() => opener.seal(nonce, aad, text, tag), /set up to open only/);
    assert.throws(() => sealer.bind(nonce, aad, tag).open(text, 16), /set up to seal only/);
    assert.throws(() => opener.bind(nonce, aad, tag).seal(text, 16), /set up to open only/);
    sealer.dispose();
    opener.dispose();
    assert.throws(() => sealer.seal(nonce, aad, text, tag), /disposed/);
    assert.throws(() => bound.open.open(text, 16), /disposed/);
  }
});
