import { assert, assertEquals, assertThrows } from "../_assert.ts";
import { parseIdentity } from "../../lib/ike/mod.ts";
import { parseIpAddress } from "../../lib/wire/mod.ts";
import {
  DerDecodeError,
  formatMatchRule,
  matchRule,
  MatchRuleSyntaxError,
  parseDistinguishedName,
  parseMatchRule,
  type PeerFacts,
  RuleTier,
  type SubjectAltName,
} from "../../lib/realm/mod.ts";
import { ava, dnName, str, Tag } from "./_der_writer.ts";

function peer(idText: string, extra: Omit<PeerFacts, "identity"> = {}): PeerFacts {
  return { identity: parseIdentity(idText), ...extra };
}

function matches(type: string, match: string | undefined, facts: PeerFacts): boolean {
  return matchRule(parseMatchRule(type, match), facts) !== undefined;
}

function syntaxError(type: string, match: string | undefined): MatchRuleSyntaxError {
  return assertThrows(
    () => parseMatchRule(type, match),
    MatchRuleSyntaxError,
  ) as MatchRuleSyntaxError;
}

// --- fqdn --------------------------------------------------------------------------------

Deno.test("fqdn rule: matches the name and names under it on label boundaries", () => {
  for (const id of ["fqdn:example.com", "fqdn:gw.example.com", "fqdn:a.b.c.example.com"]) {
    assert(matches("fqdn", "example.com", peer(id)), id);
  }
  for (
    const id of ["fqdn:badexample.com", "fqdn:example.com.evil.org", "fqdn:com", "fqdn:example.co"]
  ) {
    assert(!matches("fqdn", "example.com", peer(id)), id);
  }
});

Deno.test("fqdn rule: ignores case and a final dot on either side", () => {
  assert(matches("fqdn", "Example.COM.", peer("fqdn:GW.example.com.")));
  assertEquals(parseMatchRule("fqdn", " Example.COM. "), {
    type: "fqdn",
    match: " Example.COM. ",
    suffix: "example.com",
  });
});

Deno.test("fqdn rule: only FQDN identities", () => {
  assert(!matches("fqdn", "example.com", peer("email:gw@example.com")));
  assert(!matches("fqdn", "example.com", peer("ipv4:198.51.100.1")));
  assert(
    !matches("fqdn", "example.com", { identity: { idType: 2, data: new Uint8Array([0xe9]) } }),
  );
});

Deno.test("fqdn rule: more labels weigh more", () => {
  const two = matchRule(parseMatchRule("fqdn", "example.com"), peer("fqdn:gw.sales.example.com"));
  const three = matchRule(
    parseMatchRule("fqdn", "sales.example.com"),
    peer("fqdn:gw.sales.example.com"),
  );
  assertEquals(two, { tier: RuleTier.Name, weight: 2n });
  assertEquals(three, { tier: RuleTier.Name, weight: 3n });
});

Deno.test("fqdn rule: rejects wildcards, addresses and bad labels with hints", () => {
  assertEquals(
    syntaxError("fqdn", "*.example.com").message,
    'Cannot parse role: fqdn match "*.example.com" has a wildcard; write "example.com" (it matches example.com and every name under it)',
  );
  assert(syntaxError("fqdn", ".example.com").reason.startsWith("has a wildcard"));
  assertEquals(syntaxError("fqdn", "").reason, "is empty");
  assertEquals(
    syntaxError("fqdn", "10.0.0.1").reason,
    "is an IP address; use type ip (or ip: in a san rule)",
  );
  assertEquals(syntaxError("fqdn", "a..example.com").reason, "has an empty label");
  assertEquals(
    syntaxError("fqdn", "exa mple.com").reason,
    'has "exa mple", which is not a DNS label',
  );
  assertEquals(syntaxError("fqdn", "-bad.com").reason, 'has "-bad", which is not a DNS label');
  assertEquals(
    syntaxError("fqdn", undefined).message,
    "Cannot parse role: fqdn needs a match attribute",
  );
});

