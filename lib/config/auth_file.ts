/**
 * Validates conf/auth.xml, the secrets file read only by the secure process. No error or log
 * line produced here ever contains a key: problems name the element and attribute instead.
 */
import { Logger } from "../log/mod.ts";
import { checkRoot, ElementReader } from "./element_reader.ts";
import { formatConfigProblem } from "./errors.ts";
import { parseIdentity } from "./identity.ts";
import { parseScryptHash } from "./password_hash.ts";
import { parseXml } from "./xml.ts";
import { MatchRuleSyntaxError, parseMatchRule } from "../realm/mod.ts";
import type {
  AuthConfig,
  AuthMethodConfig,
  EapUserConfig,
  MyAuthConfig,
  PeerAuthConfig,
  RealmAuthConfig,
  RoleConfig,
  WebUserConfig,
} from "./types.ts";

/** Keys shorter than this (characters for `psk`, octets for `psk_hex`) need `weak="allow"`. */
export const MIN_PSK_LENGTH = 20;

const log = new Logger("cfg");

/** Values of `auth=` on `<peer>` and `<role>`, and of `method=` on `<my_auth>`. */
const AUTH_METHODS: readonly AuthMethodConfig[] = ["psk", "cert", "eap-md5", "eap-mschapv2"];

function isEap(method: AuthMethodConfig): boolean {
  return method === "eap-md5" || method === "eap-mschapv2";
}

/**
 * EAP identities: what an EAP-Response/Identity and the MSCHAPv2 Name carry (printable, no
 * control characters; `DOMAIN\user` and `user@realm` allowed).
 */
function isEapIdentity(text: string): boolean {
  return text.length >= 1 && text.length <= 253 &&
    [...text].every((c) => c.charCodeAt(0) >= 0x20 && c.charCodeAt(0) !== 0x7f);
}

/**
 * Validates the text of an auth.xml; `file` names it in errors.
 *
 * @throws {ConfigError} on the first problem found; the message never contains a key.
 *
 * @example
 * ```ts
 * const auth = parseAuthConfig(
 *   `<rockhopper_auth version="1">
 *      <realm id="1"><my_auth method="psk" id="fqdn:gw1.example.com"/></realm>
 *    </rockhopper_auth>`,
 *   "inline.xml",
 * );
 * auth.realms[0]?.myAuth.psk; // undefined
 * ```
 */
export function parseAuthConfig(text: string, file: string): AuthConfig {
  const root = new ElementReader(parseXml(text, file), file);
  checkRoot(root, {
    expected: "rockhopper_auth",
    hints: {
      rockhopper: "this is a main configuration (root <rockhopper>): pass it with -f, not -a",
      rhp_auth:
        'this is an auth file of the original C Rockhopper: convert it to <rockhopper_auth version="1"> (see conf/README.md)',
    },
  });
  root.allow(["version"], ["realm", "admin"]);
  const elements = root.children("realm");
  if (elements.length === 0) {
    root.fail("no <realm>: add one <realm id=...> per realm of rockhopper.xml");
  }
  const firstLine = new Map<number, number>();
  const realms = elements.map((element) => {
    const realm = readRealmAuth(element);
    const previous = firstLine.get(realm.id);
    if (previous !== undefined) {
      element.fail(`duplicate realm id ${realm.id} (first on line ${previous})`, "id");
    }
    firstLine.set(realm.id, element.line);
    return realm;
  });
  return { file, realms, admins: readWebUsers(root.children("admin")) };
}

/** Web-user names: what HTTP Basic can carry and a log line can show unquoted. */
const WEB_USER_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.@-]{0,63}$/;

function readWebUsers(elements: ElementReader[]): WebUserConfig[] {
  const firstLine = new Map<string, number>();
  return elements.map((element: ElementReader): WebUserConfig => {
    element.allow(["user", "hash", "realm"], []);
    const user = element.required("user");
    if (!WEB_USER_NAME.test(user)) {
      element.fail(
        `"${user}" is not a user name (1-64 of A-Z a-z 0-9 _ . @ -, not starting with . @ -)`,
        "user",
      );
    }
    const previous = firstLine.get(user);
    if (previous !== undefined) {
      element.fail(`user ${user} is listed twice (first on line ${previous})`, "user");
    }
    firstLine.set(user, element.line);
    const hash = parseScryptHash(element.required("hash"));
    if (typeof hash === "string") element.fail(hash, "hash");
    const realmText = element.required("realm");
    if (realmText !== "any" && !/^[0-9]+$/.test(realmText)) {
      element.fail(`"${realmText}" is not "any" or a realm id`, "realm");
    }
    const realm = realmText === "any"
      ? "any"
      : element.requiredInteger("realm", { min: 1, max: 0xffffffff });
    return element.remember({ user, hash, realm });
  });
}

