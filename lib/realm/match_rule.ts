/**
 * Realm match rules: the typed form of auth.xml's `<role type="..." match="..."/>`, the
 * parser that turns the attribute text into a rule with a clear error, and the matcher that
 * tells whether a peer fits a rule and how specifically.
 *
 * | type    | match text                                   | matches                                   |
 * |---------|----------------------------------------------|-------------------------------------------|
 * | `fqdn`  | `example.com`                                | an ID_FQDN equal to it or ending in `.example.com` |
 * | `email` | `example.com` / `a@example.com`              | an ID_RFC822_ADDR in that domain or a subdomain / that address |
 * | `dn`    | `OU=Sales, O=Example`                        | a DN (ID_DER_ASN1_DN, else the certificate subject) holding all those attributes |
 * | `san`   | `dns:vpn.example.com, email:example.com, ip:10.0.0.0/8` | a certificate subjectAltName matching any entry (rules of fqdn, email, ip) |
 * | `ip`    | `10.0.0.0/8`, `10.1.0.1-10.1.0.99`, `2001:db8::/32`, one address | an ID_IPV4_ADDR / ID_IPV6_ADDR inside |
 * | `eap`   | `alice`, `guest*`, `*@example.com`, `*`      | the EAP identity: exactly / by prefix / by suffix / any |
 * | `id`    | `fqdn:gw2.example.com` (identity text)       | exactly that identity (what a listed `<peer id>` becomes) |
 * | `any`   | (none)                                       | every peer                                 |
 *
 * Names, addresses and EAP identities compare without case. See lib/realm/README.md for the
 * precedence between rules.
 */
import { IdType } from "../ike/constants.ts";
import { IdentitySyntaxError, parseIdentity } from "../ike/payloads/mod.ts";
import { compareAddresses, tryParseIpAddress } from "../wire/mod.ts";
import {
  attributeCount,
  decodeDistinguishedName,
  type DistinguishedName,
  dnContains,
  DnSyntaxError,
  formatDistinguishedName,
  parseDistinguishedName,
} from "./distinguished_name.ts";
import { emailOf, fqdnOf, identitiesEqual, type Identity } from "./identity.ts";

/** An inclusive address range; `first` and `last` are both 4 or both 16 bytes. */
export interface IpRange {
  first: Uint8Array;
  last: Uint8Array;
}

/** `fqdn`: the name itself or any name under it (label boundaries), lower case. */
export interface FqdnRule {
  type: "fqdn";
  match: string;
  suffix: string;
}

/** `email`: every address in `value` or its subdomains (`domain`), or one `address`. */
export interface EmailRule {
  type: "email";
  match: string;
  form: "domain" | "address";
  /** Lower case, without `@` for a domain. */
  value: string;
}

/** `dn`: every attribute of `dn` must be in the peer's DN. */
export interface DnRule {
  type: "dn";
  match: string;
  dn: DistinguishedName;
}

/** One entry of a `san` rule. */
export type SanPattern =
  | { kind: "dns"; suffix: string }
  | { kind: "email"; form: "domain" | "address"; value: string }
  | { kind: "ip"; range: IpRange };

/** `san`: one of the certificate's subjectAltNames matches one of `entries`. */
export interface SanRule {
  type: "san";
  match: string;
  entries: SanPattern[];
}

/** `ip`: an address identity inside `range`. */
export interface IpRule {
  type: "ip";
  match: string;
  range: IpRange;
}

/** `eap`: the EAP identity (lower case compare), exactly, by prefix, by suffix, or any. */
export interface EapRule {
  type: "eap";
  match: string;
  form: "exact" | "prefix" | "suffix" | "any";
  /** The literal part, lower case (empty for `any`). */
  value: string;
}

/** `id`: exactly this identity; listed peers become such rules. */
export interface IdRule {
  type: "id";
  match: string;
  identity: Identity;
}

/** `any`: every peer. */
export interface AnyRule {
  type: "any";
  match: "";
}

