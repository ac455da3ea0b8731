/// <reference lib="deno.worker" />
/**
 * Test worker for shared_state_test.ts: claims `count` sequence numbers from the shared slot
 * through its own outbound EspSa (its own EVP context) and writes them to `results` from
 * `offset` on.
 */
import { LibcryptoProvider } from "../../lib/crypto/mod.ts";
import { EspSa } from "../../lib/esp/mod.ts";
import { sequenceSlotOf } from "../../lib/dispatch/shared_state.ts";

self.onmessage = (event: MessageEvent) => {
  const { shared, key, count, results, offset } = event.data as {
    shared: SharedArrayBuffer;
    key: Uint8Array;
    count: number;
    results: SharedArrayBuffer;
    offset: number;
  };
  const sa = new EspSa({
    spi: 0x1000,
    direction: "out",
    encryption: "aes-gcm-16",
    integrity: "none",
    encryptionKey: key,
    encapsulation: null,
    peerAddress: "198.51.100.2",
    crypto: new LibcryptoProvider(),
    sequence: sequenceSlotOf(shared),
  });
  const out = new Uint32Array(results);
  for (let i = 0; i < count; i++) out[offset + i] = sa.nextSequence();
  sa.dispose();
  self.postMessage("done");
  self.close();
};