// --- email -------------------------------------------------------------------------------

Deno.test("email rule: a domain matches addresses in it and its subdomains", () => {
  for (const id of ["email:a@example.com", "email:a@sales.example.com", "email:A.B@EXAMPLE.com"]) {
    assert(matches("email", "example.com", peer(id)), id);
    assert(matches("email", "@example.com", peer(id)), id);
  }
  for (
    const id of [
      "email:a@badexample.com",
      "email:a@example.com.evil.org",
      "email:example.com@evil.org",
    ]
  ) {
    assert(!matches("email", "example.com", peer(id)), id);
  }
  assert(!matches("email", "example.com", peer("fqdn:example.com")));
  assert(!matches("email", "sales.example.com", peer("email:a@example.com")));
});

Deno.test("email rule: a full address matches exactly that address, case-insensitively", () => {
  assert(matches("email", "alice@example.com", peer("email:Alice@Example.COM")));
  assert(!matches("email", "alice@example.com", peer("email:bob@example.com")));
  assert(!matches("email", "alice@example.com", peer("email:alice@sales.example.com")));
  assert(!matches("email", "alice@example.com", peer("email:malice@example.com")));
  const exact = matchRule(
    parseMatchRule("email", "alice@example.com"),
    peer("email:alice@example.com"),
  );
  const domain = matchRule(parseMatchRule("email", "example.com"), peer("email:alice@example.com"));
  assertEquals(domain, { tier: RuleTier.Name, weight: 2n });
  assert(exact !== undefined && exact.weight > 1000n);
});

Deno.test("email rule: rejects wildcards and broken addresses", () => {
  assertEquals(
    syntaxError("email", "*@example.com").reason,
    'has a wildcard; write "example.com" to match every address in the domain',
  );
  assertEquals(
    syntaxError("email", "a b@example.com").reason,
    'has "a b" before "@", which is not an address',
  );
  assertEquals(syntaxError("email", "alice@").reason, "is empty");
  assertEquals(syntaxError("email", " ").reason, "is empty");
});

// --- dn ----------------------------------------------------------------------------------

const SALES_DN = dnName(
  [ava("2.5.4.6", str(Tag.Printable, "US"))],
  [ava("2.5.4.10", str(Tag.Utf8, "Example"))],
  [ava("2.5.4.11", str(Tag.Utf8, "Sales"))],
  [ava("2.5.4.3", str(Tag.Utf8, "alice"))],
  [ava("1.2.840.113549.1.9.1", str(Tag.Ia5, "alice@example.com"))],
);
const SALES_PEER: PeerFacts = { identity: { idType: 9, data: SALES_DN } };

Deno.test("dn rule: RDN containment, order- and case-insensitive", () => {
  assert(matches("dn", "OU=Sales, O=Example", SALES_PEER));
  assert(matches("dn", "o=example;ou=SALES", SALES_PEER));
  assert(matches("dn", "/O=Example/OU=Sales", SALES_PEER));
  assert(matches("dn", "emailAddress=alice@example.com", SALES_PEER));
  assert(matches("dn", "E=ALICE@example.com, C=us", SALES_PEER));
  assert(!matches("dn", "OU=Sales, O=Other", SALES_PEER));
  assert(!matches("dn", "OU=Marketing", SALES_PEER));
  assert(!matches("dn", "OU=Sal", SALES_PEER));
  assert(!matches("dn", "CN=Sales", SALES_PEER));
  assertEquals(matchRule(parseMatchRule("dn", "C=US, OU=Sales, O=Example"), SALES_PEER), {
    tier: RuleTier.Dn,
    weight: 3n,
  });
});

Deno.test("dn rule: DC components need each their own match", () => {
  const facts: PeerFacts = {
    identity: {
      idType: 9,
      data: dnName(
        [ava("0.9.2342.19200300.100.1.25", str(Tag.Ia5, "com"))],
        [ava("0.9.2342.19200300.100.1.25", str(Tag.Ia5, "example"))],
        [ava("2.5.4.3", str(Tag.Utf8, "gw"))],
      ),
    },
  };
  assert(matches("dn", "DC=example, DC=com", facts));
  assert(!matches("dn", "DC=example, DC=example", facts));
});