/** A realm match rule. `match` is the text it was parsed from (for logs). */
export type MatchRule =
  | IdRule
  | DnRule
  | FqdnRule
  | EmailRule
  | SanRule
  | IpRule
  | EapRule
  | AnyRule;

/** The role types auth.xml accepts. */
export const MATCH_RULE_TYPES = ["fqdn", "email", "dn", "san", "ip", "eap", "id", "any"] as const;
/** One of {@link MATCH_RULE_TYPES}. */
export type MatchRuleType = (typeof MATCH_RULE_TYPES)[number];

/**
 * A role's text could not be parsed. `reason` is the problem alone, phrased after the match
 * text ("has an empty value"), for callers that report it with a file and line.
 *
 * @example
 * ```ts
 * try {
 *   parseMatchRule("dn", "OU=");
 * } catch (e) {
 *   if (e instanceof MatchRuleSyntaxError) e.message; // 'Cannot parse role: dn match "OU=" has an empty value'
 * }
 * ```
 */
export class MatchRuleSyntaxError extends SyntaxError {
  /** The role type as written. */
  readonly ruleType: string;
  /** The match text as written, `undefined` when absent. */
  readonly match: string | undefined;
  /** The problem, e.g. `has an empty value` or `needs a match attribute`. */
  readonly reason: string;
  constructor(ruleType: string, match: string | undefined, reason: string) {
    super(
      match === undefined
        ? `Cannot parse role: ${ruleType} ${reason}`
        : `Cannot parse role: ${ruleType} match "${match.slice(0, 120)}" ${reason}`,
    );
    this.name = "MatchRuleSyntaxError";
    this.ruleType = ruleType;
    this.match = match;
    this.reason = reason;
  }
}

/** Thrown by the part parsers; turned into a MatchRuleSyntaxError at the top. */
class Problem extends Error {}

function problem(reason: string): never {
  throw new Problem(reason);
}

const DNS_LABEL = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/;

/** Reads a domain name for a suffix match: lower case, without a final dot. */
function parseDomain(text: string, whole: string): string {
  let name = text.trim().toLowerCase();
  if (name.startsWith("*.") || name.startsWith(".")) {
    const bare = name.replace(/^\*?\./, "");
    problem(
      `has a wildcard; write "${bare}" (it matches ${bare} and every name under it)`,
    );
  }
  if (name.endsWith(".")) name = name.slice(0, -1);
  if (name === "") problem("is empty");
  if (tryParseIpAddress(name) !== undefined) {
    problem("is an IP address; use type ip (or ip: in a san rule)");
  }
  if (name.length > 253) problem("is longer than 253 characters");
  const bad = name.split(".").find((label) => !DNS_LABEL.test(label));
  if (bad !== undefined) {
    problem(
      bad === ""
        ? "has an empty label"
        : `has "${bad}", which is not a DNS label${text === whole ? "" : ` (in "${text}")`}`,
    );
  }
  return name;
}

const LOCAL_PART = /^[\x21-\x3f\x41-\x7e]+$/;

function parseEmail(text: string, whole: string): { form: "domain" | "address"; value: string } {
  const value = text.trim().toLowerCase();
  if (value === "") problem("is empty");
  const at = value.lastIndexOf("@");
  if (at < 0) return { form: "domain", value: parseDomain(value, whole) };
  const local = value.slice(0, at);
  if (local === "") return { form: "domain", value: parseDomain(value.slice(1), whole) };
  if (local === "*") {
    problem(`has a wildcard; write "${value.slice(at + 1)}" to match every address in the domain`);
  }
  if (!LOCAL_PART.test(local)) problem(`has "${local}" before "@", which is not an address`);
  return { form: "address", value: `${local}@${parseDomain(value.slice(at + 1), whole)}` };
}

