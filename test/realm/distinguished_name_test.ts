import { assert, assertEquals, assertThrows } from "../_assert.ts";
import { fromHex } from "../../lib/wire/mod.ts";
import {
  attributeCount,
  attributeOidOf,
  decodeDistinguishedName,
  DerDecodeError,
  type DistinguishedName,
  dnContains,
  dnEquals,
  DnSyntaxError,
  formatDistinguishedName,
  parseDistinguishedName,
} from "../../lib/realm/mod.ts";
import { ava, children, dnName, oid, str, Tag, tlv } from "./_der_writer.ts";

/** [name, value] pairs per RDN, for compact expectations. */
function shape(dn: DistinguishedName): [string, string][][] {
  return dn.rdns.map((rdn) => rdn.map((a) => [a.name, a.value]));
}

// Subject of `openssl req -subj "/C=US/O=Example Corp/OU=Sales/CN=gw.example.com/
// emailAddress=admin@example.com"` (OpenSSL 3.0), cut out of the CSR: C as PrintableString,
// emailAddress as IA5String, the rest UTF8String.
const OPENSSL_SUBJECT = fromHex(
  "306f310b300906035504061302555331153013060355040a0c0c4578616d706c6520436f7270310e300c" +
    "060355040b0c0553616c65733117301506035504030c0e67772e6578616d706c652e636f6d3120301e06" +
    "092a864886f70d010901161161646d696e406578616d706c652e636f6d",
);

Deno.test("DN: decodes a subject produced by openssl (golden bytes)", () => {
  const dn = decodeDistinguishedName(OPENSSL_SUBJECT);
  assertEquals(shape(dn), [
    [["C", "US"]],
    [["O", "Example Corp"]],
    [["OU", "Sales"]],
    [["CN", "gw.example.com"]],
    [["E", "admin@example.com"]],
  ]);
  assertEquals(dn.rdns[4]![0]!.oid, "1.2.840.113549.1.9.1");
  assertEquals(
    formatDistinguishedName(dn),
    "C=US, O=Example Corp, OU=Sales, CN=gw.example.com, E=admin@example.com",
  );
});

Deno.test("DN: decodes every supported string type and keeps others as #hex", () => {
  const der = dnName(
    [ava("2.5.4.6", str(Tag.Printable, "DE"))],
    [ava("2.5.4.10", str(Tag.Utf8, "Exämple 株式会社"))],
    [ava("2.5.4.11", str(Tag.T61, "M\xfcnchen"))],
    [ava("0.9.2342.19200300.100.1.25", str(Tag.Ia5, "example"))],
    [ava("2.5.4.3", str(Tag.Bmp, "Jürgen"))],
    [ava("2.5.4.97", tlv(Tag.OctetString, new Uint8Array([1, 2, 0xab])))],
  );
  const dn = decodeDistinguishedName(der);
  assertEquals(shape(dn), [
    [["C", "DE"]],
    [["O", "Exämple 株式会社"]],
    [["OU", "München"]],
    [["DC", "example"]],
    [["CN", "Jürgen"]],
    [["2.5.4.97", "#04030102ab"]],
  ]);
  assertEquals(dn.rdns[5]![0]!.hex, true);
  assertEquals(dn.rdns[1]![0]!.hex, false);
});

