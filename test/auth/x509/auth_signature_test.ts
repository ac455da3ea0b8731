import { assert, assertEquals, assertThrows } from "../../_assert.ts";
import {
  AuthSignatureError,
  type Certificate,
  chooseSignatureScheme,
  createAuthSignature,
  decodeAuthSignature,
  decodeSignatureHashAlgorithms,
  encodeSignatureHashAlgorithms,
  pssAlgorithmIdentifier,
  RFC7427_ALGORITHM_IDENTIFIERS,
  SIGNATURE_HASH_ALGORITHMS,
  SIGNATURE_SCHEMES,
  SignatureHashAlgorithm,
  signatureHashAlgorithmName,
  type SignatureScheme,
  signAuth,
  type SigningKey,
  verifyAuthSignature,
} from "../../../lib/auth/x509/mod.ts";
import { AuthMethod } from "../../../lib/ike/mod.ts";
import { concatBytes, DecodeError, fromHex, toHex } from "../../../lib/wire/mod.ts";
import { makeTestPki, run } from "./_pki.ts";

const pki = await makeTestPki();

// A P-521 key and certificate for method 11, made the same way as the rest of the PKI.
await run("openssl", [
  "req",
  "-x509",
  "-newkey",
  "ec",
  "-pkeyopt",
  "ec_paramgen_curve:P-521",
  "-nodes",
  "-keyout",
  pki.path("p521.key"),
  "-out",
  pki.path("p521.crt"),
  "-days",
  "7300",
  "-subj",
  "/C=CH/O=Rockhopper Test/CN=p521.example.com",
]);

const octets = new TextEncoder().encode(
  "InitiatorSignedOctets = RealMessage1 | NonceRData | MACedIDForI (stand-in)",
);

interface Signer {
  key: SigningKey;
  cert: Certificate;
  other: Certificate; // same key type, different key
}
const signers: Record<string, Signer> = {
  rsa: { key: pki.key("gw-rsa"), cert: pki.cert("gw-rsa"), other: pki.cert("root") },
  p256: { key: pki.key("gw-p256"), cert: pki.cert("gw-p256"), other: pki.cert("expired") },
  p384: { key: pki.key("gw-p384"), cert: pki.cert("gw-p384"), other: pki.cert("intermediate") },
  p521: { key: pki.key("p521"), cert: pki.cert("p521"), other: pki.cert("p521") },
};

/** Every scheme with the keys that can use it. */
const ROUND_TRIPS: [keyof typeof SIGNATURE_SCHEMES, string[]][] = [
  ["RSA_EMSA_PKCS1_SHA1", ["rsa"]],
  ["ECDSA_256", ["p256"]],
  ["ECDSA_384", ["p384"]],
  ["ECDSA_521", ["p521"]],
  ["RSA_EMSA_PKCS1_SHA2_256", ["rsa"]],
  ["RSA_EMSA_PKCS1_SHA2_384", ["rsa"]],
  ["RSA_EMSA_PKCS1_SHA2_512", ["rsa"]],
  ["RSA_EMSA_PSS_SHA2_256", ["rsa"]],
  ["RSA_EMSA_PSS_SHA2_384", ["rsa"]],
  ["RSA_EMSA_PSS_SHA2_512", ["rsa"]],
  ["ECDSA_WITH_SHA256_DER", ["p256", "p384"]],
  ["ECDSA_WITH_SHA384_DER", ["p256", "p384", "p521"]],
  ["ECDSA_WITH_SHA512_DER", ["p256", "p384", "p521"]],
];

async function writeFile(name: string, bytes: Uint8Array): Promise<string> {
  await Deno.writeFile(pki.path(name), bytes);
  return pki.path(name);
}

async function publicKeyPem(certName: string): Promise<string> {
  const pem = await run("openssl", [
    "x509",
    "-in",
    pki.path(`${certName}.crt`),
    "-noout",
    "-pubkey",
  ]);
  await Deno.writeTextFile(pki.path(`${certName}.pub`), pem);
  return pki.path(`${certName}.pub`);
}

/** The signature value inside AUTH data (after the RFC 7427 prefix for method 14). */
function bareSignature(scheme: SignatureScheme, authData: Uint8Array): Uint8Array {
  return scheme.algorithmIdentifier ? authData.subarray(1 + authData[0]!) : authData;
}

