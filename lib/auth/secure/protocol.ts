/**
 * The secure-process protocol: a closed set of typed requests, one schema for the arguments
 * and one for the result of each, and the envelopes that carry them in frames (framing.ts).
 *
 * main → secure   request  `{"id": 7, "type": "computePskAuth", "args": {...}}`
 * secure → main   reply    `{"id": 7, "ok": true, "result": "base64..."}`
 *                          `{"id": 7, "ok": false, "error": {"code": "unavailable", "message": "..."}}`
 *                 event    `{"event": "ready", "info": {...}}` once loaded,
 *                          `{"event": "failed", "message": "..."}` when it cannot start,
 *                          `{"event": "down", "reason": "..."}` from the supervisor when it died
 *
 * Nothing in a result is secret: AUTH values, yes/no, certificates we send anyway, grants.
 * Byte arrays are base64 (schema.ts). A request that does not parse is answered with
 * `malformed` (or `unknown_request`) and logged by the secure process; it is never executed.
 */
import type { AuthConfig, ScryptHash } from "../../config/mod.ts";
import {
  array,
  boolean,
  bytes,
  type Infer,
  nothing,
  nullable,
  object,
  oneOf,
  optional,
  type Schema,
  SchemaError,
  tagged,
  text,
  toJson,
  uint,
} from "./schema.ts";

const REALM_ID = uint();
const PEER_ID = text({ min: 1, max: 1024 });
const PRF = oneOf(["sha1", "sha256", "sha384", "sha512"]);
/** InitiatorSignedOctets/ResponderSignedOctets: at most an IKE message. */
const SIGNED_OCTETS = bytes({ max: 65535 });
const AUTH_VALUE = bytes({ max: 64 });
const SIGNATURE = bytes({ max: 8192 });
const CERT_BODY = bytes({ max: 65535 });
const METHOD = oneOf(["psk", "cert", "eap-md5", "eap-mschapv2"]);
/** An EAP packet (RFC 3748 §4): MD5 and MSCHAPv2 packets are far smaller. */
const EAP_PACKET = bytes({ min: 4, max: 8192 });
const EAP_SESSION = uint({ min: 1, max: 0xffff_ffff });
const EAP_ROUND = object({
  session: EAP_SESSION,
  send: optional(EAP_PACKET),
  done: optional(object({
    success: boolean(),
    identity: optional(text({ max: 1024 })),
    hasMsk: boolean(),
    reason: optional(text({ max: 4096 })),
  })),
});
const DEVICE = text({
  min: 1,
  max: 15,
  pattern: /^[A-Za-z0-9_.@:][A-Za-z0-9_.@:-]{0,14}$/,
  description: "an interface name",
});
const CIDR = text({
  min: 2,
  max: 49,
  pattern: /^[0-9A-Fa-f:.]{2,45}(\/\d{1,3})?$/,
  description: "an address or prefix (10.1.0.0/24)",
});
const ADDRESS = text({
  min: 2,
  max: 45,
  pattern: /^[0-9A-Fa-f:.]{2,45}$/,
  description: "an IP address",
});

const WEB_REALM: Schema<"any" | number> = {
  description: `"any" or a realm id`,
  parse(value, path) {
    return value === "any" ? "any" : REALM_ID.parse(value, path);
  },
};

