/**
 * The management parts of the configuration: `<admin>` of rockhopper.xml (address, port,
 * allow, TLS files, read timeout, enabled), web users (`<admin>` of auth.xml) with their scrypt
 * hashes, and the cross-check of a user's realm.
 */
import { assert, assertEquals, assertThrows } from "../_assert.ts";
import {
  checkAuthAgainstConfig,
  ConfigError,
  formatScryptHash,
  parseAuthConfig,
  parseConfig,
  parseScryptHash,
} from "../../lib/config/mod.ts";

const FILE = "conf/rockhopper.xml";
const AUTH = "conf/auth.xml";
const SALT = "c2FsdHNhbHRzYWx0c2FsdA"; // 16 octets
const HASH = "aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g"; // 32 octets
const GOOD_HASH = `scrypt$16384$8$1$${SALT}$${HASH}`;

function withAdmin(admin: string): string {
  return `<rockhopper version="1">
  ${admin}
  <realm id="1" name="default"><tunnel_interface name="rhp0" address="10.255.0.1/24"/></realm>
</rockhopper>`;
}

function configError(text: string, file = FILE): ConfigError {
  return assertThrows(() => parseConfig(text, file), ConfigError) as ConfigError;
}

function authWith(lines: string): string {
  return `<rockhopper_auth version="1">
  <realm id="1"><my_auth method="psk" id="fqdn:gw1.example.com"/></realm>
  ${lines}
</rockhopper_auth>`;
}

function authError(text: string): ConfigError {
  return assertThrows(() => parseAuthConfig(text, AUTH), ConfigError) as ConfigError;
}

Deno.test("<admin> takes enabled, TLS files and the read timeout", () => {
  const config = parseConfig(
    withAdmin(
      `<admin enabled="yes" address="::1" port="8443" allow="::1 127.0.0.0/8" cert="tls/cert.pem" key="tls/key.pem" read_timeout="10s"/>`,
    ),
    FILE,
  );
  assertEquals(config.admin, {
    enabled: true,
    address: "::1",
    port: 8443,
    allow: ["::1/128", "127.0.0.0/8"],
    readTimeout: 10,
    cert: "tls/cert.pem",
    key: "tls/key.pem",
  });
  assertEquals(parseConfig(withAdmin(`<admin enabled="no"/>`), FILE).admin.enabled, false);
});

Deno.test("<admin> refuses a certificate without a key, and a bad read timeout", () => {
  let e = configError(withAdmin(`<admin cert="c.pem"/>`));
  assertEquals(
    e.message,
    `${FILE}:2: <admin cert>: HTTPS needs both cert and key (PEM files); give both or neither`,
  );
  e = configError(withAdmin(`<admin key="k.pem"/>`));
  assert(e.message.includes("<admin key>: HTTPS needs both cert and key"), e.message);
  e = configError(withAdmin(`<admin read_timeout="0"/>`));
  assertEquals(
    e.message,
    `${FILE}:2: <admin read_timeout>: read timeout 0s is out of range 1s-300s`,
  );
  e = configError(withAdmin(`<admin read_timeout="10m"/>`));
  assert(e.message.includes("read timeout 600s is out of range 1s-300s"), e.message);
  e = configError(withAdmin(`<admin enabled="maybe"/>`));
  assert(e.message.includes(`<admin enabled>: "maybe" is not one of yes, no`), e.message);
  e = configError(withAdmin(`<admin password="x"/>`));
  assert(e.message.includes("<admin password>: unknown attribute"), e.message);
});

