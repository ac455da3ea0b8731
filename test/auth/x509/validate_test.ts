import { assert, assertEquals, assertRejects } from "../../_assert.ts";
import {
  CertificateValidationError,
  TrustStore,
  validateChain,
} from "../../../lib/auth/x509/mod.ts";
import { makeTestPki } from "./_pki.ts";

const pki = await makeTestPki();
const root = pki.cert("root");
const intermediate = pki.cert("intermediate");
const store = new TrustStore([root], [pki.crl("root"), pki.crl("intermediate")]);

async function refused(
  name: string,
  intermediates: string[],
  trust: TrustStore = store,
  options: Parameters<typeof validateChain>[3] = {},
): Promise<CertificateValidationError> {
  const error = await assertRejects(
    () => validateChain(pki.cert(name), intermediates.map((n) => pki.cert(n)), trust, options),
    CertificateValidationError,
  );
  return error as CertificateValidationError;
}

Deno.test("validates an RSA end entity through the intermediate to the root", async () => {
  const chain = await validateChain(pki.cert("gw-rsa"), [intermediate], store);
  assertEquals(chain.path.map((c) => c.subject), [
    "C=CH, O=Rockhopper Test, OU=Gateways, CN=gw-rsa.example.com",
    "C=CH, O=Rockhopper Test, CN=Test Intermediate CA",
    "C=CH, O=Rockhopper Test, CN=Test Root CA",
  ]);
  assert(chain.anchor.equals(root));
  assertEquals(chain.warnings, []);
});

Deno.test("validates ECDSA P-256 and P-384 end entities", async () => {
  const p256 = await validateChain(pki.cert("gw-p256"), [intermediate], store);
  assertEquals(p256.path.length, 3);
  const p384 = await validateChain(pki.cert("gw-p384"), [], store);
  assertEquals(p384.path.map((c) => c.subject), [
    "C=CH, O=Rockhopper Test, OU=Gateways, CN=gw-p384.example.com",
    "C=CH, O=Rockhopper Test, CN=Test Root CA",
  ]);
});

Deno.test("uses an intermediate from the trust store when the peer sends none", async () => {
  const withIntermediate = new TrustStore([root, intermediate]);
  const chain = await validateChain(pki.cert("gw-p256"), [], withIntermediate);
  assert(chain.anchor.equals(intermediate), "stops at the first trusted certificate");
});

Deno.test("ignores unrelated certificates among the intermediates", async () => {
  const chain = await validateChain(
    pki.cert("gw-rsa"),
    [pki.cert("other-root"), pki.cert("gw-p384"), intermediate],
    store,
  );
  assertEquals(chain.path.length, 3);
});

Deno.test("refuses an expired certificate with its end date", async () => {
  const e = await refused("expired", ["intermediate"]);
  assertEquals(e.problem, "expired");
  assertEquals(
    e.message,
    "Cannot validate certificate C=CH, O=Rockhopper Test, CN=expired.example.com: " +
      "expired on 2021-01-01",
  );
});

Deno.test("checks validity at the time given in options.now", async () => {
  const early = await refused("gw-rsa", ["intermediate"], store, {
    now: new Date("2001-01-01T00:00:00Z"),
  });
  assertEquals(early.problem, "not-yet-valid");
  assert(early.message.includes(": not valid before "), early.message);
  const late = await refused("gw-rsa", ["intermediate"], store, {
    now: new Date(Date.now() + 30 * 365 * 86400_000),
  });
  assertEquals(late.problem, "expired");
  assert(late.message.includes("CN=gw-rsa.example.com: expired on "), late.message);
});

Deno.test("refuses a path whose CA has expired, naming the CA", async () => {
  const shortCa = pki.cert("short-ca");
  const now = new Date(shortCa.notAfter.getTime() + 86400_000);
  const e = await refused("gw-under-short", ["short-ca"], store, { now });
  assertEquals(e.problem, "expired");
  assertEquals(
    e.message,
    "Cannot validate certificate C=CH, O=Rockhopper Test, CN=gw-under-short.example.com: CA " +
      `certificate C=CH, O=Rockhopper Test, CN=Short Lived CA expired on ${
        shortCa.notAfter.toISOString().slice(0, 10)
      }`,
  );
  assertEquals(e.culprit, "C=CH, O=Rockhopper Test, CN=Short Lived CA");
  const today = await validateChain(pki.cert("gw-under-short"), [shortCa], store);
  assertEquals(today.path.length, 3);
});

