/** Byte helpers: bounds-checked reader, growable writer, hex, IP address text. */
export { DecodeError } from "./errors.ts";
export { ByteReader } from "./reader.ts";
export { ByteWriter } from "./writer.ts";
export { bytesEqual, concatBytes, fromHex, toHex } from "./hex.ts";
export {
  compareAddresses,
  formatIpAddress,
  type FormatIpAddressOptions,
  parseIpAddress,
  tryParseIpAddress,
} from "./ip_address.ts";