Deno.test("RFC 7427 Appendix A AlgorithmIdentifier prefixes (known answers)", async () => {
  const expected: [keyof typeof RFC7427_ALGORITHM_IDENTIFIERS, string, string][] = [
    // A.1.1–A.1.4, PKCS#1 1.5 RSA Encryption
    ["sha1WithRSAEncryption", "300d06092a864886f70d0101050500", "sha1WithRSAEncryption"],
    ["sha256WithRSAEncryption", "300d06092a864886f70d01010b0500", "sha256WithRSAEncryption"],
    ["sha384WithRSAEncryption", "300d06092a864886f70d01010c0500", "sha384WithRSAEncryption"],
    ["sha512WithRSAEncryption", "300d06092a864886f70d01010d0500", "sha512WithRSAEncryption"],
    // A.3.1–A.3.4, ECDSA
    ["ecdsaWithSha1", "300906072a8648ce3d0401", "ecdsa-with-SHA1"],
    ["ecdsaWithSha256", "300a06082a8648ce3d040302", "ecdsa-with-SHA256"],
    ["ecdsaWithSha384", "300a06082a8648ce3d040303", "ecdsa-with-SHA384"],
    ["ecdsaWithSha512", "300a06082a8648ce3d040304", "ecdsa-with-SHA512"],
  ];
  assertEquals(Object.keys(RFC7427_ALGORITHM_IDENTIFIERS).length, expected.length);
  for (const [name, hex, opensslName] of expected) {
    const bytes = RFC7427_ALGORITHM_IDENTIFIERS[name];
    assertEquals(toHex(bytes), hex, name);
    // openssl's own ASN.1 parser names the same algorithm.
    const parsed = await run("openssl", [
      "asn1parse",
      "-inform",
      "DER",
      "-in",
      await writeFile(`${name}.der`, bytes),
    ]);
    assert(parsed.includes(`:${opensslName}`), parsed);
    assertEquals(parsed.includes("NULL"), name.includes("RSA"), "RSA ones carry NULL parameters");
  }
});

Deno.test("the RSASSA-PSS AlgorithmIdentifier names SHA-2, MGF1 with the same hash and salt = hash length", async () => {
  const pss256 = pssAlgorithmIdentifier("sha256");
  assertEquals(
    toHex(pss256),
    "3041" + "06092a864886f70d01010a" + "3034" +
      "a00f300d0609608648016503040201" + "0500" +
      "a11c301a06092a864886f70d010108" + "300d0609608648016503040201" + "0500" +
      "a203020120",
  );
  for (const [hash, salt] of [["sha256", 32], ["sha384", 48], ["sha512", 64]] as const) {
    const parsed = await run("openssl", [
      "asn1parse",
      "-inform",
      "DER",
      "-in",
      await writeFile(`pss-${hash}.der`, pssAlgorithmIdentifier(hash)),
    ]);
    assert(parsed.includes(":rsassaPss"), parsed);
    assertEquals(parsed.split(`:${hash}`).length - 1, 2, `hash and MGF1 hash: ${parsed}`);
    assert(parsed.includes(":mgf1"), parsed);
    assert(parsed.includes(`INTEGER           :${salt.toString(16).toUpperCase()}`), parsed);
  }
});

Deno.test("announces SHA2-256/384/512 and codes the SIGNATURE_HASH_ALGORITHMS notify", () => {
  assertEquals(SIGNATURE_HASH_ALGORITHMS, [2, 3, 4]);
  assertEquals(toHex(encodeSignatureHashAlgorithms()), "000200030004");
  // strongSwan 5.9.8 sends 2, 3, 4, 5 (test/testdata/README.txt).
  assertEquals(decodeSignatureHashAlgorithms(fromHex("0002000300040005")), [2, 3, 4, 5]);
  assertEquals(decodeSignatureHashAlgorithms(new Uint8Array(0)), []);
  assertThrows(() => decodeSignatureHashAlgorithms(new Uint8Array(3)), DecodeError);
  assertEquals(signatureHashAlgorithmName(SignatureHashAlgorithm.Identity), "IDENTITY");
  assertEquals(signatureHashAlgorithmName(SignatureHashAlgorithm.Sha2_384), "SHA2_384");
  assertEquals(signatureHashAlgorithmName(9), "UNKNOWN(9)");
});

