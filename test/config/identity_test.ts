import { assertEquals } from "../_assert.ts";
import { IdentityKind, parseIdentity } from "../../lib/config/identity.ts";
import { IdType } from "../../lib/ike/constants.ts";
import { formatIdentity, parseIdentity as parseWireIdentity } from "../../lib/ike/payloads/id.ts";

Deno.test("canonicalizes identities of every kind", () => {
  const text = (input: string) => (parseIdentity(input) as { text: string }).text;
  assertEquals(text("FQDN:GW2.Example.com."), "fqdn:gw2.example.com");
  assertEquals(text("email:Alice@Example.COM"), "email:Alice@example.com");
  assertEquals(text("ipv4:198.51.100.2"), "ipv4:198.51.100.2");
  assertEquals(text("ipv6:2001:DB8:0::2"), "ipv6:2001:db8::2");
  assertEquals(text("keyid:0A:1B 2C"), "keyid:0a1b2c");
  assertEquals(text("asn1dn:3031300F"), "asn1dn:3031300f");
  assertEquals(text("rfc822:bob@example.com"), "email:bob@example.com");
});

Deno.test("canonical text is what the ID payload codec reads and prints", () => {
  for (
    const input of [
      "fqdn:GW2.example.com",
      "email:alice@example.com",
      "ipv4:198.51.100.2",
      "ipv6:2001:DB8::2",
      "keyid:0a1b2c",
      "asn1dn:3031300f",
    ]
  ) {
    const canonical = (parseIdentity(input) as { text: string }).text;
    const wire = parseWireIdentity(canonical);
    assertEquals(wire.idType, IdentityKind[(parseIdentity(input) as { kind: "fqdn" }).kind]);
    assertEquals(formatIdentity(wire.idType, wire.data), canonical);
  }
});

Deno.test("maps kinds to IKE ID types", () => {
  assertEquals(IdentityKind.fqdn, IdType.Fqdn);
  assertEquals(IdentityKind.email, IdType.Rfc822Addr);
  assertEquals(IdentityKind.ipv4, IdType.Ipv4Addr);
});

Deno.test("rejects malformed identities with a reason", () => {
  for (
    const [input, reason] of [
      ["gw2.example.com", "has no kind prefix"],
      ["host:gw2", 'unknown identity kind "host"'],
      ["fqdn:", "empty"],
      ["fqdn:-bad-.example.com", "not a valid domain name"],
      ["email:alice", "not an e-mail address"],
      ["ipv4:2001:db8::1", "not an IPv4 address"],
      ["ipv6:198.51.100.1", "not an IPv6 address"],
      ["dn:CN=gw2", 'unknown identity kind "dn"'],
      ["asn1dn:CN=gw2", "hex digits"],
      ["keyid:xyz", "hex digits"],
    ]
  ) {
    const result = parseIdentity(input!);
    assertEquals(typeof result, "string", input);
    assertEquals((result as string).includes(reason!), true, `${input}: ${String(result)}`);
  }
});

Deno.test("canonical text of an IPv4-mapped address or a non-ASCII e-mail follows the codec", () => {
  // The codec prints IPv4-mapped IPv6 identities in mixed notation; so does the configuration.
  const mapped = parseIdentity("ipv6:::FFFF:198.51.100.2") as { text: string };
  assertEquals(mapped.text, "ipv6:::ffff:198.51.100.2");
  assertEquals(mapped.text, formatIdentity(IdType.Ipv6Addr, parseWireIdentity(mapped.text).data));
  // An identity the codec cannot put on the wire is a configuration error, not a runtime one.
  const problem = parseIdentity("email:j\u00f6rg@example.com");
  assertEquals(typeof problem, "string");
  assertEquals((problem as string).startsWith("email identity: "), true, String(problem));
});