/** Arguments and result of every request type: the whole protocol. */
export const REQUESTS = {
  // AuthService (lib/auth/service.ts)
  computePskAuth: {
    args: object({ realmId: REALM_ID, peerId: PEER_ID, prf: PRF, signedOctets: SIGNED_OCTETS }),
    result: AUTH_VALUE,
  },
  verifyPskAuth: {
    args: object({
      realmId: REALM_ID,
      peerId: PEER_ID,
      prf: PRF,
      signedOctets: SIGNED_OCTETS,
      auth: AUTH_VALUE,
    }),
    result: boolean(),
  },
  hasPsk: { args: object({ realmId: REALM_ID, peerId: PEER_ID }), result: boolean() },
  localMethod: { args: object({ realmId: REALM_ID }), result: METHOD },
  peerMethod: {
    args: object({ realmId: REALM_ID, peerId: PEER_ID }),
    result: nullable(METHOD),
  },
  localCertificates: {
    args: object({ realmId: REALM_ID }),
    result: array(CERT_BODY, { max: 16 }),
  },
  certificateRequest: {
    args: object({ realmId: optional(REALM_ID) }),
    result: nullable(bytes({ max: 65535 })),
  },
  signAuth: {
    args: object({
      realmId: REALM_ID,
      signedOctets: SIGNED_OCTETS,
      peerHashAlgorithms: nullable(array(uint({ max: 0xffff }), { max: 32 })),
    }),
    result: object({ method: uint({ max: 255 }), data: SIGNATURE }),
  },
  verifyCertificateAuth: {
    args: object({
      realmId: REALM_ID,
      peerId: PEER_ID,
      idType: uint({ max: 255 }),
      idData: bytes({ max: 4096 }),
      certificates: array(CERT_BODY, { max: 16 }),
      method: uint({ max: 255 }),
      data: SIGNATURE,
      signedOctets: SIGNED_OCTETS,
    }),
    result: tagged<{ ok: true; subject: string } | { ok: false; reason: string }>("ok", {
      true: object({ ok: boolean(), subject: text({ max: 4096 }) }) as Schema<
        { ok: true; subject: string }
      >,
      false: object({ ok: boolean(), reason: text({ max: 4096 }) }) as Schema<
        { ok: false; reason: string }
      >,
    }),
  },
  eapStart: {
    args: object({ realmId: REALM_ID, role: oneOf(["server", "peer"]), peerId: PEER_ID }),
    result: EAP_ROUND,
  },
  eapProcess: { args: object({ session: EAP_SESSION, packet: EAP_PACKET }), result: EAP_ROUND },
  eapAuth: {
    args: object({ session: EAP_SESSION, prf: PRF, signedOctets: SIGNED_OCTETS }),
    result: AUTH_VALUE,
  },
  eapVerifyAuth: {
    args: object({
      session: EAP_SESSION,
      prf: PRF,
      signedOctets: SIGNED_OCTETS,
      auth: AUTH_VALUE,
    }),
    result: boolean(),
  },
  eapEnd: { args: object({ session: EAP_SESSION }), result: nothing() },
  // WebUserAuthService (lib/auth/web_users.ts)
  verifyWebUser: {
    args: object({ user: text({ max: 256 }), password: text({ max: 1024 }) }),
    result: nullable(object({ user: text({ max: 256 }), realm: WEB_REALM })),
  },
  // SysService (lib/sys_control)
  setMtu: {
    args: object({ device: DEVICE, mtu: uint({ min: 68, max: 65535 }) }),
    result: nothing(),
  },
  linkUp: { args: object({ device: DEVICE }), result: nothing() },
  disableAddressGeneration: { args: object({ device: DEVICE }), result: nothing() },
  addAddress: { args: object({ device: DEVICE, cidr: CIDR }), result: nothing() },
  delAddress: { args: object({ device: DEVICE, cidr: CIDR }), result: nothing() },
  addRoute: {
    args: object({
      prefix: CIDR,
      device: DEVICE,
      src: optional(ADDRESS),
      replace: optional(boolean()),
    }),
    result: nothing(),
  },
  delRoute: { args: object({ prefix: CIDR, device: DEVICE }), result: nothing() },
  // Control: exit after replying, to be started afresh (rockhopper.xml was rewritten).
  restart: { args: object({}), result: nothing() },
} as const;

/** The name of a request type. */
export type RequestType = keyof typeof REQUESTS;
/** The arguments of request type `K`. */
export type ArgsOf<K extends RequestType> = Infer<typeof REQUESTS[K]["args"]>;
/** The result of request type `K`. */
export type ResultOf<K extends RequestType> = Infer<typeof REQUESTS[K]["result"]>;