function readRealmAuth(element: ElementReader): RealmAuthConfig {
  element.allow(["id"], ["my_auth", "peer", "ca", "crl", "role", "eap_user"]);
  const id = element.requiredInteger("id", { min: 1, max: 0xffffffff });
  const myAuth = readMyAuth(element.requiredChild("my_auth"));
  const cas = element.children("ca").map((ca) => {
    ca.allow(["file"], []);
    return resolvePath(ca, "file");
  });
  const crls = element.children("crl").map((crl) => {
    crl.allow(["file"], []);
    return resolvePath(crl, "file");
  });
  const eapUsers = readEapUsers(element.children("eap_user"));
  const needsUsers = (method: AuthMethodConfig, where: ElementReader, attribute: string) => {
    if (!isEap(method)) return;
    if (eapUsers.length === 0) {
      where.fail(
        `auth="${method}" needs at least one <eap_user name="..." password="..."/> in this realm`,
        attribute,
      );
    }
    if (method === "eap-md5") {
      log.warn(formatConfigProblem({
        file: where.file,
        line: where.line,
        element: where.name,
        attribute,
        problem:
          'EAP-MD5 derives no key (RFC 7296 §2.16: "SHOULD NOT be used"): AUTH falls back to SK_pi/SK_pr; prefer eap-mschapv2',
      }));
    }
  };
  const firstLine = new Map<string, number>();
  const peers = element.children("peer").map((peerElement) => {
    const peer = readPeerAuth(peerElement);
    const previous = firstLine.get(peer.id);
    if (previous !== undefined) {
      peerElement.fail(`peer ${peer.id} is listed twice (first on line ${previous})`, "id");
    }
    firstLine.set(peer.id, peerElement.line);
    if (peer.auth === "cert" && cas.length === 0) {
      peerElement.fail('auth="cert" needs at least one <ca file="..."/> in this realm', "auth");
    }
    needsUsers(peer.auth, peerElement, "auth");
    return peer;
  });
  const roles = element.children("role").map((role): RoleConfig => {
    role.allow(["type", "match", "auth"], []);
    const type = role.required("type");
    const match = role.optional("match");
    try {
      parseMatchRule(type, match);
    } catch (e) {
      if (!(e instanceof MatchRuleSyntaxError)) throw e;
      const attribute = e.reason.startsWith("is not a role type") || e.match === undefined
        ? "type"
        : "match";
      role.fail(e.message.replace(/^Cannot parse role: /, ""), attribute);
    }
    const auth = role.choice("auth", { allowed: AUTH_METHODS, fallback: "psk" });
    needsUsers(auth, role, "auth");
    if (auth === "cert" && cas.length === 0) {
      role.fail('auth="cert" needs at least one <ca file="..."/> in this realm', "auth");
    }
    if (auth === "psk" && !myAuth.pskBytes) {
      role.fail('auth="psk" admits peers with the realm-wide key: add psk to <my_auth>', "auth");
    }
    return role.remember(match === undefined ? { type, auth } : { type, match, auth });
  });
  return element.remember({ id, myAuth, peers, cas, crls, roles, eapUsers });
}

function readEapUsers(elements: ElementReader[]): EapUserConfig[] {
  const firstLine = new Map<string, number>();
  return elements.map((element: ElementReader): EapUserConfig => {
    element.allow(["name", "password"], []);
    const name = element.required("name");
    if (!isEapIdentity(name)) {
      element.fail("an EAP identity is 1-253 characters without control characters", "name");
    }
    const key = name.toLowerCase();
    const previous = firstLine.get(key);
    if (previous !== undefined) {
      element.fail(`EAP user ${name} is listed twice (first on line ${previous})`, "name");
    }
    firstLine.set(key, element.line);
    const password = element.raw("password");
    if (password === undefined) element.fail('missing required attribute "password"');
    if (password.length === 0) element.fail("empty password", "password");
    return element.remember({ name, password });
  });
}

/** A file attribute as an absolute path; relative paths are relative to auth.xml's folder. */
function resolvePath(element: ElementReader, attribute: string): string {
  return resolveFrom(element.file, element.required(attribute));
}