Deno.test("DN: decodes multi-valued RDNs, large OID arcs, long lengths and the empty Name", () => {
  const dn = decodeDistinguishedName(dnName(
    [ava("2.5.4.11", str(Tag.Utf8, "Sales")), ava("2.5.4.3", str(Tag.Utf8, "Alice"))],
    [ava("1.3.6.1.4.1.311.60.2.1.3", str(Tag.Printable, "US"))],
    [ava("2.5.4.3", str(Tag.Utf8, "x".repeat(300)))],
  ));
  assertEquals(dn.rdns.length, 3);
  assertEquals(dn.rdns[0]!.map((a) => a.name), ["OU", "CN"]);
  assertEquals(dn.rdns[1]![0]!.name, "1.3.6.1.4.1.311.60.2.1.3");
  assertEquals(dn.rdns[2]![0]!.value.length, 300);
  assert(
    formatDistinguishedName(dn).startsWith(
      "OU=Sales+CN=Alice, 1.3.6.1.4.1.311.60.2.1.3=US, CN=xxx",
    ),
  );
  assertEquals(decodeDistinguishedName(fromHex("3000")).rdns, []);
  // Arc 2.999 (first byte > 0x7f) and a multi-byte second-level arc.
  assertEquals(
    decodeDistinguishedName(dnName([ava("2.999.3", str(Tag.Utf8, "v"))])).rdns[0]![0]!.oid,
    "2.999.3",
  );
});

Deno.test("DN: the JSDoc example decodes as documented", () => {
  const dn = decodeDistinguishedName(
    fromHex("3020310e300c060355040b0c0553616c6573310e300c060355040a0c054578616d70"),
  );
  assertEquals(formatDistinguishedName(dn), "OU=Sales, O=Examp");
});

/** Malformed encodings, each with the fragment its error message must contain. */
const MALFORMED: [string, string, string][] = [
  ["empty input", "", "a SEQUENCE (Name) is missing"],
  ["not a SEQUENCE", "3100", "expected a SEQUENCE (Name)"],
  ["length missing", "30", "the length is missing"],
  ["length overruns", "3005310330", "length 5 overruns the 3 bytes left"],
  ["indefinite length", "30800000", "indefinite length"],
  ["non-minimal long length", "3081050000000000", "should use the short form"],
  ["leading zero length octet", "30820005", "leading zero"],
  ["five length octets", "30850000000001", "too large"],
  ["truncated long length", "3082", "the length is truncated"],
  ["trailing bytes", "300000", "1 trailing bytes"],
  ["empty RDN", "30023100", "an empty RelativeDistinguishedName"],
  ["RDN not a SET", "30023000", "expected a SET"],
  ["AVA not a SEQUENCE", "300431020500", "expected a SEQUENCE (AttributeTypeAndValue)"],
  ["AVA without value", "30073105300306015a", "an attribute value is missing"],
  [
    "AVA with an extra element",
    "300c310a30080601550c01410500",
    "extra bytes in AttributeTypeAndValue",
  ],
  ["type not an OID", "3009310730050401550500", "expected an OBJECT IDENTIFIER"],
  ["empty OID", "30083106300406000500", "an empty OBJECT IDENTIFIER"],
  ["OID arc with leading 0x80", "300a31083006060280010500", "leading 0x80"],
  ["OID ending inside an arc", "3009310730050601850500", "ends inside an arc"],
  ["OID arc too large", "3011310f300d0609ffffffffffffffff7f0500", "arc is too large"],
  ["multi-byte tag", "30093107300506015a1f01", "multi-byte tag"],
  ["UTF8String not UTF-8", "300c310a300806035504030c01ff", "not valid UTF-8"],
  ["BMPString odd length", "300c310a300806035504031e0100", "odd length"],
  ["PrintableString non-ASCII", "300c310a30080603550403130180", "non-ASCII"],
];

Deno.test("DN: rejects malformed DER with a typed error naming the problem", () => {
  for (const [what, hex, fragment] of MALFORMED) {
    const error = assertThrows(() => decodeDistinguishedName(fromHex(hex)), DerDecodeError);
    assert(error.message.startsWith("Cannot decode X.501 Name: "), `${what}: ${error.message}`);
    assert(error.message.includes(fragment), `${what}: "${error.message}" lacks "${fragment}"`);
    assert(typeof (error as DerDecodeError).offset === "number", what);
  }
});

Deno.test("DN: specific offsets are reported", () => {
  const e = assertThrows(() => decodeDistinguishedName(fromHex("3005310330")), DerDecodeError);
  assertEquals((e as DerDecodeError).offset, 2); // the content that the length overruns
  const t = assertThrows(() => decodeDistinguishedName(fromHex("300000")), DerDecodeError);
  assertEquals((t as DerDecodeError).offset, 2);
});

