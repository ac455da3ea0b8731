/**
 * Giving up Deno permissions at run time (`Deno.permissions.revoke`), and checking from inside
 * a process that a secret file is out of its reach.
 *
 * Deno cannot narrow a global grant: after `--allow-read` (no list), revoking one path changes
 * nothing, only revoking `read` altogether does. A process started with a list
 * (`--allow-read=a,b`) can give up single paths.
 */
import type { Logger } from "../../log/mod.ts";

/** Permissions a process can give up whole. */
export type RevocableName = "read" | "write" | "net" | "env" | "sys" | "run" | "ffi";

/** Revokes each permission whole; returns the names that were revoked (for the log). */
export async function revokeAll(names: readonly RevocableName[]): Promise<string[]> {
  const done: string[] = [];
  for (const name of names) {
    const status = await Deno.permissions.revoke({ name } as Deno.PermissionDescriptor);
    if (status.state !== "granted") done.push(name);
  }
  return done;
}

/**
 * Revokes read and write of each path. Returns the paths still readable afterwards (a global
 * `--allow-read` cannot be narrowed).
 */
export async function revokePaths(paths: readonly string[]): Promise<string[]> {
  const stillReadable: string[] = [];
  for (const path of paths) {
    await Deno.permissions.revoke({ name: "read", path });
    await Deno.permissions.revoke({ name: "write", path });
    if ((await Deno.permissions.query({ name: "read", path })).state === "granted") {
      stillReadable.push(path);
    }
  }
  return stillReadable;
}

/** The outcome of {@link checkUnreadable}. */
export type ReadCheck =
  | { readable: false; reason: "NotCapable" | "PermissionDenied" | "NotFound" | string }
  | { readable: true };

/**
 * Tries to open `path` for reading (and closes it at once: nothing is read). Used by the main
 * process on itself after start: auth.xml must be out of its reach.
 */
export function checkUnreadable(path: string): ReadCheck {
  try {
    Deno.openSync(path, { read: true }).close();
    return { readable: true };
  } catch (e) {
    return { readable: false, reason: (e as Error).name };
  }
}

/** Logs the result of {@link checkUnreadable} for auth.xml the way operators read it. */
export function logReadCheck(log: Logger, path: string, check: ReadCheck): void {
  if (!check.readable) {
    log.info(
      `${path} is out of reach of the main process (${check.reason}): only the secure process reads it`,
    );
    return;
  }
  log.warn(
    `${path} is readable by the main process: it has a global --allow-read and runs as a user that may open the file; start as root with -u and -s naming different users (auth.xml mode 0600, owned by the -s user), or give --allow-read a list of files (conf/README.md, "Processes and privileges")`,
  );
}
