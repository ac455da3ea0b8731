import { assert, assertEquals, assertRejects } from "../../_assert.ts";
import {
  publicKeyInfoHash,
  TrustStore,
  TrustStoreError,
  validateChain,
} from "../../../lib/auth/x509/mod.ts";
import { toHex } from "../../../lib/wire/mod.ts";
import { makeTestPki, run } from "./_pki.ts";

const pki = await makeTestPki();

Deno.test("loads CA files, PEM bundles and CRL files", async () => {
  const bundle = pki.path("bundle.pem");
  await Deno.writeTextFile(bundle, pki.text("root.crt") + pki.text("other-root.crt"));
  const store = await TrustStore.load({
    caFiles: [bundle, pki.path("root.crt")],
    crlFiles: [pki.path("root.crl"), pki.path("intermediate.crl")],
  });
  assertEquals(store.cas.map((c) => c.subject), [
    "C=CH, O=Rockhopper Test, CN=Test Root CA",
    "C=CH, O=Other Org, CN=Other Root CA",
  ], "the duplicate root is stored once");
  assertEquals(store.crls.length, 2);
  const chain = await validateChain(pki.cert("gw-p256"), [pki.cert("intermediate")], store);
  assertEquals(chain.path.length, 3);
});

Deno.test("loads DER files and directories", async () => {
  const caDir = pki.path("cadir");
  const crlDir = pki.path("crldir");
  await Deno.mkdir(caDir);
  await Deno.mkdir(crlDir);
  await run("openssl", [
    "x509",
    "-in",
    pki.path("root.crt"),
    "-outform",
    "DER",
    "-out",
    `${caDir}/root.der`,
  ]);
  await Deno.copyFile(pki.path("other-root.crt"), `${caDir}/other.pem`);
  await Deno.writeTextFile(`${caDir}/README`, "not a certificate, and not read");
  await run("openssl", [
    "crl",
    "-in",
    pki.path("intermediate.crl"),
    "-outform",
    "DER",
    "-out",
    `${crlDir}/int.crl`,
  ]);
  const store = await TrustStore.load({ caDirectories: [caDir], crlDirectories: [crlDir] });
  assertEquals(store.cas.map((c) => c.subject), [
    "C=CH, O=Other Org, CN=Other Root CA",
    "C=CH, O=Rockhopper Test, CN=Test Root CA",
  ], "directory entries in name order");
  assertEquals(store.crls.map((c) => c.issuer), [
    "C=CH, O=Rockhopper Test, CN=Test Intermediate CA",
  ]);
  const e = await assertRejects(
    () => validateChain(pki.cert("revoked"), [pki.cert("intermediate")], store),
  );
  assert(e.message.includes("revoked on "), e.message);
});

Deno.test("names the file that cannot be loaded", async () => {
  const missing = pki.path("missing.pem");
  const e1 = await assertRejects(
    () => TrustStore.load({ caFiles: [missing] }),
    TrustStoreError,
    `Cannot load CA file ${missing}:`,
  );
  assertEquals((e1 as TrustStoreError).path, missing);
  const e2 = await assertRejects(
    () => TrustStore.load({ caFiles: [pki.path("gw-rsa.key")] }),
    TrustStoreError,
    `Cannot load CA file ${
      pki.path("gw-rsa.key")
    }: Cannot parse certificate: no "CERTIFICATE" PEM block`,
  );
  assertEquals((e2 as TrustStoreError).path, pki.path("gw-rsa.key"));
  await assertRejects(
    () => TrustStore.load({ crlFiles: [pki.path("root.crt")] }),
    TrustStoreError,
    `Cannot load CRL file ${pki.path("root.crt")}: Cannot parse CRL`,
  );
  await assertRejects(
    () => TrustStore.load({ caDirectories: [pki.path("nodir")] }),
    TrustStoreError,
    `Cannot load directory ${pki.path("nodir")}`,
  );
});

Deno.test("CERTREQ authority hashes are SHA-1 of the CA's subjectPublicKeyInfo", async () => {
  const store = new TrustStore([pki.cert("root"), pki.cert("intermediate")]);
  const hashes = store.authorityHashes();
  assertEquals(hashes.length, 2);
  for (const [i, name] of ["root", "intermediate"].entries()) {
    // openssl: public key of the certificate as DER SPKI, hashed with SHA-1.
    const pubPem = await run("openssl", [
      "x509",
      "-in",
      pki.path(`${name}.crt`),
      "-noout",
      "-pubkey",
    ]);
    await Deno.writeTextFile(pki.path(`${name}.pub.pem`), pubPem);
    await run("openssl", [
      "pkey",
      "-pubin",
      "-in",
      pki.path(`${name}.pub.pem`),
      "-outform",
      "DER",
      "-out",
      pki.path(`${name}.spki`),
    ]);
    const digest = await run("openssl", ["dgst", "-sha1", "-r", pki.path(`${name}.spki`)]);
    assertEquals(toHex(hashes[i]!), digest.split(" ")[0]);
    assertEquals(hashes[i], publicKeyInfoHash(pki.cert(name).publicKeyInfo));
    assert(store.findByAuthorityHash(hashes[i]!)!.equals(pki.cert(name)));
  }
  assertEquals(store.findByAuthorityHash(new Uint8Array(20)), undefined);
});

Deno.test("finds CAs and CRLs by issuer name", () => {
  const store = new TrustStore([pki.cert("root"), pki.cert("intermediate")], [
    pki.crl("intermediate"),
  ]);
  const issuer = pki.cert("gw-p256").issuerDer;
  assertEquals(store.casNamed(issuer).map((c) => c.subject), [
    "C=CH, O=Rockhopper Test, CN=Test Intermediate CA",
  ]);
  assertEquals(store.crlsOf(issuer).length, 1);
  assertEquals(store.crlsOf(pki.cert("root").subjectDer).length, 0);
  assert(store.contains(pki.cert("root")));
  assert(!store.contains(pki.cert("fake-intermediate")));
});
