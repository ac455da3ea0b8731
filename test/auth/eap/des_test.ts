import { Buffer } from "node:buffer";
import { createCipheriv } from "node:crypto";
import { desEncryptBlock, expandDesKey } from "../../../lib/auth/eap/mod.ts";
import { fromHex, toHex } from "../../../lib/wire/mod.ts";
import { assertEquals, assertThrows } from "../../_assert.ts";
import { seededRandom } from "./_helpers.ts";

/** [key, plaintext, ciphertext] known answers. */
const KNOWN_ANSWERS: [string, string, string, string][] = [
  // FIPS 81 Appendix B: "Now is t" under 0123456789abcdef.
  ["FIPS 81 ECB example", "0123456789abcdef", "4e6f772069732074", "3fa40e8a984d4815"],
  // The classic worked example (key 133457799BBCDFF1).
  ["worked example", "133457799bbcdff1", "0123456789abcdef", "85e813540f0ab405"],
  // NIST SP 800-17 Table 1, variable plaintext under the all-parity key.
  ["SP 800-17 variable plaintext 1", "0101010101010101", "8000000000000000", "95f8a5e5dd31d900"],
  ["SP 800-17 variable plaintext 2", "0101010101010101", "4000000000000000", "dd7f121ca5015619"],
  ["SP 800-17 variable plaintext 3", "0101010101010101", "2000000000000000", "2e8653104f3834ea"],
  // NIST SP 800-17 Table 2, variable key on a zero block.
  ["SP 800-17 variable key 1", "8001010101010101", "0000000000000000", "95a8d72813daa94d"],
  ["SP 800-17 variable key 2", "4001010101010101", "0000000000000000", "0eec1487dd8c26d5"],
];

for (const [name, key, plaintext, ciphertext] of KNOWN_ANSWERS) {
  Deno.test(`desEncryptBlock matches the ${name} known answer`, () => {
    assertEquals(toHex(desEncryptBlock(fromHex(key), fromHex(plaintext))), ciphertext);
  });
}

Deno.test("desEncryptBlock agrees with node:crypto 3DES keyed K|K|K on random blocks", () => {
  // EDE with three equal keys is single DES; this Deno has des-ede3-cbc but not des-ecb.
  const random = seededRandom(463);
  for (let i = 0; i < 300; i++) {
    const key = new Uint8Array(8);
    const block = new Uint8Array(8);
    random(key);
    random(block);
    const cipher = createCipheriv("des-ede3-cbc", Buffer.concat([key, key, key]), Buffer.alloc(8));
    cipher.setAutoPadding(false);
    const expected = Buffer.concat([cipher.update(block), cipher.final()]);
    assertEquals(toHex(desEncryptBlock(key, block)), expected.toString("hex"), `case ${i}`);
  }
});

Deno.test("desEncryptBlock ignores the parity bits of the key", () => {
  const block = fromHex("4e6f772069732074");
  assertEquals(
    toHex(desEncryptBlock(fromHex("0023456789abcdee"), block)),
    toHex(desEncryptBlock(fromHex("0123456789abcdef"), block)),
  );
});

Deno.test("desEncryptBlock rejects keys and blocks that are not 8 bytes", () => {
  assertThrows(() => desEncryptBlock(new Uint8Array(7), new Uint8Array(8)), RangeError);
  assertThrows(() => desEncryptBlock(new Uint8Array(8), new Uint8Array(16)), RangeError);
});

Deno.test("expandDesKey spreads 56 bits over 8 bytes with odd parity", () => {
  assertEquals(toHex(expandDesKey(fromHex("ffffffffffffff"))), "fefefefefefefefe");
  assertEquals(toHex(expandDesKey(fromHex("00000000000000"))), "0101010101010101");
  // 7 key bits per byte, MSB first, then the parity bit: 1000000|0 → 0x80 ... 0000001|0 → 0x02.
  assertEquals(toHex(expandDesKey(fromHex("80000000000001"))), "8001010101010102");
  for (const byte of expandDesKey(fromHex("0123456789abcd"))) {
    let ones = 0;
    for (let b = byte; b; b >>= 1) ones += b & 1;
    assertEquals(ones % 2, 1, `byte ${byte.toString(16)} has odd parity`);
  }
  assertThrows(() => expandDesKey(new Uint8Array(8)), RangeError);
});