Deno.test("dn rule: falls back to the certificate subject for other ID types", () => {
  const subjectDn = parseDistinguishedName("C=US, O=Example, OU=Sales, CN=gw.example.com");
  assert(matches("dn", "OU=Sales", peer("fqdn:gw.example.com", { certificate: { subjectDn } })));
  assert(!matches("dn", "OU=Sales", peer("fqdn:gw.example.com")));
  assert(!matches("dn", "OU=Sales", peer("fqdn:gw.example.com", { certificate: { sans: [] } })));
});

Deno.test("dn rule: a malformed DN identity is a typed error, not a crash", () => {
  const broken: PeerFacts = { identity: { idType: 9, data: SALES_DN.subarray(0, 20) } };
  assertThrows(() => matchRule(parseMatchRule("dn", "OU=Sales"), broken), DerDecodeError);
});

Deno.test("dn rule: text problems use the role error format", () => {
  assertEquals(
    syntaxError("dn", "OU=").message,
    'Cannot parse role: dn match "OU=" has an empty value',
  );
  assertEquals(syntaxError("dn", "OU=, O=Example").reason, 'has an empty value in "OU="');
  assert(syntaxError("dn", "XX=1").reason.startsWith('has an unknown attribute "XX" (use CN, SN'));
  assertEquals(syntaxError("dn", "Sales").reason, 'has "Sales" without "="');
  assertEquals(
    formatMatchRule(parseMatchRule("dn", "ou=Sales,o=Example")),
    'dn "OU=Sales, O=Example"',
  );
});

// --- san ---------------------------------------------------------------------------------

const SANS: SubjectAltName[] = [
  { type: "dns", value: "VPN.Example.com" },
  { type: "email", value: "ops@example.net" },
  { type: "ip", value: parseIpAddress("2001:db8::7") },
];

Deno.test("san rule: matches any certificate SAN against any entry", () => {
  const facts = peer("fqdn:something.else", { certificate: { sans: SANS } });
  assert(matches("san", "dns:example.com", facts));
  assert(matches("san", "dns:vpn.example.com", facts));
  assert(matches("san", "email:example.net", facts));
  assert(matches("san", "email:ops@example.net", facts));
  assert(matches("san", "ip:2001:db8::/64", facts));
  assert(matches("san", "dns:other.org, ip:2001:db8::1-2001:db8::ff", facts));
  assert(!matches("san", "dns:badexample.com", facts));
  assert(!matches("san", "dns:example.net", facts)); // an email SAN is not a DNS SAN
  assert(!matches("san", "email:example.com", facts));
  assert(!matches("san", "ip:2001:db8::8", facts));
  assert(!matches("san", "dns:example.com", peer("fqdn:vpn.example.com"))); // no certificate
});

Deno.test("san rule: takes the tier and weight of the best entry", () => {
  const facts = peer("fqdn:x", { certificate: { sans: SANS } });
  assertEquals(matchRule(parseMatchRule("san", "ip:2001:db8::7, dns:example.com"), facts), {
    tier: RuleTier.Name,
    weight: 2n,
  });
  assertEquals(matchRule(parseMatchRule("san", "ip:2001:db8::7"), facts)?.tier, RuleTier.Ip);
});

Deno.test("san rule: entries need a kind and a valid value", () => {
  assertEquals(
    syntaxError("san", "vpn.example.com").reason,
    'has "vpn.example.com" without a kind (write dns:, email: or ip: before each value)',
  );
  assertEquals(
    syntaxError("san", "dns:a.com,,ip:10.0.0.1").reason,
    "has an empty entry (two commas in a row, or one at an end)",
  );
  assertEquals(
    syntaxError("san", "ip:10.0.0.1/8").reason,
    'has host bits set (write 10.0.0.0/8) (in "ip:10.0.0.1/8")',
  );
  assertEquals(syntaxError("san", "").reason, "is empty");
});

