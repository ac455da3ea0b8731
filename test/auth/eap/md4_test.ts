import { createHash } from "node:crypto";
import { md4 } from "../../../lib/auth/eap/mod.ts";
import { toHex } from "../../../lib/wire/mod.ts";
import { assertEquals } from "../../_assert.ts";
import { seededRandom, utf8 } from "./_helpers.ts";

/** RFC 1320 §A.5 "Test suite". */
const RFC1320_SUITE: [string, string][] = [
  ["", "31d6cfe0d16ae931b73c59d7e0c089c0"],
  ["a", "bde52cb31de33e46245e05fbdbd6fb24"],
  ["abc", "a448017aaf21d8525fc10ae87aa6729d"],
  ["message digest", "d9130a8164549fe818874806e1c7014b"],
  ["abcdefghijklmnopqrstuvwxyz", "d79e1c308aa5bbcdeea8ed63df412da9"],
  [
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
    "043f8582f241db351ce627e153e7f0e4",
  ],
  [
    "12345678901234567890123456789012345678901234567890123456789012345678901234567890",
    "e33b4ddc9c38f2199c3e7b164fcc0536",
  ],
];

for (const [input, digest] of RFC1320_SUITE) {
  Deno.test(`md4 matches the RFC 1320 test suite for ${JSON.stringify(input)}`, () => {
    assertEquals(toHex(md4(utf8(input))), digest);
  });
}

function nodeHasMd4(): boolean {
  try {
    createHash("md4");
    return true;
  } catch {
    return false;
  }
}

Deno.test({
  name: "md4 agrees with node:crypto across block and padding boundaries",
  // Deno 2.9's node:crypto has MD4 (OpenSSL 3 builds may not): a second opinion where present.
  ignore: !nodeHasMd4(),
}, () => {
  const random = seededRandom(1320);
  for (let length = 0; length <= 200; length++) {
    const message = new Uint8Array(length);
    random(message);
    const expected = createHash("md4").update(message).digest("hex");
    assertEquals(toHex(md4(message)), expected, `length ${length}`);
  }
});

Deno.test("md4 does not modify its input", () => {
  const message = utf8("abc");
  md4(message);
  assertEquals(Array.from(message), [0x61, 0x62, 0x63]);
});