/** Why a request failed (never carries a secret). */
export const ErrorCode = {
  /** The frame is not a request that matches its schema. */
  Malformed: "malformed",
  /** The frame names a request type the protocol does not have. */
  UnknownRequest: "unknown_request",
  /** Too large to read (the frame was skipped). */
  Oversized: "oversized",
  /** A system change the policy does not allow. */
  Refused: "refused",
  /** No key or certificate for the request (AuthUnavailableError). */
  Unavailable: "unavailable",
  /** `ip` failed; `stderr` carries its message. */
  CommandFailed: "command_failed",
  /** Anything else; the details are in the secure process's log. */
  Failed: "failed",
} as const;
export type ErrorCodeName = typeof ErrorCode[keyof typeof ErrorCode];

const ERROR_CODE = oneOf(Object.values(ErrorCode));
const MESSAGE = text({ max: 4096 });

/** The non-secret part of auth.xml, as the main process may know it. */
const AUTH_VIEW = object({
  file: text({ max: 4096 }),
  realms: array(
    object({
      id: REALM_ID,
      myAuth: object({
        method: METHOD,
        id: PEER_ID,
        cert: optional(text({ max: 4096 })),
        key: optional(text({ max: 4096 })),
        chain: optional(array(text({ max: 4096 }), { max: 64 })),
        hasPsk: boolean(),
      }),
      peers: array(object({ id: PEER_ID, auth: METHOD, hasPsk: boolean() }), { max: 100_000 }),
      cas: array(text({ max: 4096 }), { max: 256 }),
      crls: array(text({ max: 4096 }), { max: 256 }),
      roles: array(
        object({ type: text({ max: 32 }), match: optional(text({ max: 1024 })), auth: METHOD }),
        { max: 1024 },
      ),
    }),
    { max: 4096 },
  ),
  admins: array(object({ user: text({ max: 256 }), realm: WEB_REALM }), { max: 4096 }),
});
export type AuthView = Infer<typeof AUTH_VIEW>;

const READY_INFO = object({
  pid: uint(),
  /** The user the secure process runs as, when it knows (null without permission to ask). */
  uid: nullable(uint()),
  view: AUTH_VIEW,
  /** Cross-check warnings of rockhopper.xml against auth.xml, for the main process's log. */
  warnings: array(text({ max: 4096 }), { max: 1024 }),
  /** Secret files (auth.xml and the key store) the main process revokes its access to. */
  files: array(text({ max: 4096 }), { max: 1024 }),
});
export type ReadyInfo = Infer<typeof READY_INFO>;

/** A request as the secure process receives it, arguments already checked. */
export type ParsedRequest = {
  [K in RequestType]: { id: number; type: K; args: ArgsOf<K> };
}[RequestType];

/** A request that must not run, with the reply to send. */
export interface RefusedRequest {
  id: number | null;
  code: ErrorCodeName;
  message: string;
}

const decoder = new TextDecoder("utf-8", { fatal: true });

function parseJson(body: Uint8Array, path: string): unknown {
  let text: string;
  try {
    text = decoder.decode(body);
  } catch {
    throw new SchemaError(path, "not UTF-8");
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new SchemaError(path, `not JSON (${(e as Error).message.slice(0, 200)})`);
  }
}

const REQUEST_ENVELOPE = object({
  id: uint(),
  type: text({ min: 1, max: 64 }),
  args: {
    description: "an object",
    parse: (value: unknown) => value,
  } as Schema<unknown>,
});

/**
 * Checks a request frame against the envelope and its type's schema.
 *
 * @example
 * ```ts
 * const request = parseRequest(body);
 * if ("code" in request) reply(refusal(request)); else run(request);
 * ```
 */
