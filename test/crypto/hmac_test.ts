import assert from "node:assert/strict";
import type { HashName } from "../../lib/crypto/provider.ts";
import { fromHex, toHex } from "../../lib/wire/mod.ts";
import { ascii, PROVIDERS } from "./_providers.ts";

/** RFC 4231 §4: test cases 1, 2, 4, 5 (truncation to 128 bits) and 6. */
const RFC4231: {
  name: string;
  key: Uint8Array;
  data: Uint8Array;
  truncate?: number;
  expected: Record<"sha256" | "sha384" | "sha512", string>;
}[] = [
  {
    name: "test case 1",
    key: new Uint8Array(20).fill(0x0b),
    data: ascii("Hi There"),
    expected: {
      sha256: "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
      sha384:
        "afd03944d84895626b0825f4ab46907f15f9dadbe4101ec682aa034c7cebc59cfaea9ea9076ede7f4af152e8b2fa9cb6",
      sha512:
        "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cdedaa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854",
    },
  },
  {
    name: "test case 2",
    key: ascii("Jefe"),
    data: ascii("what do ya want for nothing?"),
    expected: {
      sha256: "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
      sha384:
        "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e8e2240ca5e69e2c78b3239ecfab21649",
      sha512:
        "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737",
    },
  },
  {
    name: "test case 4",
    key: fromHex("0102030405060708090a0b0c0d0e0f10111213141516171819"),
    data: new Uint8Array(50).fill(0xcd),
    expected: {
      sha256: "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b",
      sha384:
        "3e8a69b7783c25851933ab6290af6ca77a9981480850009cc5577c6e1f573b4e6801dd23c4a7d679ccf8a386c674cffb",
      sha512:
        "b0ba465637458c6990e5a8c5f61d4af7e576d97ff94b872de76f8050361ee3dba91ca5c11aa25eb4d679275cc5788063a5f19741120c4f2de2adebeb10a298dd",
    },
  },
  {
    name: "test case 5 (truncated to 128 bits)",
    key: new Uint8Array(20).fill(0x0c),
    data: ascii("Test With Truncation"),
    truncate: 16,
    expected: {
      sha256: "a3b6167473100ee06e0c796c2955552b",
      sha384: "3abf34c3503b2a23a46efc619baef897",
      sha512: "415fad6271580a531d4179bc891d87a6",
    },
  },
  {
    name: "test case 6 (131-byte key)",
    key: new Uint8Array(131).fill(0xaa),
    data: ascii("Test Using Larger Than Block-Size Key - Hash Key First"),
    expected: {
      sha256: "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
      sha384:
        "4ece084485813e9088d2c63a041bc5b44f9ef1012a2b588f3cd11f05033ac4c60c2ef6ab4030fe8296248df163f44952",
      sha512:
        "80b24263c7c1a3ebb71493c1dd7be8b49b46d1f41b4aeec1121b013783f8f3526b56d037e05f2598bd0fd2215d6a1e5295e64f73f63f0aec8b915a985d786598",
    },
  },
];

const OUTPUT_LENGTH: Record<HashName, number> = { sha1: 20, sha256: 32, sha384: 48, sha512: 64 };

for (const provider of PROVIDERS) {
  Deno.test(`${provider.name}: HMAC-SHA2 matches the RFC 4231 vectors`, () => {
    for (const vector of RFC4231) {
      for (const hash of ["sha256", "sha384", "sha512"] as const) {
        const mac = provider.createMac(hash, vector.key);
        assert.equal(mac.outputLength, OUTPUT_LENGTH[hash]);
        const out = new Uint8Array(vector.truncate ?? mac.outputLength);
        mac.compute([vector.data], out);
        assert.equal(toHex(out), vector.expected[hash], `${vector.name} ${hash}`);
        mac.dispose();
      }
    }
  });

  Deno.test(`${provider.name}: HMAC over several parts equals HMAC over their concatenation`, () => {
    const mac = provider.createMac("sha256", new Uint8Array(20).fill(0x0b));
    const out = new Uint8Array(32);
    mac.compute([ascii("Hi"), new Uint8Array(0), ascii(" The"), ascii("re")], out);
    assert.equal(toHex(out), RFC4231[0]!.expected.sha256);
    mac.dispose();
  });

  Deno.test(`${provider.name}: HMAC context gives the same answer when reused`, () => {
    const mac = provider.createMac("sha384", ascii("Jefe"));
    const first = new Uint8Array(48);
    const other = new Uint8Array(48);
    const again = new Uint8Array(48);
    mac.compute([ascii("what do ya want for nothing?")], first);
    mac.compute([ascii("something else")], other);
    mac.compute([ascii("what do ya want for nothing?")], again);
    assert.equal(toHex(first), RFC4231[1]!.expected.sha384);
    assert.notEqual(toHex(other), toHex(first));
    assert.equal(toHex(again), toHex(first));
    mac.dispose();
  });

  Deno.test(`${provider.name}: HMAC-SHA1 keeps working for backward compatibility`, () => {
    // RFC 2202 test case 1.
    const mac = provider.createMac("sha1", new Uint8Array(20).fill(0x0b));
    const out = new Uint8Array(12); // HMAC-SHA1-96
    mac.compute([ascii("Hi There")], out);
    assert.equal(toHex(out), "b617318655057264e28bc0b6");
    mac.dispose();
  });

  Deno.test(`${provider.name}: HMAC with an empty key matches the definition`, () => {
    // HMAC-SHA256("", "") as computed by any conforming implementation.
    const mac = provider.createMac("sha256", new Uint8Array(0));
    const out = new Uint8Array(32);
    mac.compute([], out);
    assert.equal(toHex(out), "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
    mac.dispose();
  });

  Deno.test(`${provider.name}: HMAC rejects an output longer than the hash or empty`, () => {
    const mac = provider.createMac("sha256", ascii("key"));
    assert.throws(() => mac.compute([ascii("x")], new Uint8Array(33)), {
      name: "RangeError",
      message: "Cannot compute HMAC: output is 33 bytes, expected 1..32",
    });
    assert.throws(() => mac.compute([ascii("x")], new Uint8Array(0)), RangeError);
    mac.dispose();
  });

  Deno.test(`${provider.name}: HMAC context refuses work after dispose`, () => {
    const mac = provider.createMac("sha512", ascii("key"));
    mac.dispose();
    mac.dispose();
    assert.throws(() => mac.compute([ascii("x")], new Uint8Array(64)), /disposed/);
  });
}
