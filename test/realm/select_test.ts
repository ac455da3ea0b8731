import { assert, assertEquals, assertThrows } from "../_assert.ts";
import { parseIdentity } from "../../lib/ike/mod.ts";
import {
  DerDecodeError,
  exactIdRule,
  identitiesEqual,
  matchingRealms,
  type MatchRule,
  parseDistinguishedName,
  parseMatchRule,
  type PeerFacts,
  type RealmRules,
  RuleTier,
  selectRealm,
  selectRealmForIdr,
} from "../../lib/realm/mod.ts";
import { ava, dnName, str, Tag } from "./_der_writer.ts";

/** Rules written as auth.xml would: "type match" (match may be absent). */
function rules(...texts: string[]): MatchRule[] {
  return texts.map((text) => {
    const space = text.indexOf(" ");
    return space < 0
      ? parseMatchRule(text)
      : parseMatchRule(text.slice(0, space), text.slice(space + 1));
  });
}

function realm(id: number, name: string, ...texts: string[]): RealmRules {
  return { id, name, rules: rules(...texts) };
}

function peer(idText: string, extra: Omit<PeerFacts, "identity"> = {}): PeerFacts {
  return { identity: parseIdentity(idText), ...extra };
}

function selected(realms: readonly RealmRules[], facts: PeerFacts): string | undefined {
  return selectRealm(realms, facts)?.realm.name;
}

// --- the test: three realms on one responder ---------------------------------------

interface ResponderRealm extends RealmRules {
  ikeSuite: string;
  addressRange: string;
}

const RESPONDER: ResponderRealm[] = [
  {
    id: 1,
    name: "corporate",
    rules: rules("fqdn example.com", "email example.com"),
    ikeSuite: "aes256gcm16-prfsha384-x25519",
    addressRange: "10.1.0.0/24",
  },
  {
    id: 2,
    name: "sales",
    rules: rules("dn OU=Sales, O=Example", "fqdn sales.example.com"),
    ikeSuite: "aes128gcm16-prfsha256-ecp256",
    addressRange: "10.2.0.0/24",
  },
  {
    id: 3,
    name: "partners",
    rules: rules("ip 198.51.100.0/24", "ip 2001:db8:100::/48", "eap *@partner.example"),
    ikeSuite: "aes256gcm16-prfsha384-x25519",
    addressRange: "10.3.0.0/24",
  },
];

Deno.test("three realms: peers with IDs from each realm land in their realm", () => {
  const salesDn = dnName(
    [ava("2.5.4.6", str(Tag.Printable, "US"))],
    [ava("2.5.4.10", str(Tag.Utf8, "Example"))],
    [ava("2.5.4.11", str(Tag.Utf8, "Sales"))],
    [ava("2.5.4.3", str(Tag.Utf8, "alice"))],
  );
  const cases: [PeerFacts, string, string][] = [
    [peer("fqdn:gw.example.com"), "corporate", "10.1.0.0/24"],
    [peer("email:bob@hq.example.com"), "corporate", "10.1.0.0/24"],
    [peer("fqdn:gw.sales.example.com"), "sales", "10.2.0.0/24"],
    [{ identity: { idType: 9, data: salesDn } }, "sales", "10.2.0.0/24"],
    [peer("ipv4:198.51.100.77"), "partners", "10.3.0.0/24"],
    [peer("ipv6:2001:db8:100:5::9"), "partners", "10.3.0.0/24"],
    [peer("fqdn:laptop", { eapIdentity: "carol@partner.example" }), "partners", "10.3.0.0/24"],
  ];
  for (const [facts, name, addressRange] of cases) {
    const chosen = selectRealm(RESPONDER, facts);
    assertEquals(chosen?.realm.name, name, JSON.stringify(facts.identity));
    // The generic keeps the caller's realm type: its suite and pool come along.
    assertEquals(chosen?.realm.addressRange, addressRange);
    assert(chosen?.realm.ikeSuite.startsWith("aes"));
  }
});

Deno.test("three realms: an ID matching no realm selects none", () => {
  for (
    const facts of [
      peer("fqdn:example.org"),
      peer("fqdn:badexample.com"),
      peer("email:eve@example.org"),
      peer("ipv4:198.51.101.1"),
      peer("ipv6:2001:db8:101::1"),
      peer("keyid:0a0b0c"),
      peer("fqdn:laptop", { eapIdentity: "carol@partner.example.org" }),
      { identity: { idType: 9, data: dnName([ava("2.5.4.11", str(Tag.Utf8, "Sales"))]) } },
    ]
  ) {
    assertEquals(selectRealm(RESPONDER, facts), undefined, JSON.stringify(facts));
  }
});