export function parseRequest(body: Uint8Array): ParsedRequest | RefusedRequest {
  let raw: unknown;
  try {
    raw = parseJson(body, "request");
  } catch (e) {
    return { id: null, code: ErrorCode.Malformed, message: (e as Error).message };
  }
  const id = typeof raw === "object" && raw !== null && !Array.isArray(raw) &&
      typeof (raw as { id?: unknown }).id === "number" &&
      Number.isInteger((raw as { id: number }).id) && (raw as { id: number }).id >= 0 &&
      (raw as { id: number }).id <= 0xffff_ffff
    ? (raw as { id: number }).id
    : null;
  let envelope;
  try {
    envelope = REQUEST_ENVELOPE.parse(raw, "request");
  } catch (e) {
    return { id, code: ErrorCode.Malformed, message: (e as Error).message };
  }
  if (!Object.hasOwn(REQUESTS, envelope.type)) {
    return {
      id,
      code: ErrorCode.UnknownRequest,
      message: `request: unknown type ${JSON.stringify(envelope.type)}`,
    };
  }
  const type = envelope.type as RequestType;
  try {
    const args = REQUESTS[type].args.parse(envelope.args, `${type}.args`);
    return { id: envelope.id, type, args } as ParsedRequest;
  } catch (e) {
    return { id, code: ErrorCode.Malformed, message: (e as Error).message };
  }
}

/** JSON text of a request. */
export function encodeRequest<K extends RequestType>(id: number, type: K, args: ArgsOf<K>): string {
  return toJson({ id, type, args });
}

/** JSON text of a successful reply. */
export function encodeResult(id: number, result: unknown): string {
  return toJson({ id, ok: true, result: result === undefined ? null : result });
}

/** JSON text of a failed reply. */
export function encodeError(id: number | null, code: ErrorCodeName, message: string): string {
  return toJson({ id, ok: false, error: { code, message: message.slice(0, 4096) } });
}

/** JSON text of an event. */
export function encodeEvent(
  event:
    | { event: "ready"; info: ReadyInfo }
    | { event: "failed"; message: string }
    | { event: "down"; reason: string },
): string {
  return toJson(event);
}

/** What the main process receives: a reply (result still unchecked) or an event. */
export type SecureMessage =
  | { kind: "reply"; id: number | null; ok: true; result: unknown }
  | { kind: "reply"; id: number | null; ok: false; code: ErrorCodeName; message: string }
  | { kind: "ready"; info: ReadyInfo }
  | { kind: "failed"; message: string }
  | { kind: "down"; reason: string };

const REPLY_OK = object({
  id: nullable(uint()),
  ok: boolean(),
  result: { description: "any", parse: (v: unknown) => v } as Schema<unknown>,
});
const REPLY_ERROR = object({
  id: nullable(uint()),
  ok: boolean(),
  error: object({ code: ERROR_CODE, message: MESSAGE }),
});
const EVENT_READY = object({ event: text({ max: 16 }), info: READY_INFO });
const EVENT_FAILED = object({ event: text({ max: 16 }), message: MESSAGE });
const EVENT_DOWN = object({ event: text({ max: 16 }), reason: MESSAGE });

/**
 * Checks a frame from the secure side. Throws {@link SchemaError} when it is neither a reply
 * nor an event; a reply's result is checked later against its request's schema
 * ({@link parseResult}).
 */
export function parseSecureMessage(body: Uint8Array): SecureMessage {
  const raw = parseJson(body, "message");
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw new SchemaError("message", "expected an object");
  }
  const record = raw as Record<string, unknown>;
  if (Object.hasOwn(record, "event")) {
    switch (record.event) {
      case "ready":
        return { kind: "ready", info: EVENT_READY.parse(raw, "ready").info };
      case "failed":
        return { kind: "failed", message: EVENT_FAILED.parse(raw, "failed").message };
      case "down":
        return { kind: "down", reason: EVENT_DOWN.parse(raw, "down").reason };
      default:
        throw new SchemaError("message.event", "unknown event");
    }
  }
  if (record.ok === true) {
    const reply = REPLY_OK.parse(raw, "reply");
    return { kind: "reply", id: reply.id, ok: true, result: reply.result };
  }
  if (record.ok === false) {
    const reply = REPLY_ERROR.parse(raw, "reply");
    return {
      kind: "reply",
      id: reply.id,
      ok: false,
      code: reply.error.code,
      message: reply.error.message,
    };
  }
  throw new SchemaError("message", "neither a reply nor an event");
}

