/**
 * Consistency between conf/rockhopper.xml and conf/auth.xml, checked after both loaded.
 * Errors are what would make a realm or peer unusable; warnings are what an operator should
 * hear about at start-up but may intend (a fresh install without any key yet).
 */
import { failAtSource, sourceOf } from "./element_reader.ts";
import { formatConfigProblem } from "./errors.ts";
import type { AuthConfig, RockhopperConfig } from "./types.ts";

/**
 * Checks that the two files describe the same realms and that every configured peer has a key.
 * Returns warnings as one-line texts (never containing a key) for the caller to log: an
 * enabled realm without any key, and a key for a peer that rockhopper.xml does not list (the
 * engine admits only listed peers).
 *
 * @throws {ConfigError} naming the file and line of the first inconsistency:
 * - a realm in auth.xml that rockhopper.xml does not define;
 * - an enabled realm of rockhopper.xml without a realm in auth.xml;
 * - a `<peer>` of rockhopper.xml with neither its own key nor a realm-wide `<my_auth psk>`;
 * - a web user (`<admin realm>`) scoped to a realm that rockhopper.xml does not define.
 *
 * @example
 * ```ts
 * const warnings = checkAuthAgainstConfig(config, auth);
 * for (const w of warnings) log.warn(w);
 * ```
 */
export function checkAuthAgainstConfig(config: RockhopperConfig, auth: AuthConfig): string[] {
  const warnings: string[] = [];
  for (const realmAuth of auth.realms) {
    if (!config.realms.some((r) => r.id === realmAuth.id)) {
      failAtSource(realmAuth, {
        file: auth.file,
        problem: `realm ${realmAuth.id} is not defined in ${config.file}`,
        attribute: "id",
      });
    }
  }
  for (const admin of auth.admins ?? []) {
    if (admin.realm === "any" || config.realms.some((r) => r.id === admin.realm)) continue;
    failAtSource(admin, {
      file: auth.file,
      problem: `realm ${admin.realm} of user ${admin.user} is not defined in ${config.file}`,
      attribute: "realm",
    });
  }
  for (const realm of config.realms) {
    const realmAuth = auth.realms.find((r) => r.id === realm.id);
    if (!realmAuth) {
      if (!realm.enabled) continue;
      failAtSource(realm, {
        file: config.file,
        problem:
          `realm ${realm.id} (${realm.name}) has no <realm id="${realm.id}"> in ${auth.file}: ` +
          "add one with its <my_auth>",
        attribute: "id",
      });
    }
    const realmWideKey = realmAuth.myAuth.psk !== undefined;
    // Peers an EAP role admits authenticate against <eap_user>, not with a key of their own.
    const eapRoles = (realmAuth.roles ?? []).some((r) => r.auth.startsWith("eap-"));
    for (const peer of realm.peers) {
      if (realmWideKey || eapRoles || realmAuth.peers.some((p) => p.id === peer.id)) continue;
      failAtSource(peer, {
        file: config.file,
        problem:
          `peer ${peer.id} has no PSK: add <peer id="${peer.id}" psk="..."/> to realm ${realm.id} ` +
          `in ${auth.file} (or auth="cert" with a <ca>), or a realm-wide psk on its <my_auth>`,
        attribute: "id",
      });
    }
    if (!realm.enabled) continue;
    for (const peerAuth of realmAuth.peers) {
      if (realm.peers.some((p) => p.id === peerAuth.id)) continue;
      const source = sourceOf(peerAuth);
      warnings.push(formatConfigProblem({
        file: auth.file,
        ...(source ? { line: source.line, element: source.element } : {}),
        problem: `peer ${peerAuth.id} has a key but is not a <peer> of realm ${realm.id} in ` +
          `${config.file}: it cannot connect until it is listed there`,
      }));
    }
    if (!realmWideKey && realmAuth.peers.length === 0 && !eapRoles) {
      const source = sourceOf(realmAuth);
      warnings.push(formatConfigProblem({
        file: auth.file,
        ...(source ? { line: source.line, element: source.element } : {}),
        problem: `realm ${realm.id} (${realm.name}) has no PSK yet: every peer will fail ` +
          "authentication until you add one (see the comment in the shipped auth.xml)",
      }));
    }
  }
  return warnings;
}