// --- ip ----------------------------------------------------------------------------------

Deno.test("ip rule: IPv4 prefix, range and single address", () => {
  assert(matches("ip", "198.51.100.0/24", peer("ipv4:198.51.100.0")));
  assert(matches("ip", "198.51.100.0/24", peer("ipv4:198.51.100.255")));
  assert(!matches("ip", "198.51.100.0/24", peer("ipv4:198.51.101.0")));
  assert(!matches("ip", "198.51.100.0/24", peer("ipv4:198.51.99.255")));
  assert(matches("ip", "10.1.0.10 - 10.1.0.20", peer("ipv4:10.1.0.10")));
  assert(matches("ip", "10.1.0.10-10.1.0.20", peer("ipv4:10.1.0.20")));
  assert(!matches("ip", "10.1.0.10-10.1.0.20", peer("ipv4:10.1.0.21")));
  assert(!matches("ip", "10.1.0.10-10.1.0.20", peer("ipv4:10.1.0.9")));
  assert(matches("ip", "192.0.2.1", peer("ipv4:192.0.2.1")));
  assert(!matches("ip", "192.0.2.1", peer("ipv4:192.0.2.2")));
  assert(matches("ip", "0.0.0.0/0", peer("ipv4:203.0.113.9")));
});

Deno.test("ip rule: IPv6 prefix and range, families never mix", () => {
  assert(matches("ip", "2001:db8::/32", peer("ipv6:2001:db8:ffff:ffff:ffff:ffff:ffff:ffff")));
  assert(matches("ip", "2001:DB8::/32", peer("ipv6:2001:db8::")));
  assert(!matches("ip", "2001:db8::/32", peer("ipv6:2001:db9::")));
  assert(!matches("ip", "2001:db8::/32", peer("ipv6:2001:db7:ffff::1")));
  assert(matches("ip", "2001:db8::10-2001:db8::20", peer("ipv6:2001:db8::1a")));
  assert(!matches("ip", "2001:db8::10-2001:db8::20", peer("ipv6:2001:db8::21")));
  assert(matches("ip", "::/0", peer("ipv6:fe80::1")));
  assert(!matches("ip", "::/0", peer("ipv4:10.0.0.1")));
  assert(!matches("ip", "0.0.0.0/0", peer("ipv6:::ffff:10.0.0.1")));
  assert(!matches("ip", "10.0.0.0/8", peer("fqdn:10.example.com")));
});

Deno.test("ip rule: narrower ranges weigh more", () => {
  const weight = (match: string) =>
    matchRule(parseMatchRule("ip", match), peer("ipv4:10.1.2.3"))!.weight;
  assert(weight("10.1.2.3") > weight("10.1.2.0-10.1.2.9"));
  assert(weight("10.1.2.0-10.1.2.9") > weight("10.1.2.0/24"));
  assert(weight("10.1.2.0/24") > weight("10.0.0.0/8"));
  assert(weight("10.0.0.0/8") > weight("0.0.0.0/0"));
  const v6 = (match: string) =>
    matchRule(parseMatchRule("ip", match), peer("ipv6:2001:db8::1"))!.weight;
  assert(v6("2001:db8::/64") > v6("2001:db8::/48"));
  assert(v6("::/0") > 0n);
});

Deno.test("ip rule: rejects malformed ranges", () => {
  assertEquals(syntaxError("ip", "10.0.0.1/8").reason, "has host bits set (write 10.0.0.0/8)");
  assertEquals(syntaxError("ip", "2001:db8::1/32").reason, "has host bits set");
  assertEquals(syntaxError("ip", "10.0.0.0/33").reason, 'has prefix length "33" outside 0-32');
  assertEquals(syntaxError("ip", "2001:db8::/129").reason, 'has prefix length "129" outside 0-128');
  assertEquals(syntaxError("ip", "10.0.0.0/").reason, 'has prefix length "" outside 0-32');
  assertEquals(
    syntaxError("ip", "10.0.0.9-10.0.0.1").reason,
    "has its first address after its last",
  );
  assertEquals(syntaxError("ip", "10.0.0.1-2001:db8::1").reason, "mixes IPv4 and IPv6");
  assert(syntaxError("ip", "10.0.0-10.0.1.0").reason.startsWith("is not an address range"));
  assert(syntaxError("ip", "gw.example.com").reason.startsWith("is not an IP address"));
});