for (const [name, keys] of ROUND_TRIPS) {
  for (const who of keys) {
    Deno.test(`${name} with the ${who} key: sign, verify, and fail on tampering`, () => {
      const scheme = SIGNATURE_SCHEMES[name];
      const { key, cert, other } = signers[who]!;
      const auth = createAuthSignature(key, octets, scheme);
      assertEquals(auth.authMethod, scheme.authMethod);
      if (scheme.algorithmIdentifier) {
        assertEquals(auth.authMethod, AuthMethod.DigitalSignature);
        assertEquals(auth.authData[0], scheme.algorithmIdentifier.length);
        assertEquals(
          auth.authData.subarray(1, 1 + scheme.algorithmIdentifier.length),
          scheme.algorithmIdentifier,
        );
      }
      if (scheme.ecdsaEncoding === "raw") {
        assertEquals(
          auth.authData.length,
          { "P-256": 64, "P-384": 96, "P-521": 132 }[scheme.curve!],
        );
      }
      const request = {
        authMethod: auth.authMethod,
        authData: auth.authData,
        signedOctets: octets,
      };
      assertEquals(verifyAuthSignature(cert, request), { valid: true, scheme });
      assertEquals(verifyAuthSignature(cert.publicKeyInfo, request).valid, true, "SPKI works too");

      const tampered = octets.slice();
      tampered[5]! ^= 0x01;
      assertEquals(verifyAuthSignature(cert, { ...request, signedOctets: tampered }).valid, false);
      const badSignature = auth.authData.slice();
      badSignature[badSignature.length - 3]! ^= 0x40;
      assertEquals(verifyAuthSignature(cert, { ...request, authData: badSignature }).valid, false);
      if (!other.equals(cert) && (scheme.curve === undefined || scheme.curve === other.curve)) {
        assertEquals(verifyAuthSignature(other, request).valid, false, "another key");
      }
    });
  }
}

Deno.test("openssl verifies our method 1 signature as RSA PKCS#1 v1.5 with SHA-1", async () => {
  const auth = createAuthSignature(signers.rsa!.key, octets, SIGNATURE_SCHEMES.RSA_EMSA_PKCS1_SHA1);
  assertEquals(auth.authMethod, 1);
  const out = await run("openssl", [
    "dgst",
    "-sha1",
    "-verify",
    await publicKeyPem("gw-rsa"),
    "-signature",
    await writeFile("m1.sig", auth.authData),
    await writeFile("octets", octets),
  ]);
  assertEquals(out.trim(), "Verified OK");
});

Deno.test("openssl verifies our method 14 signatures (PKCS#1 SHA-384, PSS SHA-256, ECDSA DER)", async () => {
  const data = await writeFile("octets", octets);
  const cases: [SignatureScheme, string, string[]][] = [
    [SIGNATURE_SCHEMES.RSA_EMSA_PKCS1_SHA2_384, "gw-rsa", ["-sha384"]],
    [SIGNATURE_SCHEMES.RSA_EMSA_PSS_SHA2_256, "gw-rsa", [
      "-sha256",
      "-sigopt",
      "rsa_padding_mode:pss",
      "-sigopt",
      "rsa_pss_saltlen:32",
    ]],
    [SIGNATURE_SCHEMES.ECDSA_WITH_SHA384_DER, "gw-p256", ["-sha384"]],
    [SIGNATURE_SCHEMES.ECDSA_WITH_SHA256_DER, "gw-p384", ["-sha256"]],
  ];
  for (const [scheme, certName, options] of cases) {
    const who = certName === "gw-rsa" ? "rsa" : certName === "gw-p256" ? "p256" : "p384";
    const auth = createAuthSignature(signers[who]!.key, octets, scheme);
    const sig = await writeFile(`${scheme.name}.sig`, bareSignature(scheme, auth.authData));
    const out = await run("openssl", [
      "dgst",
      ...options,
      "-verify",
      await publicKeyPem(certName),
      "-signature",
      sig,
      data,
    ]);
    assertEquals(out.trim(), "Verified OK", scheme.name);
  }
});