Deno.test("scrypt hashes parse, print back and refuse weak or malformed values", () => {
  const hash = parseScryptHash(GOOD_HASH);
  assert(typeof hash !== "string", String(hash));
  assertEquals([hash.n, hash.r, hash.p, hash.salt.length, hash.hash.length], [16384, 8, 1, 16, 32]);
  assertEquals(formatScryptHash(hash), GOOD_HASH);
  const problems: [string, string][] = [
    ["plain-text-password", "not a password hash of the form scrypt$N$r$p$salt$hash"],
    [`bcrypt$16384$8$1$${SALT}$${HASH}`, "not a password hash of the form"],
    [`scrypt$1000$8$1$${SALT}$${HASH}`, "N must be a power of two in 1024-1048576"],
    [`scrypt$512$8$1$${SALT}$${HASH}`, "N must be a power of two"],
    [`scrypt$16384$0$1$${SALT}$${HASH}`, "must be whole numbers"],
    [`scrypt$1048576$32$1$${SALT}$${HASH}`, "need more than 256 MiB"],
    [`scrypt$16384$8$1$c2FsdA$${HASH}`, "the salt must be base64 of at least 16 octets"],
    [`scrypt$16384$8$1$${SALT}$aGFzaA`, "the hash must be base64 of 16-64 octets"],
    [`scrypt$16384$8$1$${SALT}$not*base64`, "the hash must be base64"],
  ];
  for (const [text, problem] of problems) {
    const result = parseScryptHash(text);
    assert(typeof result === "string" && result.includes(problem), `${text}: ${String(result)}`);
  }
});

Deno.test("auth.xml reads web users with their realm scope", () => {
  const auth = parseAuthConfig(
    authWith(`<admin user="admin" hash="${GOOD_HASH}" realm="any"/>
  <admin user="ops@branch" hash="${GOOD_HASH}" realm="1"/>`),
    AUTH,
  );
  assertEquals(auth.admins?.map((a) => [a.user, a.realm]), [["admin", "any"], ["ops@branch", 1]]);
  assertEquals(auth.admins?.[0]?.hash.n, 16384);
  assertEquals(parseAuthConfig(authWith(""), AUTH).admins, []);
});

Deno.test("auth.xml web users: bad names, duplicates, hashes and realms name the attribute", () => {
  let e = authError(authWith(`<admin user="admin" hash="secret-in-clear" realm="any"/>`));
  assertEquals(
    e.message,
    `${AUTH}:3: <admin hash>: not a password hash of the form scrypt$N$r$p$salt$hash (create one with "rockhopper hash-password")`,
  );
  assert(!e.message.includes("secret-in-clear"), "the value is never quoted");
  e = authError(authWith(`<admin user="bad name" hash="${GOOD_HASH}" realm="any"/>`));
  assert(e.message.includes(`<admin user>: "bad name" is not a user name`), e.message);
  e = authError(authWith(`<admin user="a" hash="${GOOD_HASH}" realm="all"/>`));
  assert(e.message.includes(`<admin realm>: "all" is not "any" or a realm id`), e.message);
  e = authError(authWith(`<admin user="a" hash="${GOOD_HASH}"/>`));
  assert(e.message.includes(`<admin>: missing required attribute "realm"`), e.message);
  e = authError(
    authWith(`<admin user="a" hash="${GOOD_HASH}" realm="any"/>
  <admin user="a" hash="${GOOD_HASH}" realm="1"/>`),
  );
  assertEquals(e.message, `${AUTH}:4: <admin user>: user a is listed twice (first on line 3)`);
});

Deno.test("cross-check: a web user's realm must exist in rockhopper.xml", () => {
  const config = parseConfig(withAdmin(""), FILE);
  const auth = parseAuthConfig(authWith(`<admin user="ops" hash="${GOOD_HASH}" realm="7"/>`), AUTH);
  const e = assertThrows(() => checkAuthAgainstConfig(config, auth), ConfigError);
  assertEquals(
    e.message,
    `${AUTH}:3: <admin realm>: realm 7 of user ops is not defined in ${FILE}`,
  );
  const ok = parseAuthConfig(authWith(`<admin user="ops" hash="${GOOD_HASH}" realm="1"/>`), AUTH);
  assertEquals(checkAuthAgainstConfig(config, ok).length, 1, "only the no-key warning");
});
