import assert from "node:assert/strict";
import {
  createDh,
  DhGroupSpec,
  dhPublicKeyLength,
  isSupportedDhGroup,
} from "../../lib/crypto/dh.ts";
import { fromHex, toHex } from "../../lib/wire/mod.ts";

Deno.test("two parties agree on the DH secret for groups 14, 19, 20 and 31", () => {
  for (const group of [14, 19, 20, 31] as const) {
    const spec = DhGroupSpec[group];
    const alice = createDh(group);
    const bob = createDh(group);
    assert.equal(alice.group, group);
    assert.equal(alice.publicKey.length, spec.publicLength, `group ${group} public length`);
    assert.equal(dhPublicKeyLength(group), spec.publicLength);
    const s1 = alice.computeSecret(bob.publicKey);
    const s2 = bob.computeSecret(alice.publicKey);
    assert.equal(s1.length, spec.secretLength, `group ${group} secret length`);
    assert.equal(toHex(s1), toHex(s2), `group ${group}`);
    assert.notEqual(toHex(alice.publicKey), toHex(bob.publicKey));
  }
});

Deno.test("fresh exchanges of a group have fresh public values", () => {
  for (const group of [14, 19, 20, 31]) {
    assert.notEqual(toHex(createDh(group).publicKey), toHex(createDh(group).publicKey));
  }
});

Deno.test("group 19 matches the RFC 5903 §8.1 ECP-256 test vector", () => {
  const i = fromHex("C88F01F510D9AC3F70A292DAA2316DE544E9AAB8AFE84049C62A9C57862D1433");
  const r = fromHex("C6EF9C5D78AE012A011164ACB397CE2088685D8F06BF9BE0B283AB46476BEE53");
  const gi = "DAD0B65394221CF9B051E1FECA5787D098DFE637FC90B9EF945D0C3772581180" +
    "5271A0461CDB8252D61F1C456FA3E59AB1F45B33ACCF5F58389E0577B8990BB3";
  const gr = "D12DFB5289C8D4F81208B70270398C342296970A0BCCB74C736FC7554494BF63" +
    "56FBF3CA366CC23E8157854C13C58D6AAC23F046ADA30F8353E74F33039872AB";
  const girx = "D6840F6B42F6EDAFD13116E0E12565202FEF8E9ECE7DCE03812464D04B9442DE";
  const initiator = createDh(19, { privateKey: i });
  const responder = createDh(19, { privateKey: r });
  assert.equal(toHex(initiator.publicKey), gi.toLowerCase());
  assert.equal(toHex(responder.publicKey), gr.toLowerCase());
  assert.equal(toHex(initiator.computeSecret(fromHex(gr))), girx.toLowerCase());
  assert.equal(toHex(responder.computeSecret(fromHex(gi))), girx.toLowerCase());
});

Deno.test("group 20 matches the RFC 5903 §8.2 ECP-384 test vector", () => {
  const i = fromHex(
    "099F3C7034D4A2C699884D73A375A67F7624EF7C6B3C0F160647B67414DCE655E35B538041E649EE3FAEF896783AB194",
  );
  const gr =
    "E558DBEF53EECDE3D3FCCFC1AEA08A89A987475D12FD950D83CFA41732BC509D0D1AC43A0336DEF96FDA41D0774A3571" +
    "DCFBEC7AACF3196472169E838430367F66EEBE3C6E70C416DD5F0C68759DD1FFF83FA40142209DFF5EAAD96DB9E6386C";
  const gi =
    "667842D7D180AC2CDE6F74F37551F55755C7645C20EF73E31634FE72B4C55EE6DE3AC808ACB4BDB4C88732AEE95F41AA" +
    "9482ED1FC0EEB9CAFC4984625CCFC23F65032149E0E144ADA024181535A0F38EEB9FCFF3C2C947DAE69B4C634573A81C";
  const girx =
    "11187331C279962D93D604243FD592CB9D0A926F422E47187521287E7156C5C4D603135569B9E9D09CF5D4A270F59746";
  const initiator = createDh(20, { privateKey: i });
  assert.equal(toHex(initiator.publicKey), gi.toLowerCase());
  assert.equal(toHex(initiator.computeSecret(fromHex(gr))), girx.toLowerCase());
});

