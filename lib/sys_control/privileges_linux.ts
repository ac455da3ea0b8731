/**
 * Switching the process to an unprivileged user (`-u`/`-s`), through libc over FFI:
 *   1. PR_SET_KEEPCAPS when capabilities must survive (the secure process keeps CAP_NET_ADMIN
 *      for `ip`)
 *   2. setgroups([gid]) → setgid(gid) → setuid(uid); glibc applies them to every thread
 *   3. capset: the kept capabilities effective, permitted and inheritable on this (the JS)
 *      thread, then raised as *ambient* so that `ip`, spawned from this thread, has them too
 *   4. PR_SET_NO_NEW_PRIVS: no set-user-ID program can give the privileges back
 *   5. check: the ids are the new ones and setuid(0) fails
 *
 * Every step that fails throws a SysError naming it; the caller must then exit (a half-switched
 * process is not safe to run).
 */
import { lastError, libc } from "../sys/mod.ts";

/** Capability numbers (linux/capability.h) the appliance may keep. */
export const Capability = {
  /** Interface addresses, routes, link state (the secure process's `ip` calls). */
  NetAdmin: 12,
  /** Raw sockets. */
  NetRaw: 13,
} as const;
export type CapabilityNumber = typeof Capability[keyof typeof Capability];

const PR_SET_KEEPCAPS = 8;
const PR_SET_NO_NEW_PRIVS = 38;
const PR_CAP_AMBIENT = 47;
const PR_CAP_AMBIENT_RAISE = 2;
const LINUX_CAPABILITY_VERSION_3 = 0x20080522;

const EXTRA_SYMBOLS = {
  /** `int prctl(int option, unsigned long arg2, ...)` with four unsigned long arguments. */
  prctl: { parameters: ["i32", "u64", "u64", "u64", "u64"], result: "i32" },
  /** `int capset(cap_user_header_t hdr, const cap_user_data_t data)`. */
  capset: { parameters: ["buffer", "buffer"], result: "i32" },
  /** `struct passwd *getpwnam(const char *name)`. */
  getpwnam: { parameters: ["buffer"], result: "pointer" },
} as const satisfies Deno.ForeignLibraryInterface;

let extra: Deno.DynamicLibrary<typeof EXTRA_SYMBOLS> | undefined;
function extraSymbols(): Deno.DynamicLibrary<typeof EXTRA_SYMBOLS>["symbols"] {
  if (extra === undefined) extra = Deno.dlopen("libc.so.6", EXTRA_SYMBOLS);
  return extra.symbols;
}

/** A user to switch to. */
export interface UserIdentity {
  /** As given (`nobody`, `65534`, `65534:65534`). */
  name: string;
  uid: number;
  gid: number;
}

/** The user could not be found, or the switch failed. */
export class UserSwitchError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "UserSwitchError";
  }
}

const NUMERIC = /^(\d{1,10})(?::(\d{1,10}))?$/;
const NAME = /^[A-Za-z_][A-Za-z0-9_.-]{0,31}\$?$/;

/**
 * Resolves `-u`/`-s` values: a user name (its uid and primary gid from the user database,
 * through getpwnam), or `UID` / `UID:GID` in digits. Throws {@link UserSwitchError}.
 *
 * @example
 * ```ts
 * lookupUser("nobody"); // { name: "nobody", uid: 65534, gid: 65534 }
 * lookupUser("64001:64001");
 * ```
 */
export function lookupUser(spec: string): UserIdentity {
  const numeric = NUMERIC.exec(spec);
  if (numeric) {
    const uid = Number(numeric[1]);
    const gid = Number(numeric[2] ?? numeric[1]);
    if (uid > 0xffff_fffe || gid > 0xffff_fffe) {
      throw new UserSwitchError(`Cannot use user ${spec}: id out of range`);
    }
    return { name: spec, uid, gid };
  }
  if (!NAME.test(spec)) {
    throw new UserSwitchError(`Cannot use user ${JSON.stringify(spec)}: not a user name`);
  }
  const name = new TextEncoder().encode(`${spec}\0`);
  const entry = extraSymbols().getpwnam(name);
  if (entry === null) throw new UserSwitchError(`Cannot use user ${spec}: no such user`);
  const view = new Deno.UnsafePointerView(entry);
  // struct passwd on LP64: pw_name, pw_passwd (pointers), then pw_uid at 16 and pw_gid at 20.
  return { name: spec, uid: view.getUint32(16), gid: view.getUint32(20) };
}

/** The real user id of this process. */
export function currentUid(): number {
  return libc().getuid();
}

/**
 * Switches this process to `user` for good, keeping `keep` capabilities (needs root). Throws
 * a {@link UserSwitchError} naming the step that failed.
 *
 * @example
 * ```ts
 * switchUser(lookupUser("rhpprotected"), { keep: [Capability.NetAdmin] });
 * ```
 */
export function switchUser(
  user: UserIdentity,
  options: { keep?: readonly CapabilityNumber[] } = {},
): void {
  const c = libc();
  const x = extraSymbols();
  const keep = options.keep ?? [];
  const step = (ok: boolean, call: string, action: string) => {
    if (!ok) {
      const cause = lastError(call, action);
      throw new UserSwitchError(`Cannot switch to user ${user.name}: ${cause.message}`, { cause });
    }
  };
  if (c.geteuid() !== 0) {
    throw new UserSwitchError(
      `Cannot switch to user ${user.name}: the process does not run as root (uid ${c.getuid()})`,
    );
  }
  if (keep.length > 0) {
    step(x.prctl(PR_SET_KEEPCAPS, 1n, 0n, 0n, 0n) === 0, "prctl", "keep capabilities");
  }
  const groups = new Uint32Array([user.gid]);
  step(c.setgroups(1n, new Uint8Array(groups.buffer)) === 0, "setgroups", `setgroups(${user.gid})`);
  step(c.setgid(user.gid) === 0, "setgid", `setgid(${user.gid})`);
  step(c.setuid(user.uid) === 0, "setuid", `setuid(${user.uid})`);
  if (keep.length > 0) {
    let mask = 0;
    for (const cap of keep) mask |= 1 << cap;
    const header = new Uint32Array([LINUX_CAPABILITY_VERSION_3, 0]);
    // Two cap_user_data structs (capabilities 0-31, 32-63): effective, permitted, inheritable.
    const data = new Uint32Array([mask, mask, mask, 0, 0, 0]);
    step(
      x.capset(new Uint8Array(header.buffer), new Uint8Array(data.buffer)) === 0,
      "capset",
      "keep capabilities after setuid",
    );
    for (const cap of keep) {
      step(
        x.prctl(PR_CAP_AMBIENT, BigInt(PR_CAP_AMBIENT_RAISE), BigInt(cap), 0n, 0n) === 0,
        "prctl",
        `raise ambient capability ${cap}`,
      );
    }
    step(x.prctl(PR_SET_KEEPCAPS, 0n, 0n, 0n, 0n) === 0, "prctl", "clear keep-capabilities");
  }
  step(x.prctl(PR_SET_NO_NEW_PRIVS, 1n, 0n, 0n, 0n) === 0, "prctl", "set no_new_privs");
  if (c.getuid() !== user.uid || c.geteuid() !== user.uid || c.getgid() !== user.gid) {
    throw new UserSwitchError(`Cannot switch to user ${user.name}: the ids did not change`);
  }
  if (user.uid !== 0 && c.setuid(0) === 0) {
    throw new UserSwitchError(`Cannot switch to user ${user.name}: root could be regained`);
  }
}
