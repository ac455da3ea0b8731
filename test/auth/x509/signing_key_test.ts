import { assert, assertEquals, assertRejects, assertThrows } from "../../_assert.ts";
import {
  AuthSignatureError,
  SIGNATURE_SCHEMES,
  SigningKey,
  X509ParseError,
} from "../../../lib/auth/x509/mod.ts";
import { makeTestPki, run } from "./_pki.ts";

const pki = await makeTestPki();

Deno.test("loads PKCS#8 RSA and EC keys and matches them to their certificates", () => {
  const rsa = pki.key("gw-rsa");
  assertEquals(rsa.toJSON(), { keyType: "rsa", bits: 2048 });
  assert(rsa.matches(pki.cert("gw-rsa")));
  assert(!rsa.matches(pki.cert("gw-p256")));
  const p256 = pki.key("gw-p256");
  assertEquals(p256.toJSON(), { keyType: "ecdsa", bits: 256, curve: "P-256" });
  assert(p256.matches(pki.cert("gw-p256")));
  const p384 = pki.key("gw-p384");
  assertEquals(p384.toJSON(), { keyType: "ecdsa", bits: 384, curve: "P-384" });
  assertEquals(p384.publicKeyInfo, pki.cert("gw-p384").publicKeyInfo);
});

Deno.test("loads the traditional PKCS#1 and SEC 1 forms", () => {
  assert(pki.text("gw-rsa.pkcs1.key").startsWith("-----BEGIN RSA PRIVATE KEY-----"));
  assert(SigningKey.fromPem(pki.text("gw-rsa.pkcs1.key")).matches(pki.cert("gw-rsa")));
  assert(pki.text("gw-p256.sec1.key").startsWith("-----BEGIN EC PRIVATE KEY-----"));
  assert(SigningKey.fromPem(pki.text("gw-p256.sec1.key")).matches(pki.cert("gw-p256")));
});

Deno.test("refuses encrypted, malformed and unsupported keys without quoting them", async () => {
  assertThrows(
    () => SigningKey.fromPem(pki.text("gw-p256.enc.key")),
    X509ParseError,
    "Cannot load private key: it is encrypted",
  );
  assertThrows(() => SigningKey.fromPem(pki.text("root.crt")), X509ParseError, "no PRIVATE KEY");
  const lines = pki.text("gw-p256.key").trim().split("\n");
  const truncated = [lines[0], lines[1], lines.at(-1)].join("\n"); // header, one line, footer
  const e = assertThrows(() => SigningKey.fromPem(truncated), X509ParseError, "malformed");
  assert(!e.message.includes(lines[1]!.slice(0, 12)), e.message);
  await run("openssl", ["genpkey", "-algorithm", "ED25519", "-out", pki.path("ed.key")]);
  assertThrows(
    () => SigningKey.fromPem(pki.text("ed.key")),
    X509ParseError,
    "ed25519 keys are not supported",
  );
  await run("openssl", [
    "genpkey",
    "-algorithm",
    "EC",
    "-pkeyopt",
    "ec_paramgen_curve:secp256k1",
    "-out",
    pki.path("k1.key"),
  ]);
  assertThrows(() => SigningKey.fromPem(pki.text("k1.key")), X509ParseError, "secp256k1");
});

Deno.test("load() names the file it cannot read", async () => {
  const key = await SigningKey.load(pki.path("gw-rsa.key"));
  assert(key.matches(pki.cert("gw-rsa")));
  await assertRejects(
    () => SigningKey.load(pki.path("absent.key")),
    X509ParseError,
    `Cannot load private key ${pki.path("absent.key")}:`,
  );
  await assertRejects(
    () => SigningKey.load(pki.path("gw-p256.enc.key")),
    X509ParseError,
    `Cannot load private key ${pki.path("gw-p256.enc.key")}: it is encrypted`,
  );
});

Deno.test("never shows key material in strings, inspection or JSON", () => {
  const pem = pki.text("gw-rsa.key");
  const key = SigningKey.fromPem(pem);
  const body = pem.split("\n").filter((l) => l && !l.startsWith("-----"));
  for (const shown of [String(key), Deno.inspect(key), JSON.stringify(key), `${key}`]) {
    assert(shown.length < 80, shown);
    for (const line of body) assert(!shown.includes(line.slice(0, 16)), shown);
  }
  assertEquals(String(key), "SigningKey(rsa 2048)");
  assertEquals(Deno.inspect(pki.key("gw-p384")), "SigningKey(ecdsa P-384)");
  assertEquals(Object.keys(key).sort(), ["bits", "curve", "keyType", "publicKeyInfo"]);
});

Deno.test("signs only with schemes that fit the key", () => {
  const p256 = pki.key("gw-p256");
  assertEquals(p256.sign(SIGNATURE_SCHEMES.ECDSA_256, new Uint8Array(8)).length, 64);
  assertThrows(
    () => p256.sign(SIGNATURE_SCHEMES.ECDSA_384, new Uint8Array(8)),
    AuthSignatureError,
    "Cannot sign with ECDSA_384: it needs P-384 key, this is ecdsa P-256",
  );
  assertThrows(
    () => p256.sign(SIGNATURE_SCHEMES.RSA_EMSA_PKCS1_SHA2_256, new Uint8Array(8)),
    AuthSignatureError,
  );
  assertThrows(
    () => pki.key("gw-rsa").sign(SIGNATURE_SCHEMES.ECDSA_WITH_SHA256_DER, new Uint8Array(8)),
    AuthSignatureError,
  );
});
