import { assert, assertEquals, assertThrows } from "../../_assert.ts";
import {
  Certificate,
  distinguishedNameFromText,
  distinguishedNamesEqual,
  formatDistinguishedName,
  parseCertificates,
  RevocationList,
  X509ParseError,
} from "../../../lib/auth/x509/mod.ts";
import { formatIpAddress } from "../../../lib/wire/mod.ts";
import { makeTestPki, run } from "./_pki.ts";

const pki = await makeTestPki();

/** The certificate's DER as openssl writes it (to a file: stdout is decoded as text). */
async function derOf(name: string): Promise<Uint8Array> {
  await run("openssl", [
    "x509",
    "-in",
    pki.path(`${name}.crt`),
    "-outform",
    "DER",
    "-out",
    pki.path(`${name}.der`),
  ]);
  return Deno.readFileSync(pki.path(`${name}.der`));
}

Deno.test("parses subject, issuer, serial, dates and key type like openssl prints them", async () => {
  const cert = pki.cert("gw-p256");
  assertEquals(cert.subject, "C=CH, O=Rockhopper Test, OU=Gateways, CN=gw-p256.example.com");
  assertEquals(cert.issuer, "C=CH, O=Rockhopper Test, CN=Test Intermediate CA");
  const serial = await run("openssl", [
    "x509",
    "-in",
    pki.path("gw-p256.crt"),
    "-noout",
    "-serial",
  ]);
  assertEquals(`serial=${cert.serialNumber.toUpperCase()}`, serial.trim());
  const end = await run("openssl", ["x509", "-in", pki.path("gw-p256.crt"), "-noout", "-enddate"]);
  assertEquals(new Date(end.trim().slice("notAfter=".length)).getTime(), cert.notAfter.getTime());
  assertEquals(cert.publicKeyType, "ecdsa");
  assertEquals(cert.curve, "P-256");
  assertEquals(pki.cert("gw-rsa").publicKeyType, "rsa");
  assertEquals(pki.cert("gw-rsa").curve, undefined);
  assertEquals(pki.cert("intermediate").curve, "P-384");
});

Deno.test("reads DER and PEM alike", async () => {
  const der = await derOf("gw-rsa");
  const fromDer = Certificate.from(der);
  assert(fromDer.equals(pki.cert("gw-rsa")));
  assertEquals(fromDer.der, der);
});

Deno.test("reads subjectAltName entries", () => {
  const san = pki.cert("gw-rsa").subjectAltNames;
  assertEquals(san.dns, ["gw-rsa.example.com"]);
  assertEquals(san.email, ["vpn-rsa@example.com"]);
  assertEquals(san.ip.map((a) => formatIpAddress(a)), ["192.0.2.10", "2001:db8::10"]);
  assertEquals(pki.cert("root").subjectAltNames, { dns: [], email: [], ip: [] });
});

Deno.test("reads basicConstraints and keyUsage", () => {
  const root = pki.cert("root");
  assert(root.isCa);
  assertEquals(root.pathLength, undefined);
  assertEquals([...root.keyUsage!].sort(), ["cRLSign", "keyCertSign"]);
  const intermediate = pki.cert("intermediate");
  assert(intermediate.isCa);
  assertEquals(intermediate.pathLength, 0);
  const leaf = pki.cert("gw-p256");
  assert(!leaf.isCa);
  assertEquals([...leaf.keyUsage!], ["digitalSignature"]);
  assertEquals(pki.cert("gw-p384").keyUsage, undefined, "absent keyUsage is undefined");
  assertEquals([...pki.cert("no-digsig").keyUsage!], ["keyEncipherment"]);
  assert(!pki.cert("not-ca").isCa);
  assertEquals(pki.cert("gw-p256").unhandledCriticalExtensions, []);
  assertEquals(pki.cert("critical-ext").unhandledCriticalExtensions, ["1.3.6.1.4.1.55555.1"]);
});

Deno.test("parses every certificate of a PEM bundle", () => {
  const bundle = pki.text("root.crt") + pki.text("intermediate.crt");
  const certs = parseCertificates(bundle);
  assertEquals(certs.map((c) => c.subject), [
    "C=CH, O=Rockhopper Test, CN=Test Root CA",
    "C=CH, O=Rockhopper Test, CN=Test Intermediate CA",
  ]);
});

