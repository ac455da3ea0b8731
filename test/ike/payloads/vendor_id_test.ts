import { ByteReader } from "../../../lib/wire/mod.ts";
import { PayloadType } from "../../../lib/ike/constants.ts";
import { decodeVendorId } from "../../../lib/ike/payloads/mod.ts";
import { assert, assertRoundTrip, hex } from "./_helpers.ts";

Deno.test("Vendor ID: keeps the raw bytes", () => {
  assert.deepEqual(decodeVendorId(new ByteReader(hex("882fe56d6fd20dbc2251613b2ebe5beb"))), {
    type: PayloadType.VendorId,
    data: hex("882fe56d6fd20dbc2251613b2ebe5beb"),
  });
});

Deno.test("Vendor ID: round trips, including an empty one", () => {
  assertRoundTrip({ type: PayloadType.VendorId, data: hex("882fe56d6fd20dbc2251613b2ebe5beb") });
  assertRoundTrip({ type: PayloadType.VendorId, data: new Uint8Array(0) });
});
