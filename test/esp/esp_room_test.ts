import { assert, assertEquals, assertThrows } from "../_assert.ts";
import { LibcryptoProvider } from "../../lib/crypto/mod.ts";
import { encapsulate, espFraming, largestInnerLength } from "../../lib/esp/mod.ts";
import { EncrId, IntegId } from "../../lib/ike/mod.ts";
import { ESP_SUITES } from "../../lib/ike/suites.ts";
import { ipv4Packet, saPair, SUITE_NAMES } from "./_helpers.ts";

const crypto = new LibcryptoProvider();

Deno.test("largestInnerLength: the real ESP packet of that inner length fits, one byte more does not", () => {
  for (const name of SUITE_NAMES) {
    const framing = espFraming(ESP_SUITES.get(name)!);
    const { outbound } = saPair(name, crypto);
    const out = new Uint8Array(4096);
    for (let room = 1200; room <= 1500; room++) {
      const inner = largestInnerLength(framing, room);
      const fits = encapsulate(outbound, ipv4Packet(inner), out);
      assert(fits > 0 && fits <= room, `${name}, room ${room}: ${inner} → ${fits} bytes`);
      const over = encapsulate(outbound, ipv4Packet(inner + 1), out);
      assert(over > room, `${name}, room ${room}: ${inner + 1} → ${over} bytes still fits`);
    }
    outbound.dispose();
  }
});

Deno.test("largestInnerLength: GCM in 1472 bytes (IPv4 + UDP on 1500) carries 1438, CBC-SHA256 1422", () => {
  assertEquals(largestInnerLength(espFraming(ESP_SUITES.get("aes256gcm16")!), 1472), 1438);
  assertEquals(largestInnerLength(espFraming(ESP_SUITES.get("aes128gcm16")!), 1472), 1438);
  assertEquals(largestInnerLength(espFraming(ESP_SUITES.get("aes256-sha256")!), 1472), 1422);
  for (let room = 0; room < 34; room++) {
    const inner = largestInnerLength(espFraming(ESP_SUITES.get("aes256gcm16")!), room);
    assert(inner < 0, `room ${room}: ${inner}`);
  }
});

Deno.test("espFraming: a suite the data path cannot run is refused by name", () => {
  const error = assertThrows(
    () => espFraming({ name: "3des-md5", encrId: 3, encrKeyBits: 192, integId: 1 }),
    RangeError,
  );
  assert(error.message.includes("3des-md5"), error.message);
  assertThrows(
    () =>
      espFraming({
        name: "aes-none",
        encrId: EncrId.AesCbc,
        encrKeyBits: 128,
        integId: IntegId.None,
      }),
    RangeError,
    "unsupported integrity",
  );
});