// --- eap ---------------------------------------------------------------------------------

Deno.test("eap rule: exact, prefix, suffix and any, case-insensitive", () => {
  const eap = (eapIdentity: string) => peer("fqdn:laptop", { eapIdentity });
  assert(matches("eap", "alice", eap("Alice")));
  assert(!matches("eap", "alice", eap("alice2")));
  assert(matches("eap", "guest*", eap("guest-17")));
  assert(matches("eap", "guest*", eap("guest")));
  assert(!matches("eap", "guest*", eap("a-guest")));
  assert(matches("eap", "*@example.com", eap("bob@EXAMPLE.com")));
  assert(!matches("eap", "*@example.com", eap("bob@example.com.evil")));
  assert(!matches("eap", "*@example.com", eap("bob@badexample.com")));
  assert(matches("eap", "*", eap("anyone")));
  assert(!matches("eap", "*", peer("fqdn:laptop"))); // no EAP identity yet
});

Deno.test("eap rule: exact beats any literal, longer literal beats shorter", () => {
  const facts = peer("fqdn:laptop", { eapIdentity: "bob@sales.example.com" });
  const weight = (match: string) => matchRule(parseMatchRule("eap", match), facts)!.weight;
  assert(weight("bob@sales.example.com") > weight("*@sales.example.com"));
  assert(weight("*@sales.example.com") > weight("*.example.com"));
  assert(weight("*.example.com") > weight("bob*"));
  assert(weight("bob*") > weight("*"));
  // A suffix is literal text: "*@example.com" does not reach into subdomains.
  assertEquals(matchRule(parseMatchRule("eap", "*@example.com"), facts), undefined);
  assertEquals(matchRule(parseMatchRule("eap", "*"), facts)?.tier, RuleTier.Eap);
});

Deno.test("eap rule: a star only at one end", () => {
  for (const match of ["a*b", "*a*", "**"]) {
    assertEquals(
      syntaxError("eap", match).reason,
      'has "*" other than at one end (write "prefix*", "*suffix" or an exact identity)',
    );
  }
  assertEquals(syntaxError("eap", "").reason, "is empty");
});

// --- id, any, unknown ----------------------------------------------------------------------

Deno.test("id rule: exactly one identity", () => {
  assert(matches("id", "fqdn:gw2.example.com", peer("fqdn:GW2.example.com")));
  assert(!matches("id", "fqdn:gw2.example.com", peer("fqdn:gw3.example.com")));
  assert(!matches("id", "fqdn:gw2.example.com", peer("email:gw2@example.com")));
  assert(matches("id", "ipv6:2001:db8::1", peer("ipv6:2001:db8:0::1")));
  assertEquals(
    syntaxError("id", "ipv4:2001:db8::1").message,
    'Cannot parse role: id match "ipv4:2001:db8::1" is not an identity: "2001:db8::1" is not an IPv4 address',
  );
});

Deno.test("any rule: matches every peer at the lowest tier and takes no match text", () => {
  assertEquals(matchRule(parseMatchRule("any"), peer("ipv4:192.0.2.1")), {
    tier: RuleTier.Any,
    weight: 0n,
  });
  assertEquals(parseMatchRule("any", ""), { type: "any", match: "" });
  assertEquals(
    syntaxError("any", "example.com").message,
    'Cannot parse role: any match "example.com" is not allowed: type any matches every peer (remove the match attribute)',
  );
});

Deno.test("unknown role types are refused with the list of types", () => {
  assertEquals(
    syntaxError("domain", "example.com").message,
    'Cannot parse role: type "domain" is not a role type (use fqdn, email, dn, san, ip, eap, id, any)',
  );
});