Deno.test("group 31 matches the RFC 7748 §6.1 X25519 key agreement vector", () => {
  const alice = createDh(31, {
    privateKey: fromHex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"),
  });
  const bob = createDh(31, {
    privateKey: fromHex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb"),
  });
  assert.equal(
    toHex(alice.publicKey),
    "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a",
  );
  assert.equal(
    toHex(bob.publicKey),
    "de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f",
  );
  const shared = "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742";
  assert.equal(toHex(alice.computeSecret(bob.publicKey)), shared);
  assert.equal(toHex(bob.computeSecret(alice.publicKey)), shared);
});

Deno.test("group 31 matches the RFC 7748 §5.2 X25519 function vectors", () => {
  const vectors = [
    [
      "a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4",
      "e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c",
      "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552",
    ],
    [
      // The u-coordinate has its top bit set: it must be masked, as RFC 7748 §5 requires.
      "4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d",
      "e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493",
      "95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957",
    ],
  ] as const;
  for (const [scalar, u, out] of vectors) {
    assert.equal(
      toHex(createDh(31, { privateKey: fromHex(scalar) }).computeSecret(fromHex(u))),
      out,
    );
  }
});

Deno.test("rejects peer public values of the wrong length", () => {
  const cases: [number, number, number][] = [[14, 255, 256], [19, 63, 64], [19, 65, 64], [
    20,
    97,
    96,
  ], [31, 31, 32]];
  for (const [group, length, expected] of cases) {
    const dh = createDh(group);
    assert.throws(() => dh.computeSecret(new Uint8Array(length).fill(1)), {
      name: "RangeError",
      message:
        `Cannot compute DH secret: group ${group} public value is ${length} bytes, expected ${expected}`,
    });
  }
});

Deno.test("rejects a group 14 public value of 0, 1 or p-1", () => {
  const dh = createDh(14);
  const zero = new Uint8Array(256);
  const one = new Uint8Array(256);
  one[255] = 1;
  // p - 1 for the RFC 3526 2048-bit prime, whose lowest 64 bits are all ones.
  const pMinus1 = fromHex(
    "FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD129024E088A67CC74020BBEA63B139B22514A08798E3404DD" +
      "EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED" +
      "EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE45B3DC2007CB8A163BF0598DA48361C55D39A69163FA8FD24CF5F" +
      "83655D23DCA3AD961C62F356208552BB9ED529077096966D670C354E4ABC9804F1746C08CA18217C32905E462E36CE3B" +
      "E39E772C180E86039B2783A2EC07A28FB5C55DF06F4C52C9DE2BCBF6955817183995497CEA956AE515D2261898FA0510" +
      "15728E5A8AACAA68FFFFFFFFFFFFFFFE",
  );
  for (const [what, value] of [["0", zero], ["1", one], ["p-1", pMinus1]] as const) {
    assert.throws(() => dh.computeSecret(value), {
      name: "RangeError",
      message: "Cannot compute DH secret: group 14 public value is out of range",
    }, what);
  }
});

Deno.test("rejects an ECP public value that is not on the curve", () => {
  const dh = createDh(19);
  const notOnCurve = new Uint8Array(64).fill(1);
  assert.throws(() => dh.computeSecret(notOnCurve), {
    name: "RangeError",
    message: "Cannot compute DH secret: group 19 public value is not a point on the curve",
  });
});

Deno.test("rejects X25519 low-order public values (all-zero shared secret)", () => {
  const dh = createDh(31);
  const lowOrder = [
    "0000000000000000000000000000000000000000000000000000000000000000",
    "0100000000000000000000000000000000000000000000000000000000000000",
    "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
  ];
  for (const u of lowOrder) {
    assert.throws(() => dh.computeSecret(fromHex(u)), {
      name: "RangeError",
      message:
        "Cannot compute DH secret: group 31 public value is a low-order point (all-zero secret)",
    }, u);
  }
});

Deno.test("rejects unsupported groups and bad fixed private keys", () => {
  assert.equal(isSupportedDhGroup(2), false);
  assert.equal(isSupportedDhGroup(31), true);
  assert.throws(() => createDh(2), {
    name: "RangeError",
    message: "Cannot create DH exchange: group 2 is not supported",
  });
  assert.throws(() => dhPublicKeyLength(21), RangeError);
  assert.throws(() => createDh(14, { privateKey: new Uint8Array(32) }), RangeError);
  assert.throws(() => createDh(19, { privateKey: new Uint8Array(31).fill(1) }), {
    name: "RangeError",
    message: "Cannot create DH exchange: group 19 private key is 31 bytes, expected 32",
  });
  assert.throws(() => createDh(31, { privateKey: new Uint8Array(16) }), RangeError);
});