/** Parses one address, a range `a-b` or a prefix `a/n` into an inclusive range. */
function parseIpRange(text: string): IpRange {
  const value = text.trim();
  if (value === "") problem("is empty");
  const dash = value.indexOf("-");
  if (dash >= 0) {
    const first = tryParseIpAddress(value.slice(0, dash).trim());
    const last = tryParseIpAddress(value.slice(dash + 1).trim());
    if (first === undefined || last === undefined) {
      problem("is not an address range (write first-last, e.g. 10.1.0.1-10.1.0.99)");
    }
    if (first.length !== last.length) problem("mixes IPv4 and IPv6");
    if (compareAddresses(first, last) > 0) problem("has its first address after its last");
    return { first, last };
  }
  const slash = value.indexOf("/");
  const address = tryParseIpAddress(slash < 0 ? value : value.slice(0, slash));
  if (address === undefined) {
    problem("is not an IP address, range (first-last) or prefix (address/length)");
  }
  if (slash < 0) return { first: address, last: address };
  const lengthText = value.slice(slash + 1);
  const bits = address.length * 8;
  if (!/^(?:0|[1-9][0-9]{0,2})$/.test(lengthText) || Number(lengthText) > bits) {
    problem(`has prefix length "${lengthText}" outside 0-${bits}`);
  }
  const length = Number(lengthText);
  const first = address.slice();
  const last = address.slice();
  for (let i = 0; i < address.length; i++) {
    const hostMask = 0xff >> Math.min(8, Math.max(0, length - i * 8));
    first[i] = address[i]! & ~hostMask;
    last[i] = address[i]! | hostMask;
  }
  if (compareAddresses(first, address) !== 0) {
    const network = value.slice(0, slash).includes(":") ? undefined : first.join(".");
    problem(
      `has host bits set${network ? ` (write ${network}/${length})` : ""}`,
    );
  }
  return { first, last };
}

function parseEap(text: string): Omit<EapRule, "type" | "match"> {
  const value = text.trim().toLowerCase();
  if (value === "") problem("is empty");
  if (value === "*") return { form: "any", value: "" };
  const stars = value.split("*").length - 1;
  if (stars === 0) return { form: "exact", value };
  if (stars === 1 && value.endsWith("*")) return { form: "prefix", value: value.slice(0, -1) };
  if (stars === 1 && value.startsWith("*")) return { form: "suffix", value: value.slice(1) };
  return problem('has "*" other than at one end (write "prefix*", "*suffix" or an exact identity)');
}

const SAN_KINDS: Readonly<Record<string, SanPattern["kind"]>> = {
  dns: "dns",
  fqdn: "dns",
  email: "email",
  rfc822: "email",
  ip: "ip",
};

function parseSan(text: string): SanPattern[] {
  const entries = text.split(",").map((e) => e.trim());
  if (entries.every((e) => e === "")) problem("is empty");
  return entries.map((entry): SanPattern => {
    if (entry === "") problem("has an empty entry (two commas in a row, or one at an end)");
    const colon = entry.indexOf(":");
    const kind = colon < 0 ? undefined : SAN_KINDS[entry.slice(0, colon).toLowerCase()];
    if (kind === undefined) {
      problem(`has "${entry}" without a kind (write dns:, email: or ip: before each value)`);
    }
    const value = entry.slice(colon + 1);
    try {
      switch (kind) {
        case "dns":
          return { kind, suffix: parseDomain(value, value) };
        case "email":
          return { kind, ...parseEmail(value, value) };
        case "ip":
          return { kind, range: parseIpRange(value) };
      }
    } catch (e) {
      if (e instanceof Problem) problem(`${e.message} (in "${entry}")`);
      throw e;
    }
  });
}

/**
 * Parses a role: its `type` and `match` attributes (`match` is omitted for `any`).
 *
 * @throws {MatchRuleSyntaxError} naming the type, the text and the problem.
 *
 * @example
 * ```ts
 * parseMatchRule("fqdn", "Example.COM."); // { type: "fqdn", match: "Example.COM.", suffix: "example.com" }
 * parseMatchRule("ip", "10.0.0.0/8").type; // "ip"
 * parseMatchRule("any").type; // "any"
 * ```
 */