/** Deterministic PRNG (mulberry32) so failures reproduce. */
function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function decodesOrTypedError(bytes: Uint8Array, what: string): void {
  try {
    decodeDistinguishedName(bytes);
  } catch (e) {
    if (!(e instanceof DerDecodeError)) throw new Error(`${what}: untyped error ${e}`);
  }
}

Deno.test("DN: every truncation of a real subject is a typed error", () => {
  for (let n = 0; n < OPENSSL_SUBJECT.length; n++) {
    assertThrows(() => decodeDistinguishedName(OPENSSL_SUBJECT.subarray(0, n)), DerDecodeError);
  }
});

Deno.test("DN: mutated and random input never escapes as an untyped error", () => {
  for (let i = 0; i < OPENSSL_SUBJECT.length; i++) {
    for (const value of [0x00, 0x01, 0x7f, 0x80, 0x81, 0x84, 0xff, OPENSSL_SUBJECT[i]! ^ 0x20]) {
      const mutated = OPENSSL_SUBJECT.slice();
      mutated[i] = value;
      decodesOrTypedError(mutated, `byte ${i} = ${value}`);
    }
  }
  const random = prng(7);
  for (let round = 0; round < 3000; round++) {
    const bytes = new Uint8Array(Math.floor(random() * 40));
    for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(random() * 256);
    if (bytes.length > 0 && random() < 0.7) bytes[0] = 0x30; // reach the inner structure
    if (bytes.length > 1 && random() < 0.7) bytes[1] = bytes.length - 2;
    decodesOrTypedError(bytes, `round ${round}`);
  }
});

Deno.test("DN text: parses comma, semicolon and slash forms with aliases and OIDs", () => {
  const expected = [[["C", "US"]], [["O", "Example"]], [["OU", "Sales"], ["CN", "Alice"]]];
  assertEquals(shape(parseDistinguishedName("C=US, O=Example, OU=Sales+CN=Alice")), expected);
  assertEquals(shape(parseDistinguishedName("C=US;O=Example;OU=Sales + CN=Alice")), expected);
  assertEquals(shape(parseDistinguishedName(" /C=US/O=Example/OU=Sales+CN=Alice")), expected);
  assertEquals(
    shape(parseDistinguishedName(
      "countryName=US, organizationName=Example, 2.5.4.11=Sales+OID.2.5.4.3=Alice",
    )),
    expected,
  );
  const email = parseDistinguishedName("emailAddress=a@example.com, e=b@example.com");
  assertEquals(email.rdns.map((r) => r[0]!.name), ["E", "E"]);
  assertEquals(parseDistinguishedName("2.5.4.97=VATDE-1").rdns[0]![0]!.name, "2.5.4.97");
  assertEquals(attributeOidOf("DC"), "0.9.2342.19200300.100.1.25");
  assertEquals(attributeOidOf("XY"), undefined);
});

Deno.test("DN text: escapes, hex bytes, #hex values and trimmed spaces", () => {
  const dn = parseDistinguishedName(
    "O=Example\\, Inc., OU=R\\+D, CN=J\\C3\\BCrgen, L=\\ padded\\ , ST=#0c054261796572",
  );
  assertEquals(shape(dn), [
    [["O", "Example, Inc."]],
    [["OU", "R+D"]],
    [["CN", "Jürgen"]],
    [["L", " padded "]],
    [["ST", "Bayer"]],
  ]);
  // A value type we do not decode stays hex, and compares with the decoded DER.
  const hexValue = parseDistinguishedName("2.5.4.97=#04030102AB");
  assertEquals(shape(hexValue), [[["2.5.4.97", "#04030102ab"]]]);
  const der = dnName([ava("2.5.4.97", tlv(Tag.OctetString, new Uint8Array([1, 2, 0xab])))]);
  assert(dnEquals(decodeDistinguishedName(der), hexValue));
  // In slash form a comma is an ordinary character.
  assertEquals(shape(parseDistinguishedName("/O=Example, Inc./CN=gw")), [
    [["O", "Example, Inc."]],
    [["CN", "gw"]],
  ]);
});