Deno.test("refuses a certificate of an unknown CA, naming the issuer", async () => {
  const e = await refused("gw-other", []);
  assertEquals(e.problem, "unknown-ca");
  assertEquals(
    e.message,
    "Cannot validate certificate C=CH, O=Other Org, CN=gw-other.example.com: signed by an " +
      "unknown CA (issuer C=CH, O=Other Org, CN=Other Root CA)",
  );
  const withItsRoot = await refused("gw-other", ["other-root"]);
  assertEquals(withItsRoot.problem, "unknown-ca", "a self-signed peer CA is not trusted");
  assert(withItsRoot.message.includes("CA certificate C=CH, O=Other Org, CN=Other Root CA"));
});

Deno.test("refuses a path whose intermediate is missing", async () => {
  const e = await refused("gw-p256", []);
  assertEquals(e.problem, "unknown-ca");
  assert(e.message.endsWith("(issuer C=CH, O=Rockhopper Test, CN=Test Intermediate CA)"));
});

Deno.test("refuses a certificate whose issuer name matches but whose signature does not", async () => {
  const e = await refused("gw-forged", ["intermediate"]);
  assertEquals(e.problem, "bad-signature");
  assertEquals(
    e.message,
    "Cannot validate certificate C=CH, O=Rockhopper Test, CN=gw-forged.example.com: signature " +
      "does not verify with the key of CA C=CH, O=Rockhopper Test, CN=Test Intermediate CA",
  );
  const viaFake = await refused("gw-forged", ["fake-intermediate"]);
  assertEquals(viaFake.problem, "unknown-ca", "the self-signed impostor is not trusted");
});

Deno.test("refuses a revoked certificate, naming the CRL and serial", async () => {
  const e = await refused("revoked", ["intermediate"]);
  assertEquals(e.problem, "revoked");
  const revoked = pki.cert("revoked");
  assertEquals(revoked.serialNumber, "1003");
  assert(
    e.message.startsWith(
      "Cannot validate certificate C=CH, O=Rockhopper Test, CN=revoked.example.com: revoked on ",
    ),
    e.message,
  );
  assert(
    e.message.endsWith(
      "(CRL of C=CH, O=Rockhopper Test, CN=Test Intermediate CA, serial 0x1003)",
    ),
    e.message,
  );
});

Deno.test("the same certificate validates without the CRL", async () => {
  const chain = await validateChain(
    pki.cert("revoked"),
    [intermediate],
    new TrustStore([root]),
  );
  assertEquals(chain.path.length, 3);
});

Deno.test("a CRL applies only to its issuer's certificates", async () => {
  // root.crl is empty and intermediate.crl lists serial 0x1003; gw-p384 (by root) passes.
  const chain = await validateChain(pki.cert("gw-p384"), [], store);
  assertEquals(chain.path.length, 2);
});

Deno.test("refuses a path when a CRL of the issuer does not verify with the issuer's key", async () => {
  // Same issuer DN as the real intermediate, signed by the impostor's key, "revoking" gw-p256.
  const forgedCrl = new TrustStore([root], [pki.crl("fake-intermediate")]);
  const e = await refused("gw-p256", ["intermediate"], forgedCrl);
  assertEquals(e.problem, "crl-invalid");
  assert(e.message.includes("does not verify with the CA's key"), e.message);
});

