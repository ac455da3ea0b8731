/**
 * EAP in auth.xml: `<eap_user>` lists, `auth="eap-*"` on peers and roles, `<my_auth
 * method="eap-*">` for our client side; clear errors that never quote a password.
 */
import { assert, assertEquals, assertThrows } from "../_assert.ts";
import { ConfigError, parseAuthConfig } from "../../lib/config/mod.ts";
import { authConfigOfView, authViewOf } from "../../lib/auth/secure/mod.ts";
import { type LogRecord, setLogSinks } from "../../lib/log/mod.ts";

const FILE = "conf/auth.xml";
const KEY = "a-long-enough-example-key-0123456789";
const PASSWORD = "Carol-Pass-Word-77";

function auth(realmBody: string) {
  return parseAuthConfig(
    `<rockhopper_auth version="1">\n  <realm id="1">\n${realmBody}\n  </realm>\n</rockhopper_auth>`,
    FILE,
  );
}

function error(realmBody: string): string {
  const e = assertThrows(() => auth(realmBody), ConfigError) as ConfigError;
  assert(!e.message.includes(PASSWORD), `password leaked: ${e.message}`);
  return e.message;
}

Deno.test("reads an EAP gateway realm: users, an EAP peer and an EAP role", () => {
  const config = auth(`    <my_auth method="psk" id="fqdn:vpn.example.com" psk="${KEY}"/>
    <peer id="email:carol@example.com" auth="eap-mschapv2"/>
    <role type="eap" match="*@example.com" auth="eap-mschapv2"/>
    <eap_user name="carol" password="${PASSWORD}"/>
    <eap_user name="DOMAIN\\dave" password=" spaces count "/>`);
  const realm = config.realms[0]!;
  assertEquals(realm.peers, [{ id: "email:carol@example.com", auth: "eap-mschapv2" }]);
  assertEquals(realm.roles, [{ type: "eap", match: "*@example.com", auth: "eap-mschapv2" }]);
  assertEquals(realm.eapUsers, [
    { name: "carol", password: PASSWORD },
    { name: "DOMAIN\\dave", password: " spaces count " },
  ]);
  // The main process's view keeps the methods, never a password.
  const view = authViewOf(config);
  assert(!JSON.stringify(view).includes(PASSWORD));
  assertEquals(authConfigOfView(view).realms[0]!.peers[0]!.auth, "eap-mschapv2");
});

Deno.test("reads our EAP client side; eap_id defaults to the value of id", () => {
  let my = auth(`    <my_auth method="eap-md5" id="email:carol@example.com" password="${PASSWORD}"/>
    <peer id="fqdn:vpn.example.com" psk="${KEY}"/>`).realms[0]!.myAuth;
  assertEquals([my.method, my.eapIdentity, my.password], [
    "eap-md5",
    "carol@example.com",
    PASSWORD,
  ]);
  my = auth(
    `    <my_auth method="eap-mschapv2" id="email:carol@example.com" eap_id="carol" password="${PASSWORD}"/>`,
  ).realms[0]!.myAuth;
  assertEquals(my.eapIdentity, "carol");
});

Deno.test("EAP-MD5 is accepted with a warning that it derives no key", () => {
  const lines: string[] = [];
  const previous = setLogSinks([(_r: LogRecord, line: string) => lines.push(line)]);
  try {
    auth(`    <my_auth method="psk" id="fqdn:vpn.example.com" psk="${KEY}"/>
    <role type="any" auth="eap-md5"/>
    <eap_user name="carol" password="${PASSWORD}"/>`);
  } finally {
    setLogSinks(previous);
  }
  assert(lines.some((l) => l.includes("EAP-MD5 derives no key")), lines.join("\n"));
});

Deno.test("refuses bad EAP configuration with file, line and element, never the password", () => {
  const gw = `    <my_auth method="psk" id="fqdn:vpn.example.com" psk="${KEY}"/>`;
  assertEquals(
    error(`${gw}\n    <peer id="email:carol@example.com" auth="eap-mschapv2"/>`),
    `${FILE}:4: <peer auth>: auth="eap-mschapv2" needs at least one <eap_user name="..." password="..."/> in this realm`,
  );
  assertEquals(
    error(`${gw}\n    <role type="any" auth="eap-md5"/>`),
    `${FILE}:4: <role auth>: auth="eap-md5" needs at least one <eap_user name="..." password="..."/> in this realm`,
  );
  assert(
    error(`${gw}\n    <peer id="email:c@example.com" auth="eap-mschapv2" psk="${KEY}"/>`)
      .includes('a peer with auth="eap-mschapv2" has no psk'),
  );
  assert(
    error(`${gw}\n    <eap_user name="carol"/>`).includes('missing required attribute "password"'),
  );
  assert(error(`${gw}\n    <eap_user name="carol" password=""/>`).includes("empty password"));
  assert(
    error(
      `${gw}\n    <eap_user name="carol" password="${PASSWORD}"/>\n    <eap_user name="Carol" password="${PASSWORD}x"/>`,
    ).includes("EAP user Carol is listed twice (first on line 4)"),
  );
  assert(
    error(`    <my_auth method="eap-mschapv2" id="email:carol@example.com"/>`)
      .includes('method="eap-mschapv2" needs our EAP password: add password="..."'),
  );
  assert(
    error(`    <my_auth method="psk" id="fqdn:a.example.com" psk="${KEY}" password="${PASSWORD}"/>`)
      .includes('<my_auth password>: password belongs to method="eap-md5" or "eap-mschapv2"'),
  );
  assert(
    error(`${gw}\n    <peer id="email:c@example.com" auth="eap-tls"/>`)
      .includes('"eap-tls" is not one of psk, cert, eap-md5, eap-mschapv2'),
  );
});