Deno.test("we verify openssl's signatures wrapped as method 14 AUTH data", async () => {
  const data = await writeFile("octets", octets);
  const cases: [SignatureScheme, string, string[]][] = [
    [SIGNATURE_SCHEMES.RSA_EMSA_PKCS1_SHA2_256, "gw-rsa", ["-sha256"]],
    [SIGNATURE_SCHEMES.RSA_EMSA_PSS_SHA2_512, "gw-rsa", [
      "-sha512",
      "-sigopt",
      "rsa_padding_mode:pss",
      "-sigopt",
      "rsa_pss_saltlen:64",
    ]],
    [SIGNATURE_SCHEMES.ECDSA_WITH_SHA256_DER, "gw-p256", ["-sha256"]],
    [SIGNATURE_SCHEMES.ECDSA_WITH_SHA512_DER, "gw-p384", ["-sha512"]],
  ];
  for (const [scheme, certName, options] of cases) {
    const sigPath = pki.path(`openssl-${scheme.name}.sig`);
    await run("openssl", [
      "dgst",
      ...options,
      "-sign",
      pki.path(`${certName}.key`),
      "-out",
      sigPath,
      data,
    ]);
    const prefix = scheme.algorithmIdentifier!;
    const authData = concatBytes(
      new Uint8Array([prefix.length]),
      prefix,
      Deno.readFileSync(sigPath),
    );
    const result = verifyAuthSignature(pki.cert(certName), {
      authMethod: AuthMethod.DigitalSignature,
      authData,
      signedOctets: octets,
    });
    assertEquals(result, { valid: true, scheme }, scheme.name);
  }
});

Deno.test("methods 9 and 10 carry r|s as WebCrypto's ECDSA (IEEE P1363) expects", async () => {
  for (
    const [who, scheme, hash, curve] of [
      ["p256", SIGNATURE_SCHEMES.ECDSA_256, "SHA-256", "P-256"],
      ["p384", SIGNATURE_SCHEMES.ECDSA_384, "SHA-384", "P-384"],
    ] as const
  ) {
    const { key, cert } = signers[who]!;
    const auth = createAuthSignature(key, octets, scheme);
    const publicKey = await crypto.subtle.importKey(
      "spki",
      new Uint8Array(cert.publicKeyInfo),
      { name: "ECDSA", namedCurve: curve },
      false,
      ["verify"],
    );
    assert(
      await crypto.subtle.verify(
        { name: "ECDSA", hash },
        publicKey,
        new Uint8Array(auth.authData),
        octets,
      ),
      scheme.name,
    );
  }
});

Deno.test("accepts sha256WithRSAEncryption without the NULL parameters", async () => {
  const data = await writeFile("octets", octets);
  const sigPath = pki.path("nonull.sig");
  await run("openssl", ["dgst", "-sha256", "-sign", pki.path("gw-rsa.key"), "-out", sigPath, data]);
  const noNull = fromHex("300b06092a864886f70d01010b");
  const authData = concatBytes(new Uint8Array([noNull.length]), noNull, Deno.readFileSync(sigPath));
  const result = verifyAuthSignature(pki.cert("gw-rsa"), {
    authMethod: 14,
    authData,
    signedOctets: octets,
  });
  assertEquals(result.valid, true);
  assertEquals(result.scheme.name, "RSA_EMSA_PKCS1_SHA2_256");
});

Deno.test("checks PSS with the salt length the peer's parameters name", () => {
  const { key, cert } = signers.rsa!;
  const auth = createAuthSignature(key, octets, SIGNATURE_SCHEMES.RSA_EMSA_PSS_SHA2_256);
  const decoded = decodeAuthSignature(14, auth.authData);
  assertEquals(decoded.saltLength, 32);
  // Rewrite the salt length in the parameters (last INTEGER, value 0x20) to 20: no longer valid.
  const data = auth.authData.slice();
  const at = 1 + SIGNATURE_SCHEMES.RSA_EMSA_PSS_SHA2_256.algorithmIdentifier!.length - 1;
  assertEquals(data[at], 0x20);
  data[at] = 20;
  assertEquals(decodeAuthSignature(14, data).saltLength, 20);
  assertEquals(
    verifyAuthSignature(cert, { authMethod: 14, authData: data, signedOctets: octets }).valid,
    false,
  );
});