Deno.test("DN text: format and parse round-trip, control characters escaped", () => {
  const tricky = decodeDistinguishedName(dnName(
    [ava("2.5.4.10", str(Tag.Utf8, '#1 a,b+c;d<e>f"g\\h=i '))],
    [ava("2.5.4.3", str(Tag.Utf8, " lead\nnewline"))],
  ));
  const text = formatDistinguishedName(tricky);
  assertEquals(text, 'O=\\#1 a\\,b\\+c\\;d\\<e\\>f\\"g\\\\h\\=i\\ , CN=\\ lead\\0anewline');
  assert(![...text].some((c) => c.charCodeAt(0) < 0x20));
  assert(dnEquals(parseDistinguishedName(text), tricky));
  assertEquals(shape(parseDistinguishedName(text)), shape(tricky));
});

Deno.test("DN text: rejects bad text with the reason", () => {
  const cases: [string, string][] = [
    ["", "is empty"],
    ["OU=", "has an empty value"],
    ["OU=  , O=Example", 'has an empty value in "OU="'],
    ["O=Example, OU=", 'has an empty value in "OU="'],
    ["O=Example,,CN=x", "has an empty RDN"],
    ["O=Example,", "has an empty RDN"],
    ["Sales", 'has "Sales" without "="'],
    ["=Sales", "has an attribute without a name"],
    ["XY=1", 'has an unknown attribute "XY"'],
    ["CN=abc\\", "ends with an unfinished escape"],
    ["CN=\\ff", "not UTF-8"],
    ["ST=#zz", "that is not hex"],
    ["ST=#0c05", "not one well-formed DER element"],
  ];
  for (const [text, reason] of cases) {
    const e = assertThrows(() => parseDistinguishedName(text), DnSyntaxError);
    assert((e as DnSyntaxError).reason.includes(reason), `${text}: ${(e as DnSyntaxError).reason}`);
    assert(e.message.startsWith("Cannot parse distinguished name: "), e.message);
  }
});

Deno.test("DN: containment is order-insensitive, case-insensitive, whole values only", () => {
  const dn = parseDistinguishedName(
    "C=US, O=Example, OU=Sales, CN=Alice Smith, DC=example, DC=com",
  );
  const contains = (pattern: string) => dnContains(dn, parseDistinguishedName(pattern));
  assert(contains("OU=Sales, O=Example"));
  assert(contains("o=EXAMPLE, ou=sales"));
  assert(contains("CN=alice   smith"));
  assert(contains("DC=com, DC=example"));
  assert(contains("OU=Sales+O=Example")); // grouping does not matter
  assert(!contains("OU=Sale"));
  assert(!contains("OU=Sales Team"));
  assert(!contains("OU=Sales, O=Other"));
  assert(!contains("DC=com, DC=com")); // each pattern attribute needs its own match
  assert(!contains("CN=Sales")); // same value, other attribute type
  assertEquals(attributeCount(parseDistinguishedName("O=Example, OU=Sales+CN=gw")), 3);
});

Deno.test("DN: equality needs the same RDNs in the same order", () => {
  const a = parseDistinguishedName("C=US, O=Example, OU=Sales+CN=Alice");
  assert(dnEquals(a, parseDistinguishedName("/c=us/o=EXAMPLE/cn=alice+ou=SALES")));
  assert(!dnEquals(a, parseDistinguishedName("O=Example, C=US, OU=Sales+CN=Alice")));
  assert(!dnEquals(a, parseDistinguishedName("C=US, O=Example, OU=Sales, CN=Alice")));
  assert(!dnEquals(a, parseDistinguishedName("C=US, O=Example")));
});