export function parseMatchRule(type: string, match?: string | undefined): MatchRule {
  if (!(MATCH_RULE_TYPES as readonly string[]).includes(type)) {
    throw new MatchRuleSyntaxError(
      `type "${type}"`,
      undefined,
      `is not a role type (use ${MATCH_RULE_TYPES.join(", ")})`,
    );
  }
  const ruleType = type as MatchRuleType;
  if (ruleType === "any") {
    if (match !== undefined && match.trim() !== "") {
      throw new MatchRuleSyntaxError(
        type,
        match,
        "is not allowed: type any matches every peer (remove the match attribute)",
      );
    }
    return { type: "any", match: "" };
  }
  if (match === undefined) {
    throw new MatchRuleSyntaxError(type, undefined, "needs a match attribute");
  }
  try {
    switch (ruleType) {
      case "fqdn":
        return { type: ruleType, match, suffix: parseDomain(match, match) };
      case "email":
        return { type: ruleType, match, ...parseEmail(match, match) };
      case "dn":
        return { type: ruleType, match, dn: parseDistinguishedName(match) };
      case "san":
        return { type: ruleType, match, entries: parseSan(match) };
      case "ip":
        return { type: ruleType, match, range: parseIpRange(match) };
      case "eap":
        return { type: ruleType, match, ...parseEap(match) };
      case "id":
        return { type: ruleType, match, identity: parseIdentity(match.trim()) };
    }
  } catch (e) {
    if (e instanceof Problem || e instanceof DnSyntaxError || e instanceof IdentitySyntaxError) {
      const reason = e instanceof IdentitySyntaxError
        ? `is not an identity: ${e.reason}`
        : e instanceof Problem
        ? e.message
        : e.reason;
      throw new MatchRuleSyntaxError(type, match, reason);
    }
    throw e;
  }
}

/**
 * The rule a listed peer becomes: exactly its identity.
 *
 * @example
 * ```ts
 * exactIdRule(parseIdentity("fqdn:gw2.example.com"), "fqdn:gw2.example.com").type; // "id"
 * ```
 */
export function exactIdRule(identity: Identity, text: string): IdRule {
  return { type: "id", match: text, identity };
}

/**
 * Prints a rule for a log line: `fqdn "example.com"`, `dn "OU=Sales, O=Example"`, `any`.
 *
 * @example
 * ```ts
 * formatMatchRule(parseMatchRule("dn", "ou=Sales,o=Example")); // 'dn "OU=Sales, O=Example"'
 * ```
 */
export function formatMatchRule(rule: MatchRule): string {
  switch (rule.type) {
    case "any":
      return "any";
    case "dn":
      return `dn "${formatDistinguishedName(rule.dn)}"`;
    default:
      return `${rule.type} "${rule.match.trim()}"`;
  }
}

// --- matching ----------------------------------------------------------------------------

/** A subjectAltName of the peer's certificate, as the certificate code extracted it. */
export type SubjectAltName =
  | { type: "dns"; value: string }
  | { type: "email"; value: string }
  | { type: "ip"; value: Uint8Array };

/** What is known about a peer when its realm is chosen. */
export interface PeerFacts {
  /** IDi as received. */
  identity: Identity;
  /** The EAP identity (EAP-Response/Identity), once known. */
  eapIdentity?: string | undefined;
  /** The peer's end-entity certificate, once received (and best verified). */
  certificate?: {
    subjectDn?: DistinguishedName | undefined;
    sans?: readonly SubjectAltName[] | undefined;
  } | undefined;
}

/**
 * How specific a match is: the higher tier wins, then the higher weight (see README.md).
 */
export interface Specificity {
  tier: number;
  weight: bigint;
}

/** The precedence tiers, lowest first. */
export const RuleTier = {
  /** `any`. */
  Any: 0,
  /** `eap`; weight: length of the literal part, an exact identity above all. */
  Eap: 1,
  /** `ip` and `san ip:`; weight: narrower range is higher. */
  Ip: 2,
  /** `fqdn`, `email`, `san dns:` / `san email:`; weight: labels of the domain, an address above all. */
  Name: 3,
  /** `dn`; weight: number of attributes. */
  Dn: 4,
  /** `id` (a listed peer). */
  ExactId: 5,
} as const;