/** Checks a reply's result against the schema of its request type. */
export function parseResult<K extends RequestType>(type: K, result: unknown): ResultOf<K> {
  return REQUESTS[type].result.parse(result, `${type}.result`) as ResultOf<K>;
}

/** Placeholder for a key the main process knows exists but never sees. */
export const REDACTED_SECRET = "(held by the secure process)";
const NO_HASH: ScryptHash = {
  n: 0,
  r: 0,
  p: 0,
  salt: new Uint8Array(0),
  hash: new Uint8Array(0),
};

/**
 * The non-secret part of `auth`: identities, methods, file names, whether a key exists.
 *
 * @example
 * ```ts
 * const view = authViewOf(await loadAuthConfig("conf/auth.xml")); // no psk, no hash
 * ```
 */
export function authViewOf(auth: AuthConfig): AuthView {
  return {
    file: auth.file,
    realms: auth.realms.map((r) => ({
      id: r.id,
      myAuth: {
        method: r.myAuth.method,
        id: r.myAuth.id,
        ...(r.myAuth.cert === undefined ? {} : { cert: r.myAuth.cert }),
        ...(r.myAuth.key === undefined ? {} : { key: r.myAuth.key }),
        ...(r.myAuth.chain === undefined ? {} : { chain: [...r.myAuth.chain] }),
        hasPsk: r.myAuth.pskBytes !== undefined || r.myAuth.psk !== undefined,
      },
      peers: r.peers.map((p) => ({
        id: p.id,
        auth: p.auth,
        hasPsk: p.pskBytes !== undefined || p.psk !== undefined,
      })),
      cas: [...r.cas],
      crls: [...r.crls],
      roles: (r.roles ?? []).map((role) => ({
        type: role.type,
        ...(role.match === undefined ? {} : { match: role.match }),
        auth: role.auth,
      })),
    })),
    admins: (auth.admins ?? []).map((a) => ({ user: a.user, realm: a.realm })),
  };
}

/**
 * An AuthConfig for the main process built from a view: the same shape, but a key is only
 * the placeholder {@link REDACTED_SECRET} and a web user's hash is empty (it never verifies).
 */
export function authConfigOfView(view: AuthView): AuthConfig {
  return {
    file: view.file,
    realms: view.realms.map((r) => ({
      id: r.id,
      myAuth: {
        method: r.myAuth.method,
        id: r.myAuth.id,
        ...(r.myAuth.cert === undefined ? {} : { cert: r.myAuth.cert }),
        ...(r.myAuth.key === undefined ? {} : { key: r.myAuth.key }),
        ...(r.myAuth.chain === undefined ? {} : { chain: r.myAuth.chain }),
        ...(r.myAuth.hasPsk ? { psk: REDACTED_SECRET } : {}),
      },
      peers: r.peers.map((p) => ({
        id: p.id,
        auth: p.auth,
        ...(p.hasPsk ? { psk: REDACTED_SECRET } : {}),
      })),
      cas: r.cas,
      crls: r.crls,
      roles: r.roles,
    })),
    admins: view.admins.map((a) => ({ user: a.user, realm: a.realm, hash: NO_HASH })),
  };
}

/** Every file auth.xml makes the secure process read: itself and its key store. */
export function secretFilesOf(auth: AuthConfig): string[] {
  const files = new Set<string>([auth.file]);
  for (const realm of auth.realms) {
    const my = realm.myAuth;
    for (const f of [my.cert, my.key, ...(my.chain ?? []), ...realm.cas, ...realm.crls]) {
      if (f !== undefined) files.add(f);
    }
  }
  return [...files];
}