Deno.test("refuses AUTH data it cannot check", () => {
  const rsa = pki.cert("gw-rsa");
  const p256 = pki.cert("gw-p256");
  const verify = (cert: Certificate, authMethod: number, authData: Uint8Array) =>
    verifyAuthSignature(cert, { authMethod, authData, signedOctets: octets });
  const p256Sig = createAuthSignature(signers.p256!.key, octets, SIGNATURE_SCHEMES.ECDSA_256);
  assertThrows(
    () => verify(rsa, 9, p256Sig.authData),
    AuthSignatureError,
    "Cannot verify AUTH: ECDSA_256 (method 9) needs P-256 key, the certificate has RSA",
  );
  assertThrows(
    () => verify(p256, 10, new Uint8Array(96)),
    AuthSignatureError,
    "needs P-384 key, the certificate has ECDSA P-256",
  );
  assertThrows(
    () => verify(rsa, 2, new Uint8Array(32)),
    AuthSignatureError,
    "not a signature method",
  );
  assertThrows(() => verify(rsa, 14, new Uint8Array(0)), AuthSignatureError, "no complete");
  assertThrows(
    () => verify(rsa, 14, new Uint8Array([40, 0x30, 0x03])),
    AuthSignatureError,
    "no complete",
  );
  assertThrows(
    () => verify(rsa, 14, new Uint8Array([3, 1, 2, 3, 9])),
    AuthSignatureError,
    "not DER",
  );
  const sha1 = RFC7427_ALGORITHM_IDENTIFIERS.sha1WithRSAEncryption;
  assertThrows(
    () => verify(rsa, 14, concatBytes(new Uint8Array([sha1.length]), sha1, new Uint8Array(256))),
    AuthSignatureError,
    "uses SHA1, which we do not accept",
  );
  const dsa = fromHex("300b0609608648016503040302"); // RFC 7427 A.2.2 dsa-with-sha256
  assertThrows(
    () => verify(rsa, 14, concatBytes(new Uint8Array([dsa.length]), dsa, new Uint8Array(64))),
    AuthSignatureError,
    "signature algorithm 2.16.840.1.101.3.4.3.2 is not supported",
  );
  const pssNoParams = fromHex("300b06092a864886f70d01010a"); // A.4.1, no parameters
  assertThrows(
    () => verify(rsa, 14, concatBytes(new Uint8Array([pssNoParams.length]), pssNoParams)),
    AuthSignatureError,
    "RSASSA-PSS without parameters",
  );
  const pssDefault = fromHex("300d06092a864886f70d01010a3000"); // A.4.2, SHA-1 defaults
  assertThrows(
    () => verify(rsa, 14, concatBytes(new Uint8Array([pssDefault.length]), pssDefault)),
    AuthSignatureError,
    "uses SHA1",
  );
  // PSS with SHA-256 but MGF1 with SHA-384.
  const mixed = fromHex(
    "3041" + "06092a864886f70d01010a" + "3034" +
      "a00f300d0609608648016503040201" + "0500" +
      "a11c301a06092a864886f70d010108" + "300d0609608648016503040202" + "0500" +
      "a203020120",
  );
  assertThrows(
    () => verify(rsa, 14, concatBytes(new Uint8Array([mixed.length]), mixed)),
    AuthSignatureError,
    "MGF1 with the signature's hash",
  );
  const ecdsaWithRsa = createAuthSignature(
    signers.p256!.key,
    octets,
    SIGNATURE_SCHEMES.ECDSA_WITH_SHA256_DER,
  );
  assertThrows(() => verify(rsa, 14, ecdsaWithRsa.authData), AuthSignatureError, "needs ECDSA key");
});

Deno.test("refuses ECDSA P-521 with SHA-256, which Deno's node:crypto cannot do", async () => {
  const { key, cert } = signers.p521!;
  assertThrows(
    () => createAuthSignature(key, octets, SIGNATURE_SCHEMES.ECDSA_WITH_SHA256_DER),
    AuthSignatureError,
    "P-521 with SHA-256 is not supported",
  );
  const sigPath = pki.path("p521-sha256.sig");
  await run("openssl", [
    "dgst",
    "-sha256",
    "-sign",
    pki.path("p521.key"),
    "-out",
    sigPath,
    await writeFile("octets", octets),
  ]);
  const prefix = RFC7427_ALGORITHM_IDENTIFIERS.ecdsaWithSha256;
  const authData = concatBytes(new Uint8Array([prefix.length]), prefix, Deno.readFileSync(sigPath));
  assertThrows(
    () => verifyAuthSignature(cert, { authMethod: 14, authData, signedOctets: octets }),
    AuthSignatureError,
    "Cannot verify AUTH: ECDSA on P-521 with SHA-256 is not supported",
  );
  assertEquals(
    chooseSignatureScheme(key, { peerHashAlgorithms: [2] }).name,
    "ECDSA_521",
    "no usable common hash: classic method 11",
  );
});

