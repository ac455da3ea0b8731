/**
 * The text form of web-user password hashes in auth.xml: `scrypt$N$r$p$salt$hash`, with N, r
 * and p in decimal (RFC 7914) and salt and hash in base64. Only the format lives here; hashing
 * and verification are in lib/auth (the secure side).
 */
import type { ScryptHash } from "./types.ts";

/** Limits a stored hash must respect (memory is 128·N·r bytes). */
export const SCRYPT_LIMITS = {
  minN: 1024,
  maxN: 1 << 20,
  maxR: 32,
  maxP: 16,
  /** 128·N·r may not exceed this (bytes). */
  maxMemory: 256 * 1024 * 1024,
  minSaltLength: 16,
  minHashLength: 16,
  maxHashLength: 64,
} as const;

function decodeBase64(text: string): Uint8Array | undefined {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text)) return undefined;
  try {
    const padded = text.padEnd(text.length + ((4 - (text.length % 4)) % 4), "=");
    const binary = atob(padded);
    return Uint8Array.from(binary, (c) => c.charCodeAt(0));
  } catch {
    return undefined;
  }
}

/** Standard base64 without padding. */
export function encodeBase64(bytes: Uint8Array): string {
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/=+$/, "");
}

/**
 * Parses `scrypt$N$r$p$salt$hash`. Returns the hash or a problem text that never quotes the
 * value (a hash is not a password, but it is still not for logs).
 *
 * @example
 * ```ts
 * const h = parseScryptHash("scrypt$16384$8$1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaA");
 * typeof h === "string" ? console.error(h) : h.n; // 16384
 * ```
 */
export function parseScryptHash(text: string): ScryptHash | string {
  const parts = text.split("$");
  if (parts.length !== 6 || parts[0] !== "scrypt") {
    return 'not a password hash of the form scrypt$N$r$p$salt$hash (create one with "rockhopper hash-password")';
  }
  const [, nText, rText, pText, saltText, hashText] = parts as [
    string,
    string,
    string,
    string,
    string,
    string,
  ];
  const numbers = [nText, rText, pText].map((t) => /^[1-9][0-9]{0,9}$/.test(t) ? Number(t) : NaN);
  const [n, r, p] = numbers as [number, number, number];
  const L = SCRYPT_LIMITS;
  if (numbers.some(Number.isNaN)) return "scrypt parameters N, r and p must be whole numbers";
  if (n < L.minN || n > L.maxN || (n & (n - 1)) !== 0) {
    return `scrypt N must be a power of two in ${L.minN}-${L.maxN}`;
  }
  if (r > L.maxR) return `scrypt r must be in 1-${L.maxR}`;
  if (p > L.maxP) return `scrypt p must be in 1-${L.maxP}`;
  if (128 * n * r > L.maxMemory) {
    return `scrypt N and r need more than ${L.maxMemory / (1024 * 1024)} MiB (128·N·r)`;
  }
  const salt = decodeBase64(saltText);
  if (!salt || salt.length < L.minSaltLength) {
    return `the salt must be base64 of at least ${L.minSaltLength} octets`;
  }
  const hash = decodeBase64(hashText);
  if (!hash || hash.length < L.minHashLength || hash.length > L.maxHashLength) {
    return `the hash must be base64 of ${L.minHashLength}-${L.maxHashLength} octets`;
  }
  return { n, r, p, salt, hash };
}

/**
 * Renders a hash in the text form {@link parseScryptHash} reads.
 *
 * @example
 * ```ts
 * formatScryptHash({ n: 32768, r: 8, p: 1, salt, hash }); // "scrypt$32768$8$1$…$…"
 * ```
 */
export function formatScryptHash(value: ScryptHash): string {
  return `scrypt$${value.n}$${value.r}$${value.p}$${encodeBase64(value.salt)}$${
    encodeBase64(value.hash)
  }`;
}