// --- precedence ------------------------------------------------------------------------------

const CERT_PEER = peer("fqdn:gw.sales.example.com", {
  certificate: {
    subjectDn: parseDistinguishedName("C=US, O=Example, OU=Sales, CN=gw.sales.example.com"),
    sans: [{ type: "dns", value: "gw.sales.example.com" }],
  },
});

Deno.test("precedence: a listed peer id beats every role rule, wherever it is listed", () => {
  const realms = [
    realm(1, "dn", "dn C=US, O=Example, OU=Sales, CN=gw.sales.example.com"),
    realm(2, "fqdn", "fqdn gw.sales.example.com"),
    {
      id: 3,
      name: "listed",
      rules: [exactIdRule(parseIdentity("fqdn:gw.sales.example.com"), "x")],
    },
  ];
  const chosen = selectRealm(realms, CERT_PEER);
  assertEquals(chosen?.realm.name, "listed");
  assertEquals(chosen?.specificity.tier, RuleTier.ExactId);
});

Deno.test("precedence: a dn rule beats names, and more attributes beat fewer", () => {
  const realms = [
    realm(1, "fqdn", "fqdn gw.sales.example.com"),
    realm(2, "dn1", "dn O=Example"),
    realm(3, "dn2", "dn OU=Sales, O=Example"),
    realm(4, "dn1-again", "dn OU=Sales"),
  ];
  assertEquals(selected(realms, CERT_PEER), "dn2");
  assertEquals(selected(realms.slice(0, 2), CERT_PEER), "dn1");
  assertEquals(
    matchingRealms(realms, CERT_PEER).map((s) => s.realm.name),
    ["dn2", "dn1", "dn1-again", "fqdn"],
  );
});

Deno.test("precedence: the longer FQDN or e-mail suffix wins, a full address above all", () => {
  const names = [
    realm(1, "example", "fqdn example.com"),
    realm(2, "sales", "fqdn sales.example.com"),
    realm(3, "com", "fqdn com"),
  ];
  assertEquals(selected(names, peer("fqdn:gw.sales.example.com")), "sales");
  assertEquals(selected(names, peer("fqdn:gw.example.com")), "example");
  assertEquals(selected(names, peer("fqdn:gw.other.com")), "com");
  assertEquals(selected(names, peer("fqdn:gw.example.net")), undefined);
  const mail = [
    realm(1, "domain", "email example.com"),
    realm(2, "alice", "email alice@example.com"),
    realm(3, "subdomain", "email sales.example.com"),
  ];
  assertEquals(selected(mail, peer("email:alice@example.com")), "alice");
  assertEquals(selected(mail, peer("email:bob@example.com")), "domain");
  assertEquals(selected(mail, peer("email:alice@sales.example.com")), "subdomain");
});

Deno.test("precedence: names beat address ranges (san dns over ip)", () => {
  const facts = peer("ipv4:192.0.2.10", {
    certificate: { sans: [{ type: "dns", value: "gw.example.com" }] },
  });
  const realms = [realm(1, "host", "ip 192.0.2.10"), realm(2, "san", "san dns:example.com")];
  assertEquals(selected(realms, facts), "san");
});

Deno.test("precedence: the narrower address range wins, IPv4 and IPv6", () => {
  const realms = [
    realm(1, "wide", "ip 10.0.0.0/8", "ip 2001:db8::/32"),
    realm(2, "range", "ip 10.1.2.0-10.1.2.99", "ip 2001:db8:1::-2001:db8:1::ffff"),
    realm(3, "subnet", "ip 10.1.2.0/24", "ip 2001:db8:1::/48"),
  ];
  assertEquals(selected(realms, peer("ipv4:10.1.2.50")), "range");
  assertEquals(selected(realms, peer("ipv4:10.1.2.200")), "subnet");
  assertEquals(selected(realms, peer("ipv4:10.9.9.9")), "wide");
  assertEquals(selected(realms, peer("ipv6:2001:db8:1::7")), "range");
  assertEquals(selected(realms, peer("ipv6:2001:db8:1:2::7")), "subnet");
  assertEquals(selected(realms, peer("ipv6:2001:db8:2::7")), "wide");
});

Deno.test("precedence: ip beats eap, eap beats any; exact eap beats longer suffixes", () => {
  const facts = peer("ipv4:10.1.2.3", { eapIdentity: "dave@example.com" });
  const realms = [
    realm(1, "any", "any"),
    realm(2, "eap-suffix", "eap *@example.com"),
    realm(3, "eap-exact", "eap dave@example.com"),
    realm(4, "ip", "ip 0.0.0.0/0"),
  ];
  assertEquals(selected(realms, facts), "ip");
  assertEquals(selected(realms.slice(0, 3), facts), "eap-exact");
  assertEquals(selected(realms.slice(0, 2), facts), "eap-suffix");
  assertEquals(selected(realms.slice(0, 1), facts), "any");
});