/** Weight of a full e-mail address or an exact EAP identity: above any suffix. */
const EXACT_WEIGHT = 1n << 32n;
const RANGE_WEIGHT_BASE = (1n << 128n) + 1n;

/**
 * Orders two specificities: negative when `a` is less specific than `b`, 0 when equal,
 * positive when more specific.
 *
 * @example
 * ```ts
 * compareSpecificity({ tier: RuleTier.Dn, weight: 1n }, { tier: RuleTier.Name, weight: 9n }); // 1
 * ```
 */
export function compareSpecificity(a: Specificity, b: Specificity): number {
  if (a.tier !== b.tier) return a.tier < b.tier ? -1 : 1;
  return a.weight === b.weight ? 0 : a.weight < b.weight ? -1 : 1;
}

/** A peer with the parts rules compare already extracted (see {@link preparePeer}). */
export interface PreparedPeer {
  facts: PeerFacts;
  fqdn: string | undefined;
  email: string | undefined;
  address: Uint8Array | undefined;
  /** DNs to test `dn` rules against: the identity's and the certificate subject. */
  dns: DistinguishedName[];
  eapIdentity: string | undefined;
}

/**
 * Extracts once what rules compare. An ID_DER_ASN1_DN identity is decoded here.
 *
 * @throws {DerDecodeError} when the identity is an ID_DER_ASN1_DN that is not valid DER.
 *
 * @example
 * ```ts
 * preparePeer({ identity: parseIdentity("fqdn:GW.example.com") }).fqdn; // "gw.example.com"
 * ```
 */
export function preparePeer(peer: PeerFacts): PreparedPeer {
  const { identity } = peer;
  const dns: DistinguishedName[] = [];
  if (identity.idType === IdType.DerAsn1Dn) dns.push(decodeDistinguishedName(identity.data));
  const subject = peer.certificate?.subjectDn;
  if (subject) dns.push(subject);
  const isAddress = (identity.idType === IdType.Ipv4Addr && identity.data.length === 4) ||
    (identity.idType === IdType.Ipv6Addr && identity.data.length === 16);
  return {
    facts: peer,
    fqdn: fqdnOf(identity),
    email: emailOf(identity),
    address: isAddress ? identity.data : undefined,
    dns,
    eapIdentity: peer.eapIdentity?.toLowerCase(),
  };
}

function labelCount(name: string): bigint {
  return BigInt(name.split(".").length);
}

/** Whether `name` is `suffix` or ends with `.suffix`. */
function isUnderDomain(name: string, suffix: string): boolean {
  return name === suffix || name.endsWith(`.${suffix}`);
}

function matchEmail(
  address: string | undefined,
  form: "domain" | "address",
  value: string,
): bigint | undefined {
  if (address === undefined) return undefined;
  if (form === "address") return address === value ? EXACT_WEIGHT : undefined;
  const domain = address.slice(address.lastIndexOf("@") + 1);
  return isUnderDomain(domain, value) ? labelCount(value) : undefined;
}

function matchRange(address: Uint8Array | undefined, range: IpRange): bigint | undefined {
  if (address === undefined || address.length !== range.first.length) return undefined;
  if (compareAddresses(range.first, address) > 0 || compareAddresses(address, range.last) > 0) {
    return undefined;
  }
  return RANGE_WEIGHT_BASE - rangeSize(range);
}

function rangeSize(range: IpRange): bigint {
  const toBig = (bytes: Uint8Array) => bytes.reduce((n, b) => (n << 8n) | BigInt(b), 0n);
  return toBig(range.last) - toBig(range.first) + 1n;
}

function bestOf(weights: (bigint | undefined)[]): bigint | undefined {
  let best: bigint | undefined;
  for (const w of weights) if (w !== undefined && (best === undefined || w > best)) best = w;
  return best;
}