Deno.test("a malformed signature value is a failed check, not an error", () => {
  const prefix = RFC7427_ALGORITHM_IDENTIFIERS.ecdsaWithSha256;
  const authData = concatBytes(new Uint8Array([prefix.length]), prefix, new Uint8Array([1, 2, 3]));
  const result = verifyAuthSignature(pki.cert("gw-p256"), {
    authMethod: 14,
    authData,
    signedOctets: octets,
  });
  assertEquals(result.valid, false);
  assertEquals(
    verifyAuthSignature(pki.cert("gw-p256"), {
      authMethod: 9,
      authData: new Uint8Array(63),
      signedOctets: octets,
    })
      .valid,
    false,
  );
});

Deno.test("chooses method 14 with the best common hash when the peer sent the notify", () => {
  const strongSwan = [2, 3, 4, 5];
  const rsa = signers.rsa!.key;
  assertEquals(
    chooseSignatureScheme(rsa, { peerHashAlgorithms: strongSwan }).name,
    "RSA_EMSA_PKCS1_SHA2_256",
  );
  assertEquals(
    chooseSignatureScheme(rsa, { peerHashAlgorithms: strongSwan, rsaPss: true }).name,
    "RSA_EMSA_PSS_SHA2_256",
  );
  assertEquals(
    chooseSignatureScheme({ keyType: "rsa", bits: 4096 }, { peerHashAlgorithms: [2, 3, 4] }).name,
    "RSA_EMSA_PKCS1_SHA2_384",
  );
  assertEquals(
    chooseSignatureScheme(signers.p256!.key, { peerHashAlgorithms: strongSwan }).name,
    "ECDSA_WITH_SHA256_DER",
  );
  assertEquals(
    chooseSignatureScheme(signers.p384!.key, { peerHashAlgorithms: strongSwan }).name,
    "ECDSA_WITH_SHA384_DER",
  );
  assertEquals(
    chooseSignatureScheme(signers.p521!.key, { peerHashAlgorithms: strongSwan }).name,
    "ECDSA_WITH_SHA512_DER",
  );
  assertEquals(
    chooseSignatureScheme(signers.p256!.key, { peerHashAlgorithms: [4] }).name,
    "ECDSA_WITH_SHA512_DER",
  );
  assertEquals(
    chooseSignatureScheme(signers.p384!.key, { peerHashAlgorithms: [2] }).name,
    "ECDSA_WITH_SHA256_DER",
  );
});

Deno.test("falls back to the classic method without the notify or a common hash", () => {
  assertEquals(chooseSignatureScheme(signers.rsa!.key).authMethod, 1);
  assertEquals(chooseSignatureScheme(signers.rsa!.key).name, "RSA_EMSA_PKCS1_SHA1");
  assertEquals(chooseSignatureScheme(signers.p256!.key).authMethod, 9);
  assertEquals(chooseSignatureScheme(signers.p384!.key).authMethod, 10);
  assertEquals(chooseSignatureScheme(signers.p521!.key).authMethod, 11);
  assertEquals(
    chooseSignatureScheme(signers.p256!.key, { peerHashAlgorithms: [1, 5] }).authMethod,
    9,
  );
  assertEquals(chooseSignatureScheme(signers.rsa!.key, { peerHashAlgorithms: [] }).authMethod, 1);
});

Deno.test("signAuth chooses and signs in one call", () => {
  const auth = signAuth(signers.p384!.key, octets, { peerHashAlgorithms: [2, 3, 4] });
  assertEquals(auth.scheme.name, "ECDSA_WITH_SHA384_DER");
  assertEquals(auth.authMethod, 14);
  const result = verifyAuthSignature(signers.p384!.cert, { ...auth, signedOctets: octets });
  assertEquals(result.valid, true);
  const classic = signAuth(signers.rsa!.key, octets);
  assertEquals(classic.authMethod, 1);
  assertEquals(classic.authData.length, 256);
});