Deno.test("precedence: ties go to the realm listed first, then the realm's first rule", () => {
  const first = realm(1, "first", "fqdn example.com");
  const second = realm(2, "second", "fqdn example.com");
  assertEquals(selected([first, second], peer("fqdn:gw.example.com")), "first");
  assertEquals(selected([second, first], peer("fqdn:gw.example.com")), "second");
  const anyTwice = [realm(1, "a", "any"), realm(2, "b", "any")];
  assertEquals(selected(anyTwice, peer("ipv4:192.0.2.1")), "a");
  // Within a realm the most specific rule is reported; among equals the first.
  const within = realm(1, "both", "fqdn example.com", "fqdn sales.example.com", "any");
  assertEquals(
    selectRealm([within], peer("fqdn:gw.sales.example.com"))?.rule.match,
    "sales.example.com",
  );
  const twice = realm(1, "twice", "any", "any");
  assertEquals(selectRealm([twice], peer("fqdn:x"))?.rule, twice.rules[0]);
});

Deno.test("selection: a realm without rules never matches; an empty list selects nothing", () => {
  assertEquals(selectRealm([realm(1, "empty")], peer("fqdn:gw.example.com")), undefined);
  assertEquals(selectRealm([], peer("fqdn:gw.example.com")), undefined);
});

Deno.test("selection: a malformed DN identity is a typed error", () => {
  const broken: PeerFacts = { identity: { idType: 9, data: new Uint8Array([0x30, 0x05, 0x31]) } };
  assertThrows(() => selectRealm(RESPONDER, broken), DerDecodeError, "Cannot decode X.501 Name");
});

// --- IDr -------------------------------------------------------------------------------------

Deno.test("IDr: the realm whose own identity the initiator asked for", () => {
  const dnDer = dnName(
    [ava("2.5.4.6", str(Tag.Printable, "US"))],
    [ava("2.5.4.10", str(Tag.Utf8, "Example"))],
    [ava("2.5.4.3", str(Tag.Utf8, "vpn.example.com"))],
  );
  const realms = [
    { id: 1, name: "corporate", localIdentity: parseIdentity("fqdn:vpn.example.com") },
    { id: 2, name: "sales", localIdentity: parseIdentity("fqdn:sales-vpn.example.com") },
    { id: 3, name: "certs", localIdentity: { idType: 9, data: dnDer } },
    { id: 4, name: "sales-copy", localIdentity: parseIdentity("fqdn:sales-vpn.example.com") },
  ];
  assertEquals(selectRealmForIdr(realms, parseIdentity("fqdn:SALES-VPN.example.com."))?.id, 2);
  assertEquals(selectRealmForIdr(realms, parseIdentity("fqdn:vpn.example.com"))?.id, 1);
  // The same DN encoded with other string types and case still names realm 3.
  const otherEncoding = dnName(
    [ava("2.5.4.6", str(Tag.Utf8, "us"))],
    [ava("2.5.4.10", str(Tag.Bmp, "EXAMPLE"))],
    [ava("2.5.4.3", str(Tag.T61, "vpn.example.com"))],
  );
  assertEquals(selectRealmForIdr(realms, { idType: 9, data: otherEncoding })?.id, 3);
  assertEquals(selectRealmForIdr(realms, parseIdentity("fqdn:other.example.com")), undefined);
  assertEquals(selectRealmForIdr(realms, parseIdentity("email:vpn@example.com")), undefined);
  assertEquals(
    selectRealmForIdr(realms, { idType: 9, data: new Uint8Array([0x30, 0x01]) }),
    undefined,
  );
});

Deno.test("identities: equality by type and meaning", () => {
  const eq = (a: string, b: string) => identitiesEqual(parseIdentity(a), parseIdentity(b));
  assert(eq("fqdn:GW.example.com", "fqdn:gw.example.com."));
  assert(eq("email:Alice@Example.com", "email:alice@example.com"));
  assert(eq("ipv6:2001:db8::1", "ipv6:2001:DB8:0:0::1"));
  assert(eq("keyid:0a0b", "keyid:0A0B"));
  assert(!eq("keyid:0a0b", "keyid:0a0c"));
  assert(!eq("fqdn:example.com", "email:a@example.com"));
  assert(!eq("ipv4:10.0.0.1", "ipv4:10.0.0.2"));
  assert(!eq("fqdn:example.com", "fqdn:example.org"));
});