Deno.test("requireCrl refuses a path with an issuer that has no CRL", async () => {
  const noCrls = new TrustStore([root]);
  const e = await refused("gw-p256", ["intermediate"], noCrls, { requireCrl: true });
  assertEquals(e.problem, "crl-missing");
  assert(
    e.message.endsWith("no current CRL of CA C=CH, O=Rockhopper Test, CN=Test Root CA"),
    e.message,
  );
  const rootOnly = new TrustStore([root], [pki.crl("root")]);
  const e2 = await refused("gw-p256", ["intermediate"], rootOnly, { requireCrl: true });
  assert(
    e2.message.endsWith("no current CRL of CA C=CH, O=Rockhopper Test, CN=Test Intermediate CA"),
    e2.message,
  );
  const chain = await validateChain(pki.cert("gw-p256"), [intermediate], store, {
    requireCrl: true,
  });
  assertEquals(chain.path.length, 3);
});

Deno.test("a CRL past its nextUpdate is still used and reported as a warning", async () => {
  const shortCrl = pki.crl("root-short");
  const stale = new TrustStore([root], [shortCrl]);
  const later = new Date(shortCrl.nextUpdate!.getTime() + 3600_000);
  const chain = await validateChain(pki.cert("gw-p384"), [], stale, { now: later });
  assertEquals(chain.warnings.length, 1);
  assert(
    chain.warnings[0]!.startsWith("CRL of C=CH, O=Rockhopper Test, CN=Test Root CA is past"),
    chain.warnings[0],
  );
  const e = await refused("gw-p384", [], stale, { now: later, requireCrl: true });
  assertEquals(e.problem, "crl-missing", "a stale CRL is not a current one");
  const fresh = await validateChain(pki.cert("gw-p384"), [], stale, { requireCrl: true });
  assertEquals(fresh.warnings, []);
});

Deno.test("refuses an issuer without basicConstraints cA", async () => {
  const e = await refused("under-not-ca", ["not-ca"]);
  assertEquals(e.problem, "not-a-ca");
  assertEquals(
    e.message,
    "Cannot validate certificate C=CH, O=Rockhopper Test, CN=under-not-ca.example.com: CA " +
      "certificate C=CH, O=Rockhopper Test, CN=Not A CA lacks basicConstraints cA",
  );
  assertEquals(e.culprit, "C=CH, O=Rockhopper Test, CN=Not A CA");
  const trusted = await refused("under-not-ca", [], new TrustStore([root, pki.cert("not-ca")]));
  assertEquals(trusted.problem, "not-a-ca", "even a trusted certificate must be a CA to issue");
});

Deno.test("refuses an end entity whose keyUsage lacks digitalSignature", async () => {
  const e = await refused("no-digsig", ["intermediate"]);
  assertEquals(e.problem, "key-usage");
  assertEquals(
    e.message,
    "Cannot validate certificate C=CH, O=Rockhopper Test, CN=no-digsig.example.com: keyUsage " +
      "lacks digitalSignature",
  );
});

Deno.test("enforces the intermediate's pathLenConstraint of 0", async () => {
  assertEquals(intermediate.pathLength, 0);
  const e = await refused("gw-sub", ["sub-ca", "intermediate"]);
  assertEquals(e.problem, "path-length");
  assertEquals(
    e.message,
    "Cannot validate certificate C=CH, O=Rockhopper Test, CN=gw-sub.example.com: CA certificate " +
      "C=CH, O=Rockhopper Test, CN=Test Intermediate CA allows 0 intermediate CA(s) below it, " +
      "the path has 1",
  );
  // Trusting the sub CA directly shortens the path below any constraint.
  const chain = await validateChain(pki.cert("gw-sub"), [], new TrustStore([pki.cert("sub-ca")]));
  assertEquals(chain.path.length, 2);
});

Deno.test("refuses a certificate with an unsupported critical extension", async () => {
  const e = await refused("critical-ext", ["intermediate"]);
  assertEquals(e.problem, "critical-extension");
  assert(e.message.endsWith("has unsupported critical extension 1.3.6.1.4.1.55555.1"), e.message);
});

Deno.test("refuses a path longer than maxPathLength", async () => {
  const e = await refused("gw-rsa", ["intermediate"], store, { maxPathLength: 2 });
  assertEquals(e.problem, "path-length");
  assert(e.message.endsWith("path longer than 2 certificates"), e.message);
});

Deno.test("refuses when the trust store is empty", async () => {
  const e = await refused("gw-p384", [], new TrustStore());
  assertEquals(e.problem, "unknown-ca");
});
