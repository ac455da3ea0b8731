/** SHA-1 and MD5 over byte parts, from `node:crypto` (no permissions, no FFI). */
import { Buffer } from "node:buffer";
import { createHash } from "node:crypto";

function digest(algorithm: "sha1" | "md5", parts: readonly Uint8Array[]): Uint8Array {
  const hash = createHash(algorithm);
  for (const part of parts) hash.update(Buffer.from(part.buffer, part.byteOffset, part.byteLength));
  const out = hash.digest();
  return new Uint8Array(out.buffer, out.byteOffset, out.byteLength).slice();
}

/** SHA-1 of the concatenation of `parts` (20 bytes). */
export function sha1(...parts: Uint8Array[]): Uint8Array {
  return digest("sha1", parts);
}

/** MD5 of the concatenation of `parts` (16 bytes). */
export function md5(...parts: Uint8Array[]): Uint8Array {
  return digest("md5", parts);
}
