import { ByteReader, DecodeError } from "../../../lib/wire/mod.ts";
import { NotifyType, PayloadType, ProtocolId } from "../../../lib/ike/constants.ts";
import {
  decodeNotify,
  decodePayloadChain,
  encodePayloadChain,
  type NotifyPayload,
} from "../../../lib/ike/payloads/mod.ts";
import { assert, assertRoundTrip, assertThrowsError, hex } from "./_helpers.ts";

const HASH = hex("5c4f0a9e8a1b2c3d4e5f60718293a4b5c6d7e8f9");
const NAT_D: NotifyPayload = {
  type: PayloadType.Notify,
  protocol: 0,
  spi: new Uint8Array(0),
  notifyType: NotifyType.NatDetectionSourceIp,
  data: HASH,
};
// Generic header (last payload, length 28) + protocol 0, SPI size 0, type 16388 + SHA-1 hash
// (RFC 7296 §3.10, §2.23).
const GOLDEN = hex(`00 00 00 1c  00 00 40 04  5c4f0a9e8a1b2c3d4e5f60718293a4b5c6d7e8f9`);

Deno.test("Notify: decodes the hand-made NAT_DETECTION_SOURCE_IP vector", () => {
  assert.deepEqual(decodePayloadChain(PayloadType.Notify, GOLDEN), [NAT_D]);
});

Deno.test("Notify: encodes NAT_DETECTION_SOURCE_IP to the hand-made vector", () => {
  assert.deepEqual(encodePayloadChain([NAT_D]).bytes, GOLDEN);
});

Deno.test("Notify: round trips an ESP notification with an SPI and an empty status", () => {
  assertRoundTrip({
    type: PayloadType.Notify,
    protocol: ProtocolId.Esp,
    spi: hex("01020304"),
    notifyType: NotifyType.RekeySa,
    data: new Uint8Array(0),
  });
  assertRoundTrip({
    type: PayloadType.Notify,
    protocol: 0,
    spi: new Uint8Array(0),
    notifyType: NotifyType.IkeFragmentationSupported,
    data: new Uint8Array(0),
  });
});

Deno.test("Notify: rejects an SPI size that overruns the payload", () => {
  assertThrowsError(
    () => decodeNotify(new ByteReader(hex("03 04 40 09 0102"))),
    DecodeError,
    "Cannot decode Notify payload: SPI size 4 overruns the 2 bytes left",
  );
});

Deno.test("Notify: rejects a body shorter than 4 bytes", () => {
  assertThrowsError(
    () => decodeNotify(new ByteReader(hex("00 00 40"))),
    DecodeError,
    "Notify payload message type",
  );
});