Deno.test("refuses input that is not a certificate", () => {
  assertThrows(() => Certificate.from("hello"), X509ParseError, "neither DER nor PEM");
  assertThrows(() => Certificate.from(pki.text("root.crl")), X509ParseError, 'no "CERTIFICATE"');
  assertThrows(() => Certificate.from(new Uint8Array([0x30, 0x03, 1, 2, 3])), X509ParseError);
  assertThrows(() => Certificate.from(pki.text("gw-rsa.key")), X509ParseError);
});

Deno.test("checks signatures between certificates", async () => {
  assert(await pki.cert("gw-p256").isSignedBy(pki.cert("intermediate")));
  assert(await pki.cert("intermediate").isSignedBy(pki.cert("root")), "RSA signs P-384");
  assert(!await pki.cert("gw-p256").isSignedBy(pki.cert("root")));
  assert(!await pki.cert("gw-forged").isSignedBy(pki.cert("intermediate")));
  assert(await pki.cert("gw-forged").isSignedBy(pki.cert("fake-intermediate")));
});

Deno.test("toString and inspect describe the certificate without key material", () => {
  const cert = pki.cert("gw-p256");
  assert(String(cert).startsWith("C=CH, O=Rockhopper Test, OU=Gateways, CN=gw-p256.example.com"));
  assert(String(cert).includes("serial 0x1001"));
  assert(Deno.inspect(cert).startsWith("Certificate { C=CH"));
});

Deno.test("parses a CRL and finds its entries", () => {
  const crl = pki.crl("intermediate");
  assertEquals(crl.issuer, "C=CH, O=Rockhopper Test, CN=Test Intermediate CA");
  assertEquals(crl.find("1003")?.serialNumber, "1003");
  assertEquals(crl.find("0x1003".slice(2))?.serialNumber, "1003");
  assertEquals(crl.find("001003")?.serialNumber, "1003", "leading zeros do not matter");
  assertEquals(crl.find("1001"), undefined);
  assert(crl.nextUpdate! > crl.thisUpdate);
  assertThrows(() => RevocationList.from(pki.text("root.crt")), X509ParseError, 'no "X509 CRL"');
});

Deno.test("checks CRL signatures against the issuing CA", async () => {
  assert(await pki.crl("intermediate").isSignedBy(pki.cert("intermediate")));
  assert(await pki.crl("root").isSignedBy(pki.cert("root")));
  assert(!await pki.crl("fake-intermediate").isSignedBy(pki.cert("intermediate")));
  assert(!await pki.crl("intermediate").isSignedBy(pki.cert("root")));
});

Deno.test("prints distinguished names in DER order as openssl does", async () => {
  for (const name of ["gw-rsa", "root", "gw-other"]) {
    const text = await run("openssl", [
      "x509",
      "-in",
      pki.path(`${name}.crt`),
      "-noout",
      "-subject",
      "-nameopt",
      "sep_comma_plus_space,sname",
    ]);
    const cert = pki.cert(name);
    assertEquals(formatDistinguishedName(cert.subjectDer), text.trim().replace(/^subject=/, ""));
  }
});

Deno.test("turns DN text into DER and back in the written order", () => {
  const der = distinguishedNameFromText("C=CH, O=Rockhopper Test, CN=Test Root CA");
  assertEquals(formatDistinguishedName(der), "C=CH, O=Rockhopper Test, CN=Test Root CA");
  assert(distinguishedNamesEqual(der, pki.cert("root").subjectDer));
  assertThrows(() => distinguishedNameFromText("not a dn"), X509ParseError);
  assertThrows(() => formatDistinguishedName(new Uint8Array([1, 2, 3])), X509ParseError);
});

Deno.test("compares DNs by DER or after case and whitespace normalisation", () => {
  const subject = pki.cert("gw-rsa").subjectDer;
  assert(distinguishedNamesEqual(subject, subject.slice()));
  assert(
    distinguishedNamesEqual(
      subject,
      distinguishedNameFromText("c=ch, o=ROCKHOPPER  test, ou=gateways, cn=GW-RSA.example.com"),
    ),
  );
  assert(
    !distinguishedNamesEqual(
      subject,
      distinguishedNameFromText("O=Rockhopper Test, C=CH, OU=Gateways, CN=gw-rsa.example.com"),
    ),
    "RDN order matters",
  );
  assert(
    !distinguishedNamesEqual(subject, distinguishedNameFromText("C=CH, O=Rockhopper Test")),
  );
  assert(!distinguishedNamesEqual(subject, new Uint8Array([0x30, 0x80])), "malformed is unequal");
});
