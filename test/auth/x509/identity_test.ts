import { assert, assertEquals } from "../../_assert.ts";
import {
  certificateMatchesIdentity,
  distinguishedNameFromText,
  formatDistinguishedName,
  identityFromCertificate,
} from "../../../lib/auth/x509/mod.ts";
import { IdType, parseIdentity } from "../../../lib/ike/mod.ts";
import { makeTestPki } from "./_pki.ts";

const pki = await makeTestPki();
const rsa = pki.cert("gw-rsa");
const p256 = pki.cert("gw-p256");

function matches(cert: typeof rsa, text: string): boolean {
  return certificateMatchesIdentity(cert, parseIdentity(text));
}

function indexOf(haystack: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}

Deno.test("the certificate's IKE identity is its subject as ID_DER_ASN1_DN", () => {
  const id = identityFromCertificate(rsa);
  assertEquals(id.idType, IdType.DerAsn1Dn);
  assertEquals(
    formatDistinguishedName(id.data),
    "C=CH, O=Rockhopper Test, OU=Gateways, CN=gw-rsa.example.com",
  );
  assert(indexOf(rsa.der, id.data) > 0, "the ID data is the subject Name's DER from the cert");
  assert(certificateMatchesIdentity(rsa, id));
  id.data[0] = 0; // a copy: the certificate is unchanged
  assertEquals(rsa.subjectDer[0], 0x30);
});

Deno.test("matches ID_DER_ASN1_DN by DER and after normalisation", () => {
  assert(certificateMatchesIdentity(rsa, { idType: IdType.DerAsn1Dn, data: rsa.subjectDer }));
  const relaxed = distinguishedNameFromText(
    "C=ch, O=rockhopper test, OU=GATEWAYS, CN=gw-rsa.example.com",
  );
  assert(certificateMatchesIdentity(rsa, { idType: IdType.DerAsn1Dn, data: relaxed }));
  assert(!certificateMatchesIdentity(p256, { idType: IdType.DerAsn1Dn, data: rsa.subjectDer }));
  const shorter = distinguishedNameFromText("C=CH, O=Rockhopper Test, CN=gw-rsa.example.com");
  assert(!certificateMatchesIdentity(rsa, { idType: IdType.DerAsn1Dn, data: shorter }));
});

Deno.test("matches ID_FQDN against dNSName subjectAltNames, ignoring case", () => {
  assert(matches(rsa, "fqdn:gw-rsa.example.com"));
  assert(matches(rsa, "fqdn:GW-RSA.Example.com"));
  assert(matches(p256, "fqdn:alias.example.com"), "any dNSName, case-insensitively");
  assert(!matches(rsa, "fqdn:gw-p256.example.com"));
  assert(!matches(rsa, "fqdn:example.com"), "no suffix matching");
  // critical-ext.example.com is only its CN: strongSwan does not match CNs either.
  assert(!matches(pki.cert("critical-ext"), "fqdn:critical-ext.example.com"), "CN is not a SAN");
});

Deno.test("matches ID_RFC822_ADDR against rfc822Name subjectAltNames", () => {
  assert(matches(rsa, "email:vpn-rsa@example.com"));
  assert(matches(rsa, "email:VPN-RSA@EXAMPLE.COM"));
  assert(!matches(rsa, "email:vpn-p256@example.com"));
  assert(!matches(rsa, "fqdn:vpn-rsa.example.com"));
});

Deno.test("matches ID_IPV4_ADDR and ID_IPV6_ADDR against iPAddress subjectAltNames", () => {
  assert(matches(rsa, "ipv4:192.0.2.10"));
  assert(matches(rsa, "ipv6:2001:db8::10"));
  assert(matches(rsa, "2001:db8:0:0:0:0:0:10"));
  assert(!matches(rsa, "ipv4:192.0.2.11"));
  assert(matches(p256, "192.0.2.11"));
  assert(!matches(p256, "ipv6:2001:db8::10"));
  assert(matches(pki.cert("gw-p384"), "ipv6:2001:db8::12"));
});

Deno.test("does not match ID types that a certificate cannot vouch for", () => {
  assert(!matches(rsa, "keyid:0102"));
  assert(!certificateMatchesIdentity(rsa, { idType: IdType.DerAsn1Gn, data: rsa.subjectDer }));
  assert(!certificateMatchesIdentity(rsa, { idType: 200, data: new Uint8Array(4) }));
  assert(!certificateMatchesIdentity(rsa, { idType: IdType.Fqdn, data: new Uint8Array([0xff]) }));
  assert(!certificateMatchesIdentity(rsa, { idType: IdType.Ipv4Addr, data: new Uint8Array(16) }));
});
