/** Byte helpers: bounds-checked reader, growable writer, hex, checksums. */
export { DecodeError } from "./errors.ts";
export { ByteReader } from "./reader.ts";
export { ByteWriter } from "./writer.ts";
export { bytesEqual, concatBytes, fromHex, toHex } from "./hex.ts";
