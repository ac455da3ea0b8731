/**
 * Web-user authentication for the management server: passwords checked against the
 * `scrypt$N$r$p$salt$hash` values of auth.xml's `<admin>` elements. The management server only
 * sees {@link WebUserAuthService}: it hands over a user name and password and gets back the
 * user's scope or null — never a hash. When the secure process lands, this check moves there
 * behind the same interface.
 */
import { createHmac, randomBytes, scrypt, timingSafeEqual } from "node:crypto";
import type { AuthConfig, ScryptHash, WebUserConfig } from "../config/mod.ts";
import { formatScryptHash, SCRYPT_LIMITS } from "../config/mod.ts";

/** What a successful login grants. */
export interface WebUserGrant {
  user: string;
  /** "any": every realm and the global settings; a realm id: only that realm. */
  realm: "any" | number;
}

/** The seam through which the management server checks web users. */
export interface WebUserAuthService {
  /** The user's grant when `password` is right, else null (also for an unknown user). */
  verifyWebUser(user: string, password: string): Promise<WebUserGrant | null>;
}

/** Parameters of a new hash. */
export interface ScryptParameters {
  n: number;
  r: number;
  p: number;
  saltLength: number;
  hashLength: number;
}

/** Parameters of new hashes: 32 MiB and about 0.1 s per check on a small router core. */
export const DEFAULT_SCRYPT_PARAMETERS: Readonly<ScryptParameters> = {
  n: 32768,
  r: 8,
  p: 1,
  saltLength: 16,
  hashLength: 32,
};

/** How long a verified user/password pair is remembered (no scrypt run per bus request). */
export const VERIFIED_CACHE_TTL_MS = 5 * 60_000;
const VERIFIED_CACHE_MAX = 256;

function scryptAsync(
  password: string,
  salt: Uint8Array,
  options: { n: number; r: number; p: number; length: number },
): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    scrypt(
      password,
      salt,
      options.length,
      {
        N: options.n,
        r: options.r,
        p: options.p,
        maxmem: SCRYPT_LIMITS.maxMemory + 1024 * 1024,
      },
      (error, key) => error ? reject(error) : resolve(new Uint8Array(key)),
    );
  });
}

/**
 * Hashes a password for an `<admin hash>` attribute.
 *
 * @example
 * ```ts
 * const line = `<admin user="admin" hash="${await hashPassword("a long passphrase")}" realm="any"/>`;
 * ```
 */
export async function hashPassword(
  password: string,
  options: Partial<ScryptParameters> = {},
): Promise<string> {
  const o = { ...DEFAULT_SCRYPT_PARAMETERS, ...options };
  const salt = new Uint8Array(randomBytes(o.saltLength));
  const hash = await scryptAsync(password, salt, { ...o, length: o.hashLength });
  return formatScryptHash({ n: o.n, r: o.r, p: o.p, salt, hash });
}

/** True when `password` reproduces `stored` (constant-time comparison). */
export async function verifyPassword(password: string, stored: ScryptHash): Promise<boolean> {
  const derived = await scryptAsync(password, stored.salt, {
    n: stored.n,
    r: stored.r,
    p: stored.p,
    length: stored.hash.length,
  });
  return timingSafeEqual(derived, stored.hash);
}

/**
 * Checks web users held in this process. Unknown users cost one scrypt run as well, so that
 * response times do not tell which user names exist. Successful checks are remembered for
 * {@link VERIFIED_CACHE_TTL_MS} under an HMAC of user and password with a per-process key;
 * the password itself is never stored.
 *
 * @example
 * ```ts
 * const users = new LocalWebUserService(auth);
 * const grant = await users.verifyWebUser("admin", password); // { user: "admin", realm: "any" } | null
 * ```
 */
export class LocalWebUserService implements WebUserAuthService {
  readonly #users: Map<string, WebUserConfig>;
  readonly #cacheKey = randomBytes(32);
  readonly #verified = new Map<string, { grant: WebUserGrant; expires: number }>();
  /** Same cost as a real user's hash; never matches (a random hash of a random password). */
  readonly #decoy: ScryptHash = {
    ...DEFAULT_SCRYPT_PARAMETERS,
    salt: new Uint8Array(randomBytes(16)),
    hash: new Uint8Array(randomBytes(32)),
  };

  constructor(auth: Pick<AuthConfig, "admins">) {
    this.#users = new Map((auth.admins ?? []).map((u) => [u.user, u]));
  }

  /** Number of configured web users. */
  get size(): number {
    return this.#users.size;
  }

  async verifyWebUser(user: string, password: string): Promise<WebUserGrant | null> {
    const entry = this.#users.get(user);
    const cacheId = createHmac("sha256", this.#cacheKey).update(user).update("\0")
      .update(password).digest("base64");
    const cached = this.#verified.get(cacheId);
    if (cached && cached.expires > Date.now() && entry) return { ...cached.grant };
    this.#verified.delete(cacheId);
    const ok = await verifyPassword(password, entry?.hash ?? this.#decoy);
    if (!ok || !entry) return null;
    const grant: WebUserGrant = { user: entry.user, realm: entry.realm };
    if (this.#verified.size >= VERIFIED_CACHE_MAX) {
      const now = Date.now();
      for (const [k, v] of this.#verified) if (v.expires <= now) this.#verified.delete(k);
      if (this.#verified.size >= VERIFIED_CACHE_MAX) this.#verified.clear();
    }
    this.#verified.set(cacheId, { grant, expires: Date.now() + VERIFIED_CACHE_TTL_MS });
    return { ...grant };
  }
}
