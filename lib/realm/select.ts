/**
 * Realm selection: which realm a peer belongs to, from its identity (and, once known, its
 * certificate and EAP identity), and which realm a requested IDr names.
 *
 * Precedence (README.md has examples): the most specific matching rule wins, by tier
 *   1. `id`     an exact identity (a listed peer)
 *   2. `dn`     more attributes first
 *   3. `fqdn`, `email`, `san dns:`/`san email:`  more domain labels first; a full address first of all
 *   4. `ip`, `san ip:`  the narrower range first
 *   5. `eap`    exact first, then the longer literal prefix/suffix
 *   6. `any`
 * and a tie goes to the realm listed first (then to its first rule).
 */
import {
  compareSpecificity,
  matchPreparedPeer,
  type MatchRule,
  type PeerFacts,
  preparePeer,
  type Specificity,
} from "./match_rule.ts";
import { identitiesEqual, type Identity } from "./identity.ts";

/** What selection needs of a realm: its id, name and match rules, in file order. */
export interface RealmRules {
  id: number;
  name: string;
  rules: readonly MatchRule[];
}

/** A realm chosen for a peer, with the rule that decided it and how specific that rule was. */
export interface RealmSelection<R extends RealmRules = RealmRules> {
  realm: R;
  rule: MatchRule;
  specificity: Specificity;
}

/**
 * Every realm with a rule that matches `peer`, the chosen one first (precedence in the module
 * comment); each realm appears once, with its most specific matching rule.
 *
 * @throws {DerDecodeError} when the identity is an ID_DER_ASN1_DN that is not valid DER (the
 * engine answers AUTHENTICATION_FAILED).
 *
 * @example
 * ```ts
 * matchingRealms(realms, { identity: parseIdentity("fqdn:gw.sales.example.com") })
 *   .map((s) => s.realm.name); // ["sales", "corporate", "guests"]
 * ```
 */
export function matchingRealms<R extends RealmRules>(
  realms: readonly R[],
  peer: PeerFacts,
): RealmSelection<R>[] {
  const prepared = preparePeer(peer);
  const found: { selection: RealmSelection<R>; order: number }[] = [];
  realms.forEach((realm, order) => {
    let best: RealmSelection<R> | undefined;
    for (const rule of realm.rules) {
      const specificity = matchPreparedPeer(rule, prepared);
      if (specificity && (!best || compareSpecificity(specificity, best.specificity) > 0)) {
        best = { realm, rule, specificity };
      }
    }
    if (best) found.push({ selection: best, order });
  });
  found.sort((a, b) =>
    compareSpecificity(b.selection.specificity, a.selection.specificity) || a.order - b.order
  );
  return found.map((f) => f.selection);
}

/**
 * The realm for `peer`: the one with the most specific matching rule, the first listed on a
 * tie; `undefined` when no rule of any realm matches (the engine answers
 * AUTHENTICATION_FAILED).
 *
 * @throws {DerDecodeError} when the identity is an ID_DER_ASN1_DN that is not valid DER.
 *
 * @example
 * ```ts
 * const realms = [
 *   { id: 1, name: "corporate", rules: [parseMatchRule("fqdn", "example.com")] },
 *   { id: 2, name: "sales", rules: [parseMatchRule("fqdn", "sales.example.com")] },
 * ];
 * selectRealm(realms, { identity: parseIdentity("fqdn:gw.sales.example.com") })?.realm.name; // "sales"
 * selectRealm(realms, { identity: parseIdentity("fqdn:gw.example.org") }); // undefined
 * ```
 */
export function selectRealm<R extends RealmRules>(
  realms: readonly R[],
  peer: PeerFacts,
): RealmSelection<R> | undefined {
  return matchingRealms(realms, peer)[0];
}

/** What IDr selection needs of a realm: our identity in it. */
export interface RealmLocalIdentity {
  localIdentity: Identity;
}

/**
 * The first realm (file order) whose own identity equals the IDr the initiator asked for
 * (RFC 7296 §3.5), compared as {@link identitiesEqual} does; `undefined` when none does (the
 * responder may then answer with an identity of its choice).
 *
 * @example
 * ```ts
 * const realms = [
 *   { id: 1, localIdentity: parseIdentity("fqdn:vpn.example.com") },
 *   { id: 2, localIdentity: parseIdentity("fqdn:sales-vpn.example.com") },
 * ];
 * selectRealmForIdr(realms, parseIdentity("fqdn:SALES-VPN.example.com"))?.id; // 2
 * ```
 */
export function selectRealmForIdr<R extends RealmLocalIdentity>(
  realms: readonly R[],
  idr: Identity,
): R | undefined {
  return realms.find((realm) => identitiesEqual(realm.localIdentity, idr));
}
