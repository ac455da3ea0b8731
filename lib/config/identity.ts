/**
 * The text form of IKE identities in configuration files: "kind:value", e.g.
 * "fqdn:gw2.example.com", "email:alice@example.com", "ipv4:198.51.100.2". The ID payload
 * codec's `parseIdentity` reads the value and its `formatIdentity` prints the canonical text,
 * so the same identity written two ways in rockhopper.xml and auth.xml compares equal, and
 * equal to what a peer's ID payload prints as. Configuration is stricter than the codec: a kind
 * prefix is required, only the kinds below are accepted, and domain names must be valid DNS
 * names (they are lower-cased).
 */
import { IdType } from "../ike/mod.ts";
import {
  formatIdentity,
  IdentitySyntaxError,
  parseIdentity as parseIdentityText,
} from "../ike/mod.ts";

/** Identity kinds by their configuration prefix, with the IKE ID type each becomes (RFC 7296 §3.5). */
export const IdentityKind = {
  fqdn: IdType.Fqdn,
  email: IdType.Rfc822Addr,
  ipv4: IdType.Ipv4Addr,
  ipv6: IdType.Ipv6Addr,
  keyid: IdType.KeyId,
  asn1dn: IdType.DerAsn1Dn,
} as const;
/** A configuration identity kind: "fqdn", "email", "ipv4", "ipv6", "keyid", "asn1dn". */
export type IdentityKindName = keyof typeof IdentityKind;

/** A validated identity. `text` is the canonical "kind:value" form. */
export interface ConfigIdentity {
  kind: IdentityKindName;
  value: string;
  text: string;
}

const KIND_NAMES = Object.keys(IdentityKind) as IdentityKindName[];

/** Other spellings accepted for a kind (printed canonically). */
const KIND_ALIASES: Readonly<Record<string, IdentityKindName>> = { rfc822: "email" };

function isIdentityKind(name: string): name is IdentityKindName {
  return (KIND_NAMES as string[]).includes(name);
}

const DNS_LABEL = /^(?:[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?)$/;

function checkDomain(name: string): string | undefined {
  if (name.length === 0) return "the domain name is empty";
  if (name.length > 253) return "the domain name is longer than 253 characters";
  for (const label of name.split(".")) {
    if (!DNS_LABEL.test(label)) return `"${name}" is not a valid domain name`;
  }
  return undefined;
}

/**
 * Parses an identity's text form. Returns the identity or a problem text suitable for a
 * configuration error.
 *
 * @example
 * ```ts
 * parseIdentity("FQDN:GW2.Example.com"); // { kind: "fqdn", value: "gw2.example.com", text: "fqdn:gw2.example.com" }
 * parseIdentity("gw2.example.com"); // 'identity "gw2.example.com" has no kind prefix ...'
 * ```
 */
export function parseIdentity(text: string): ConfigIdentity | string {
  const colon = text.indexOf(":");
  const known = KIND_NAMES.join(", ");
  if (colon < 0) {
    return `identity "${text}" has no kind prefix (write it as kind:value, kind one of ${known})`;
  }
  const written = text.slice(0, colon).toLowerCase();
  const kind = KIND_ALIASES[written] ?? written;
  if (!isIdentityKind(kind)) {
    return `unknown identity kind "${text.slice(0, colon)}" (known: ${known})`;
  }
  const value = domainPolicy(kind, text.slice(colon + 1));
  if (value.problem !== undefined) return value.problem;
  let id: { idType: number; data: Uint8Array };
  try {
    id = parseIdentityText(`${kind}:${value.text}`);
  } catch (e) {
    if (e instanceof IdentitySyntaxError) return `${kind} identity: ${e.reason}`;
    throw e;
  }
  const canonical = formatIdentity(id.idType, id.data);
  return { kind, value: canonical.slice(canonical.indexOf(":") + 1), text: canonical };
}

/**
 * The configuration's own rules for names, on top of the codec's: FQDNs and e-mail domains
 * are valid DNS names, lower-cased (an FQDN without its trailing dot), and an e-mail local
 * part is at most 64 characters without spaces, quotes or angle brackets. Other kinds pass.
 */
function domainPolicy(
  kind: IdentityKindName,
  raw: string,
): { text: string; problem?: never } | { problem: string } {
  if (kind === "fqdn") {
    const name = raw.toLowerCase().replace(/\.$/, "");
    const problem = checkDomain(name);
    return problem === undefined ? { text: name } : { problem: `fqdn identity: ${problem}` };
  }
  if (kind === "email") {
    const at = raw.lastIndexOf("@");
    const local = raw.slice(0, at);
    if (at <= 0 || local.length > 64 || /[\s@"<>]/.test(local)) {
      return { problem: `"${raw}" is not an e-mail address (user@domain)` };
    }
    const domain = raw.slice(at + 1).toLowerCase();
    const problem = checkDomain(domain);
    return problem === undefined
      ? { text: `${local}@${domain}` }
      : { problem: `email identity: ${problem}` };
  }
  return { text: raw };
}