// --- real DER from openssl, produced at test time ------------------------------------------

const runAllowed = Deno.permissions.querySync({ name: "run", command: "openssl" }).state ===
  "granted";

async function openssl(args: string[], input?: Uint8Array): Promise<Uint8Array> {
  let child: Deno.ChildProcess;
  try {
    child = new Deno.Command("openssl", {
      args,
      stdin: input ? "piped" : "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) {
      throw new Error(
        "openssl is not installed: this test needs it to produce real DER (apt-get install openssl)",
      );
    }
    throw e;
  }
  if (input) {
    const writer = child.stdin.getWriter();
    await writer.write(input);
    await writer.close();
  }
  const { code, stdout, stderr } = await child.output();
  if (code !== 0) {
    throw new Error(`openssl ${args.join(" ")} failed: ${new TextDecoder().decode(stderr)}`);
  }
  return stdout;
}

/** A DER certificate request for `subject`, and the subject Name cut out of it. */
async function opensslSubject(subject: string): Promise<{ csr: Uint8Array; name: Uint8Array }> {
  const csr = await openssl([
    "req",
    "-new",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-nodes",
    "-keyout",
    "/dev/null",
    "-utf8",
    "-multivalue-rdn",
    "-subj",
    subject,
    "-outform",
    "DER",
  ]);
  // CertificationRequest ::= SEQUENCE { CertificationRequestInfo ::= SEQUENCE { version, subject, ... } }
  const info = children(csr)[0]!;
  return { csr, name: children(info)[1]! };
}

Deno.test({
  name: "DN: decodes subjects that openssl encodes, and agrees with openssl's RFC 2253 text",
  ignore: !runAllowed,
  fn: async () => {
    const subjects: [string, [string, string][][]][] = [
      [
        "/C=US/ST=California/L=San Jose/O=Example Corp/OU=Sales/CN=gw.example.com/emailAddress=admin@example.com",
        [
          [["C", "US"]],
          [["ST", "California"]],
          [["L", "San Jose"]],
          [["O", "Example Corp"]],
          [["OU", "Sales"]],
          [["CN", "gw.example.com"]],
          [["E", "admin@example.com"]],
        ],
      ],
      [
        "/DC=com/DC=example/O=Exämple, Inc./OU=R&D #1+CN=Jürgen Müller/UID=jm",
        [
          [["DC", "com"]],
          [["DC", "example"]],
          [["O", "Exämple, Inc."]],
          // openssl sorts the SET: the shorter OU element comes first.
          [["OU", "R&D #1"], ["CN", "Jürgen Müller"]],
          [["UID", "jm"]],
        ],
      ],
    ];
    for (const [subject, expected] of subjects) {
      const { csr, name } = await opensslSubject(subject);
      const dn = decodeDistinguishedName(name);
      assertEquals(shape(dn), expected, subject);
      // openssl's own text (RFC 2253: reversed order, UTF-8 as \XX escapes) read by our parser.
      const text = new TextDecoder().decode(
        await openssl(
          ["req", "-inform", "DER", "-noout", "-subject", "-nameopt", "RFC2253"],
          csr,
        ),
      ).trim().replace(/^subject=/, "");
      const parsed = parseDistinguishedName(text);
      const reversed: DistinguishedName = { rdns: [...parsed.rdns].reverse() };
      assert(dnEquals(reversed, dn), `${subject}: openssl printed ${text}`);
      assert(dnContains(dn, parseDistinguishedName(formatDistinguishedName(dn))));
    }
  },
});

Deno.test("DN: the test DER writer itself encodes OIDs like openssl", () => {
  // 2.5.4.6 and 1.2.840.113549.1.9.1 as they appear in OPENSSL_SUBJECT.
  assertEquals(oid("2.5.4.6"), fromHex("0603550406"));
  assertEquals(oid("1.2.840.113549.1.9.1"), fromHex("06092a864886f70d010901"));
});
