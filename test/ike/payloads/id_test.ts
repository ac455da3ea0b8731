import { ByteReader, DecodeError } from "../../../lib/wire/mod.ts";
import { IdType, PayloadType } from "../../../lib/ike/constants.ts";
import {
  decodeId,
  formatIdentity,
  IdentitySyntaxError,
  parseIdentity,
} from "../../../lib/ike/payloads/mod.ts";
import { assert, assertRoundTrip, assertThrowsError, hex } from "./_helpers.ts";

const ascii = (s: string) => new TextEncoder().encode(s);

Deno.test("ID: decodes an FQDN IDi", () => {
  assert.deepEqual(
    decodeId(
      new ByteReader(hex("02 000000 67772e6578616d706c652e636f6d")),
      PayloadType.IdInitiator,
    ),
    { type: PayloadType.IdInitiator, idType: IdType.Fqdn, data: ascii("gw.example.com") },
  );
});

/** Every text form, in the canonical spelling {@link formatIdentity} prints. */
const TEXT_FORMS = [
  "fqdn:gw.example.com",
  "email:user@example.com",
  "ipv4:198.51.100.1",
  "ipv6:2001:db8::1",
  "keyid:0a0b0c",
  "asn1dn:300d310b300906035504061302434800",
  "id200:abcd",
  "id2:",
];

Deno.test("ID: round trips IDi and IDr of every text form", () => {
  for (const text of TEXT_FORMS) {
    assertRoundTrip({ type: PayloadType.IdInitiator, ...parseIdentity(text) });
    assertRoundTrip({ type: PayloadType.IdResponder, ...parseIdentity(text) });
  }
});

Deno.test("ID: rejects an IPv4 ID that is not 4 bytes", () => {
  assertThrowsError(
    () => decodeId(new ByteReader(hex("01 000000 c6336401 00")), PayloadType.IdResponder),
    DecodeError,
    "Cannot decode IDr payload: IP address ID of 5 bytes, expected 4",
  );
  assertThrowsError(
    () => decodeId(new ByteReader(hex("05 000000 c6336401")), PayloadType.IdInitiator),
    DecodeError,
    "Cannot decode IDi payload: IP address ID of 4 bytes, expected 16",
  );
});

Deno.test("ID: parseIdentity reads every text form", () => {
  const cases: [string, number, Uint8Array][] = [
    ["fqdn:gw.example.com", IdType.Fqdn, ascii("gw.example.com")],
    ["gw.example.com", IdType.Fqdn, ascii("gw.example.com")],
    ["email:user@example.com", IdType.Rfc822Addr, ascii("user@example.com")],
    ["rfc822:user@example.com", IdType.Rfc822Addr, ascii("user@example.com")],
    ["user@example.com", IdType.Rfc822Addr, ascii("user@example.com")],
    ["ipv4:198.51.100.1", IdType.Ipv4Addr, hex("c6336401")],
    ["198.51.100.1", IdType.Ipv4Addr, hex("c6336401")],
    ["ipv6:2001:db8::1", IdType.Ipv6Addr, hex("20010db8000000000000000000000001")],
    ["2001:db8::1", IdType.Ipv6Addr, hex("20010db8000000000000000000000001")],
    ["keyid:0a0B0c", IdType.KeyId, hex("0a0b0c")],
    ["FQDN:gw.example.com", IdType.Fqdn, ascii("gw.example.com")],
    ["asn1dn:3000", IdType.DerAsn1Dn, hex("3000")],
    ["id200:abcd", 200, hex("abcd")],
  ];
  for (const [text, idType, data] of cases) {
    assert.deepEqual(parseIdentity(text), { idType, data }, text);
  }
});

Deno.test("ID: formatIdentity prints the text form parseIdentity reads back", () => {
  for (const text of TEXT_FORMS) {
    const { idType, data } = parseIdentity(text);
    assert.equal(formatIdentity(idType, data), text);
  }
});

Deno.test("ID: formatIdentity falls back to hex for bytes without a safe text form", () => {
  assert.equal(formatIdentity(IdType.Fqdn, hex("67770a")), "id2:67770a"); // "gw\n"
  assert.equal(formatIdentity(IdType.Rfc822Addr, ascii("no-at-sign")), "id3:6e6f2d61742d7369676e");
  assert.equal(formatIdentity(IdType.Ipv4Addr, hex("0102")), "id1:0102");
  assert.equal(formatIdentity(IdType.KeyId, new Uint8Array(0)), "id11:");
});

Deno.test("ID: parseIdentity throws an IdentitySyntaxError carrying the reason", () => {
  const bad: [string, string][] = [
    ["", "it is empty"],
    ["fqdn:", "an FQDN must be printable ASCII"],
    ["fqdn:gw example.com", "an FQDN must be printable ASCII"],
    ["fqdn:a@b", "without spaces or '@'"],
    ["email:user", "text on both sides of '@'"],
    ["email:@example.com", "text on both sides of '@'"],
    ["ipv4:198.51.100.256", "is not an IPv4 address"],
    ["ipv4:2001:db8::1", "is not an IPv4 address"],
    ["ipv6:198.51.100.1", "is not an IPv6 address"],
    ["keyid:xyz", "is not hex"],
    ["keyid:", "the hex data is empty"],
    ["fdqn:gw.example.com", 'unknown prefix "fdqn"'],
    ["id300:00", "ID type 300 is outside 0..255"],
    ["198.51.100.256", "it looks like an IPv4 address but is not one"],
    ["gw\u00e9.example.com", "an FQDN must be printable ASCII"],
  ];
  for (const [text, why] of bad) {
    const e = assertThrowsError(() => parseIdentity(text), IdentitySyntaxError, why);
    assert.ok(e instanceof SyntaxError);
    assert.ok(e.reason.includes(why), e.reason);
    assert.equal(e.message, `Cannot parse identity "${text}": ${e.reason}`);
  }
});