function resolveFrom(file: string, path: string): string {
  if (path.startsWith("/")) return path;
  const slash = file.lastIndexOf("/");
  const base = slash < 0 ? Deno.cwd() : file.slice(0, slash);
  const dir = base.startsWith("/") ? base : `${Deno.cwd()}/${base}`;
  return `${dir}/${path}`.replace(/\/\.\//g, "/");
}

function readIdentity(element: ElementReader): string {
  const identity = parseIdentity(element.required("id"));
  if (typeof identity === "string") element.fail(identity, "id");
  return identity.text;
}

function readMyAuth(element: ElementReader): MyAuthConfig {
  element.allow(
    ["method", "id", "psk", "psk_hex", "weak", "cert", "key", "chain", "eap_id", "password"],
    [],
  );
  const method = element.required("method") as AuthMethodConfig;
  if (!AUTH_METHODS.includes(method)) {
    element.fail(
      `unsupported method "${method}" (supported: ${AUTH_METHODS.join(", ")})`,
      "method",
    );
  }
  const myAuth: MyAuthConfig = { method, id: readIdentity(element) };
  if (isEap(method)) {
    const password = element.raw("password");
    if (password === undefined) {
      element.fail(`method="${method}" needs our EAP password: add password="..."`);
    }
    if (password.length === 0) element.fail("empty password", "password");
    const eapId = element.optional("eap_id") ?? myAuth.id.slice(myAuth.id.indexOf(":") + 1);
    if (!isEapIdentity(eapId)) {
      element.fail("an EAP identity is 1-253 characters without control characters", "eap_id");
    }
    myAuth.eapIdentity = eapId;
    myAuth.password = password;
  } else {
    for (const attribute of ["eap_id", "password"]) {
      if (element.raw(attribute) !== undefined) {
        element.fail(`${attribute} belongs to method="eap-md5" or "eap-mschapv2"`, attribute);
      }
    }
  }
  if (method === "cert") {
    myAuth.cert = resolvePath(element, "cert");
    myAuth.key = resolvePath(element, "key");
    const chain = element.optional("chain");
    if (chain !== undefined) {
      myAuth.chain = chain.split(/\s+/).filter((p) => p).map((p) => resolveFrom(element.file, p));
    }
  } else {
    for (const attribute of ["cert", "key", "chain"]) {
      if (element.optional(attribute) !== undefined) {
        element.fail(`${attribute} belongs to method="cert"`, attribute);
      }
    }
  }
  const key = readPsk(element, false);
  if (key) {
    myAuth.psk = key.psk;
    myAuth.pskBytes = key.pskBytes;
  }
  return element.remember(myAuth);
}

function readPeerAuth(element: ElementReader): PeerAuthConfig {
  element.allow(["id", "auth", "psk", "psk_hex", "weak"], []);
  const id = readIdentity(element);
  const auth = element.choice("auth", { allowed: AUTH_METHODS, fallback: "psk" });
  if (auth !== "psk") {
    if (element.raw("psk") !== undefined || element.raw("psk_hex") !== undefined) {
      element.fail(`a peer with auth="${auth}" has no psk`, "psk");
    }
    return element.remember({ id, auth });
  }
  const key = readPsk(element, true)!;
  return element.remember({ id, auth, psk: key.psk, pskBytes: key.pskBytes });
}

/**
 * Reads `psk` or `psk_hex` with the length rule. Every message here names the attribute and
 * says what is wrong with the key without quoting any of it.
 */
function readPsk(
  element: ElementReader,
  required: boolean,
): { psk: string; pskBytes: Uint8Array } | undefined {
  const text = element.raw("psk");
  const hex = element.raw("psk_hex");
  const weak = element.optional("weak");
  if (weak !== undefined && weak !== "allow") {
    element.fail(`"${weak}" is not allowed (the only value is "allow")`, "weak");
  }
  if (text !== undefined && hex !== undefined) {
    element.fail("give either psk or psk_hex, not both", "psk_hex");
  }
  if (text === undefined && hex === undefined) {
    if (required) element.fail('missing required attribute "psk" (or "psk_hex")');
    if (weak !== undefined) element.fail('weak="allow" without a psk or psk_hex', "weak");
    return undefined;
  }
  let key: { psk: string; pskBytes: Uint8Array };
  let attribute: string;
  let short: boolean;
  if (text !== undefined) {
    attribute = "psk";
    if (text.length === 0) element.fail("empty PSK", attribute);
    key = { psk: text, pskBytes: new TextEncoder().encode(text) };
    short = [...text].length < MIN_PSK_LENGTH;
  } else {
    attribute = "psk_hex";
    const digits = hex!.replace(/[\s:]/g, "").replace(/^0x/i, "").toLowerCase();
    if (digits.length === 0) element.fail("empty PSK", attribute);
    if (digits.length % 2 !== 0 || /[^0-9a-f]/.test(digits)) {
      element.fail("the key is not an even number of hex digits (0-9, a-f)", attribute);
    }
    const bytes = new Uint8Array(digits.length / 2);
    for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(digits.slice(i * 2, i * 2 + 2), 16);
    key = { psk: digits, pskBytes: bytes };
    short = bytes.length < MIN_PSK_LENGTH;
  }
  if (short) {
    const unit = attribute === "psk" ? "characters" : "octets";
    if (weak !== "allow") {
      element.fail(
        `weak PSK: shorter than ${MIN_PSK_LENGTH} ${unit}. Anyone who records one IKE_AUTH ` +
          "exchange can guess a short key offline; use a long random key (e.g. the output of " +
          '`openssl rand -base64 32`) or, knowing the risk, add weak="allow"',
        attribute,
      );
    }
    log.warn(formatConfigProblem({
      file: element.file,
      line: element.line,
      element: element.name,
      attribute,
      problem: `weak PSK (shorter than ${MIN_PSK_LENGTH} ${unit}) accepted because of weak="allow"`,
    }));
  }
  return key;
}