function matchSan(entry: SanPattern, sans: readonly SubjectAltName[]): Specificity | undefined {
  switch (entry.kind) {
    case "dns": {
      const weight = bestOf(sans.map((san) => {
        if (san.type !== "dns") return undefined;
        const name = san.value.toLowerCase().replace(/\.$/, "");
        return isUnderDomain(name, entry.suffix) ? labelCount(entry.suffix) : undefined;
      }));
      return weight === undefined ? undefined : { tier: RuleTier.Name, weight };
    }
    case "email": {
      const weight = bestOf(
        sans.map((san) =>
          san.type === "email"
            ? matchEmail(san.value.toLowerCase(), entry.form, entry.value)
            : undefined
        ),
      );
      return weight === undefined ? undefined : { tier: RuleTier.Name, weight };
    }
    case "ip": {
      const weight = bestOf(
        sans.map((san) => san.type === "ip" ? matchRange(san.value, entry.range) : undefined),
      );
      return weight === undefined ? undefined : { tier: RuleTier.Ip, weight };
    }
  }
}

function tiered(tier: number, weight: bigint | undefined): Specificity | undefined {
  return weight === undefined ? undefined : { tier, weight };
}

/**
 * Tests a rule against a prepared peer; returns how specific the match is, or `undefined`
 * when the rule does not match.
 *
 * @example
 * ```ts
 * const peer = preparePeer({ identity: parseIdentity("fqdn:gw.example.com") });
 * matchPreparedPeer(parseMatchRule("fqdn", "example.com"), peer); // { tier: 3, weight: 2n }
 * ```
 */
export function matchPreparedPeer(rule: MatchRule, peer: PreparedPeer): Specificity | undefined {
  switch (rule.type) {
    case "any":
      return { tier: RuleTier.Any, weight: 0n };
    case "id":
      return identitiesEqual(rule.identity, peer.facts.identity)
        ? { tier: RuleTier.ExactId, weight: 0n }
        : undefined;
    case "fqdn":
      return tiered(
        RuleTier.Name,
        peer.fqdn !== undefined && isUnderDomain(peer.fqdn, rule.suffix)
          ? labelCount(rule.suffix)
          : undefined,
      );
    case "email":
      return tiered(RuleTier.Name, matchEmail(peer.email, rule.form, rule.value));
    case "dn":
      return peer.dns.some((dn) => dnContains(dn, rule.dn))
        ? { tier: RuleTier.Dn, weight: BigInt(attributeCount(rule.dn)) }
        : undefined;
    case "ip":
      return tiered(RuleTier.Ip, matchRange(peer.address, rule.range));
    case "eap": {
      const eap = peer.eapIdentity;
      if (eap === undefined) return undefined;
      const hit = rule.form === "any" ||
        (rule.form === "exact" && eap === rule.value) ||
        (rule.form === "prefix" && eap.startsWith(rule.value)) ||
        (rule.form === "suffix" && eap.endsWith(rule.value));
      if (!hit) return undefined;
      return {
        tier: RuleTier.Eap,
        weight: rule.form === "exact" ? EXACT_WEIGHT : BigInt(rule.value.length),
      };
    }
    case "san": {
      const sans = peer.facts.certificate?.sans ?? [];
      let best: Specificity | undefined;
      for (const entry of rule.entries) {
        const s = matchSan(entry, sans);
        if (s && (!best || compareSpecificity(s, best) > 0)) best = s;
      }
      return best;
    }
  }
}

/**
 * Tests one rule against a peer ({@link preparePeer} + {@link matchPreparedPeer}).
 *
 * @throws {DerDecodeError} when the identity is an ID_DER_ASN1_DN that is not valid DER.
 *
 * @example
 * ```ts
 * matchRule(parseMatchRule("fqdn", "example.com"), { identity: parseIdentity("fqdn:badexample.com") }); // undefined
 * ```
 */
export function matchRule(rule: MatchRule, peer: PeerFacts): Specificity | undefined {
  return matchPreparedPeer(rule, preparePeer(peer));
}
