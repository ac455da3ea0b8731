/**
 * The management HTTP server on Deno.serve: the bus protocol under /bus/ and the GUI's static
 * files from web/. lib/web/README.md is the protocol's reference.
 *
 * Request flow:
 *   1. source address in `<admin allow>`?               no → 403 source_not_allowed
 *   2. not under /bus/: a static GUI file (no authentication; nothing secret)
 *   3. cross-origin (Origin ≠ Host, Sec-Fetch-Site)?   yes → 403 forbidden
 *   4. source locked after too many failed logins?     yes → 429 + Retry-After
 *   5. HTTP Basic credentials of a web user?           no → 401 (failure counted)
 *      users not checkable (secure process down)?     → 503 + Retry-After (not counted)
 *   6. route: POST /bus/open · PUT /bus/write/<sid> · GET /bus/read/<sid> · DELETE /bus/write/<sid>
 *   7. session of this user? body ≤ limit? well-formed request? known action? → run it
 */
import type { ApplianceControl } from "../appliance/mod.ts";
import { AuthUnavailableError, type WebUserAuthService, type WebUserGrant } from "../auth/mod.ts";
import { type AdminConfig, ConfigError, parseXml } from "../config/mod.ts";
import { Logger } from "../log/mod.ts";
import { FailedLoginLimiter, SourceAcl } from "./acl.ts";
import { BusError, runAction } from "./actions.ts";
import { BusHub, type BusOptions, type BusSession } from "./bus.ts";
import { type BusRecord, renderResponse, SERVICE_BUS } from "./records.ts";

/** Request bodies larger than this are refused with 413. */
export const DEFAULT_MAX_BODY_BYTES = 64 * 1024;
/** Failed logins allowed per source and window before 429. */
export const DEFAULT_FAILED_LOGINS = { limit: 5, windowMs: 60_000 } as const;
/** Retry-After (seconds) of a 503 while the web users cannot be checked. */
export const UNAVAILABLE_RETRY_AFTER_S = 1;
/** The GUI files served at `/` (the repository's web/ directory). */
export const DEFAULT_STATIC_DIR: string = new URL("../../web/", import.meta.url).pathname;

const SECURITY_HEADERS = {
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "referrer-policy": "no-referrer",
} as const;

/** For the GUI's pages: same-origin scripts, styles and requests only, no framing. */
const CONTENT_SECURITY_POLICY =
  "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; " +
  "form-action 'none'; frame-ancestors 'none'";

const CONTENT_TYPES: Record<string, string> = {
  html: "text/html; charset=utf-8",
  css: "text/css; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  mjs: "text/javascript; charset=utf-8",
  json: "application/json; charset=utf-8",
  svg: "image/svg+xml",
  png: "image/png",
  ico: "image/x-icon",
  txt: "text/plain; charset=utf-8",
  woff2: "font/woff2",
};

const SESSION_PATH = /^\/bus\/(write|read|close)\/([^/]*)$/;
const SESSION_ID = /^[0-9a-f]{32}$/;

/** Options of {@link ManagementServer.start}. */
export interface ManagementServerOptions {
  control: ApplianceControl;
  users: WebUserAuthService;
  /** Address, port, allow list, TLS files and read timeout (`<admin>`). */
  admin: AdminConfig;
  /** Where relative `cert`/`key` paths start (the config file's directory); default cwd. */
  baseDir?: string;
  /** Overrides `admin.port` (0 = an ephemeral port, for tests). */
  port?: number;
  /** Bus tunables; `readTimeoutMs` defaults to `admin.readTimeout`. */
  bus?: Partial<BusOptions>;
  maxBodyBytes?: number;
  failedLogins?: { limit: number; windowMs: number };
  /** Directory of the GUI's static files; null: no GUI. */
  staticDir?: string | null;
}

function resolvePath(path: string, baseDir: string | undefined): string {
  return path.startsWith("/") || baseDir === undefined ? path : `${baseDir}/${path}`;
}

/** One printable, bounded token of a user name for logs (never a password). */
function printableUser(user: string): string {
  const cleaned = user.replace(/[^A-Za-z0-9_.@-]/g, "?").slice(0, 64);
  return cleaned === "" ? '""' : cleaned;
}

function parseBasic(header: string | null): { user: string; password: string } | undefined {
  if (header === null) return undefined;
  const match = /^Basic\s+([A-Za-z0-9+/]+={0,2})\s*$/i.exec(header);
  if (!match) return undefined;
  let text: string;
  try {
    const binary = atob(match[1]!);
    text = new TextDecoder("utf-8", { fatal: true })
      .decode(Uint8Array.from(binary, (c) => c.charCodeAt(0)));
  } catch {
    return undefined;
  }
  const colon = text.indexOf(":");
  if (colon < 0) return undefined;
  return { user: text.slice(0, colon), password: text.slice(colon + 1) };
}

/**
 * The running management server.
 *
 * @example
 * ```ts
 * const server = await ManagementServer.start({ control, users, admin: config.admin });
 * console.log(server.url); // "http://127.0.0.1:32501"
 * await server.stop();
 * ```
 */
export class ManagementServer {
  readonly log: Logger = new Logger("web");
  readonly hub: BusHub;
  readonly #options: ManagementServerOptions;
  readonly #acl: SourceAcl;
  readonly #limiter: FailedLoginLimiter;
  readonly #maxBody: number;
  readonly #staticDir: string | null;
  #server: Deno.HttpServer<Deno.NetAddr> | undefined;
  #tls = false;

  private constructor(options: ManagementServerOptions) {
    this.#options = options;
    this.#acl = new SourceAcl(options.admin.allow);
    this.#limiter = new FailedLoginLimiter(options.failedLogins ?? DEFAULT_FAILED_LOGINS);
    this.#maxBody = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
    this.#staticDir = options.staticDir === undefined ? DEFAULT_STATIC_DIR : options.staticDir;
    this.hub = new BusHub(options.control, {
      readTimeoutMs: options.admin.readTimeout * 1000,
      ...options.bus,
    });
  }

  /**
   * Binds and starts serving.
   *
   * @throws when the TLS files cannot be read or the address cannot be bound.
   */
  static async start(options: ManagementServerOptions): Promise<ManagementServer> {
    const { admin } = options;
    let tls: { cert: string; key: string } | undefined;
    if (admin.cert !== undefined && admin.key !== undefined) {
      const read = async (attribute: "cert" | "key", path: string) => {
        const resolved = resolvePath(path, options.baseDir);
        try {
          return await Deno.readTextFile(resolved);
        } catch (e) {
          throw new Error(
            `Cannot read the <admin ${attribute}> file ${resolved}: ${(e as Error).message}`,
          );
        }
      };
      tls = { cert: await read("cert", admin.cert), key: await read("key", admin.key) };
    }
    const server = new ManagementServer(options);
    try {
      server.#server = Deno.serve({
        hostname: admin.address,
        port: options.port ?? admin.port,
        onListen: () => {},
        onError: (e) => {
          server.log.error(`internal error: ${(e as Error).stack ?? e}`);
          return server.#errorResponse(
            new BusError(500, "internal_error", "Cannot handle the request: internal error"),
          );
        },
        ...(tls ?? {}),
      }, (request, info) => server.#handle(request, info));
    } catch (e) {
      server.hub.stop();
      throw e;
    }
    server.#tls = tls !== undefined;
    server.log.info(`management server on ${server.url} (allow ${admin.allow.join(" ")})`);
    return server;
  }

  /** The bound address. */
  get addr(): Deno.NetAddr {
    return this.#server!.addr;
  }

  /** `http(s)://address:port` of the server. */
  get url(): string {
    const { hostname, port } = this.addr;
    const host = hostname.includes(":") ? `[${hostname}]` : hostname;
    return `${this.#tls ? "https" : "http"}://${host}:${port}`;
  }

  /** Answers pending reads, closes every session and stops listening. */
  async stop(): Promise<void> {
    this.hub.stop();
    await this.#server?.shutdown();
  }

  #response(status: number, body: string, headers: Record<string, string> = {}): Response {
    return new Response(body, {
      status,
      headers: {
        "content-type": "application/xml; charset=utf-8",
        "cache-control": "no-store",
        ...SECURITY_HEADERS,
        ...headers,
      },
    });
  }

  #errorResponse(error: BusError, session?: BusSession): Response {
    const body = renderResponse(session?.nextSerial(), [], {
      code: error.code,
      message: error.message,
      attributes: error.attributes,
    });
    return this.#response(error.status, body, error.headers);
  }

  async #handle(request: Request, info: Deno.ServeHandlerInfo<Deno.NetAddr>): Promise<Response> {
    const source = info.remoteAddr.hostname;
    if (!this.#acl.allows(source)) {
      this.log.debug(`refused ${source}: not in <admin allow>`);
      return this.#errorResponse(
        new BusError(
          403,
          "source_not_allowed",
          `Cannot serve ${source}: the address is not in the allowed prefixes`,
        ),
      );
    }
    const url = new URL(request.url);
    if (!url.pathname.startsWith("/bus/") && url.pathname !== "/bus") {
      return await this.#static(request, url);
    }
    let session: BusSession | undefined;
    try {
      this.#checkSameOrigin(request);
      const grant = await this.#authenticate(request, source);
      if (url.pathname === "/bus/open") {
        this.#requireMethod(request, ["POST"]);
        return this.#open(grant, source);
      }
      const match = SESSION_PATH.exec(url.pathname);
      if (!match) {
        throw new BusError(404, "not_found", `Cannot find ${url.pathname} (see lib/web/README.md)`);
      }
      const [, verb, id] = match as unknown as [string, "write" | "read" | "close", string];
      this.#requireMethod(
        request,
        verb === "write" ? ["PUT", "DELETE"] : verb === "read" ? ["GET"] : ["DELETE"],
      );
      session = this.#session(id, grant);
      session.lastActive = Date.now();
      if (request.method === "DELETE") return this.#close(session);
      if (verb === "read") return await this.#read(session);
      return await this.#write(session, request);
    } catch (e) {
      if (e instanceof BusError) return this.#errorResponse(e, session);
      this.log.error(
        `internal error on ${request.method} ${url.pathname}: ${(e as Error).stack ?? e}`,
      );
      return this.#errorResponse(
        new BusError(500, "internal_error", "Cannot handle the request: internal error"),
        session,
      );
    }
  }

  #checkSameOrigin(request: Request): void {
    const origin = request.headers.get("origin");
    const host = request.headers.get("host");
    if (origin !== null) {
      let sameHost = false;
      try {
        sameHost = host !== null && new URL(origin).host === host;
      } catch {
        sameHost = false;
      }
      if (!sameHost) {
        throw new BusError(403, "forbidden", "Cannot accept a cross-origin request");
      }
    }
    const site = request.headers.get("sec-fetch-site");
    if (site !== null && site !== "same-origin" && site !== "none") {
      throw new BusError(403, "forbidden", `Cannot accept a ${site} request`);
    }
  }

  async #authenticate(request: Request, source: string): Promise<WebUserGrant> {
    const retryMs = this.#limiter.retryAfterMs(source);
    if (retryMs > 0) {
      const seconds = Math.max(1, Math.ceil(retryMs / 1000));
      throw new BusError(
        429,
        "too_many_attempts",
        `Cannot authenticate: too many failed logins from ${source}; try again in ${seconds} s`,
        { headers: { "retry-after": String(seconds) }, attributes: { retry_after: seconds } },
      );
    }
    // Browsers show their own password dialog for a Basic challenge; the GUI opts out.
    const challenge = request.headers.get("x-requested-with") === "XMLHttpRequest"
      ? 'RhpBasic realm="Rockhopper"'
      : 'Basic realm="Rockhopper", charset="UTF-8"';
    const credentials = parseBasic(request.headers.get("authorization"));
    if (!credentials) {
      throw new BusError(
        401,
        "unauthorized",
        "Cannot authenticate: HTTP Basic credentials of a web user are required",
        { headers: { "www-authenticate": challenge } },
      );
    }
    let grant: WebUserGrant | null;
    try {
      grant = await this.#options.users.verifyWebUser(credentials.user, credentials.password);
    } catch (e) {
      if (!(e instanceof AuthUnavailableError)) throw e;
      // The secure process holds the users and is down (restarting after a realm change, or
      // after a crash); the check already waited for it. Nothing was done: try again.
      this.log.warn(`cannot check user ${printableUser(credentials.user)}: ${e.message}`);
      throw new BusError(
        503,
        "auth_unavailable",
        `Cannot authenticate now: the secure process that checks web users is restarting; try again in ${UNAVAILABLE_RETRY_AFTER_S} s`,
        {
          headers: { "retry-after": String(UNAVAILABLE_RETRY_AFTER_S) },
          attributes: { retry_after: UNAVAILABLE_RETRY_AFTER_S },
        },
      );
    }
    if (!grant) {
      this.#limiter.fail(source);
      this.log.warn(`login failed for user ${printableUser(credentials.user)} from ${source}`);
      throw new BusError(
        401,
        "unauthorized",
        "Cannot authenticate: wrong user name or password",
        { headers: { "www-authenticate": challenge } },
      );
    }
    return grant;
  }

  #requireMethod(request: Request, methods: readonly string[]): void {
    if (!methods.includes(request.method)) {
      throw new BusError(
        405,
        "method_not_allowed",
        `Cannot ${request.method} ${new URL(request.url).pathname} (allowed: ${
          methods.join(", ")
        })`,
        { headers: { allow: methods.join(", ") } },
      );
    }
  }

  #session(id: string, grant: WebUserGrant): BusSession {
    const session = SESSION_ID.test(id) ? this.hub.get(id) : undefined;
    // Another user's session is as unknown as a made-up id.
    if (!session || session.grant.user !== grant.user) {
      throw new BusError(
        404,
        "unknown_session",
        "Cannot find the bus session: it was closed, expired or never opened (POST /bus/open)",
      );
    }
    return session;
  }

  #open(grant: WebUserGrant, source: string): Response {
    const session = this.hub.open(grant, source);
    if (!session) {
      throw new BusError(
        503,
        "too_many_sessions",
        `Cannot open a bus session: ${this.hub.options.maxSessions} are open`,
      );
    }
    this.log.info(
      `bus session opened for ${grant.user} (realm ${grant.realm}) from ${source}`,
    );
    const record: BusRecord = {
      service: SERVICE_BUS,
      action: "new_session",
      attributes: {
        session_id: session.id,
        user: grant.user,
        realm: grant.realm,
        read_timeout: this.hub.options.readTimeoutMs / 1000,
        idle_timeout: this.hub.options.idleMs / 1000,
        stats_interval: session.statsIntervalMs / 1000,
      },
    };
    return this.#response(200, renderResponse(session.nextSerial(), [record]));
  }

  #close(session: BusSession): Response {
    const serial = session.nextSerial();
    this.hub.close(session.id);
    const record: BusRecord = {
      service: SERVICE_BUS,
      action: "close",
      attributes: { session_id: session.id },
    };
    return this.#response(200, renderResponse(serial, [record]));
  }

  async #read(session: BusSession): Promise<Response> {
    // No request.signal: a client that went away leaves a read that times out, or that its
    // next read answers at once (BusSession.read).
    const records = await session.read(this.hub.options.readTimeoutMs);
    return this.#response(200, renderResponse(session.nextSerial(), records));
  }

  async #write(session: BusSession, request: Request): Promise<Response> {
    const text = await this.#readBody(request);
    let element;
    try {
      element = parseXml(text, "request");
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      throw new BusError(
        400,
        "malformed_xml",
        `Cannot parse the request: line ${e.line ?? 1}: ${e.problem}`,
      );
    }
    const record = await runAction(this.#options.control, this.hub, session, element);
    return this.#response(200, renderResponse(session.nextSerial(), [record]));
  }

  async #readBody(request: Request): Promise<string> {
    const tooLarge = () =>
      new BusError(
        413,
        "body_too_large",
        `Cannot read the request: the body is larger than ${this.#maxBody} bytes`,
      );
    const declared = request.headers.get("content-length");
    if (declared !== null && Number(declared) > this.#maxBody) throw tooLarge();
    if (!request.body) return "";
    const chunks: Uint8Array[] = [];
    let total = 0;
    const reader = request.body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.length;
      if (total > this.#maxBody) {
        await reader.cancel().catch(() => {});
        throw tooLarge();
      }
      chunks.push(value);
    }
    const bytes = new Uint8Array(total);
    let offset = 0;
    for (const c of chunks) {
      bytes.set(c, offset);
      offset += c.length;
    }
    try {
      return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    } catch {
      throw new BusError(400, "malformed_xml", "Cannot parse the request: it is not UTF-8");
    }
  }

  async #static(request: Request, url: URL): Promise<Response> {
    const notFound = () =>
      new Response("Not found\n", {
        status: 404,
        headers: { "content-type": "text/plain; charset=utf-8", ...SECURITY_HEADERS },
      });
    if (request.method !== "GET" && request.method !== "HEAD") {
      return new Response("Method not allowed\n", {
        status: 405,
        headers: { allow: "GET, HEAD", "content-type": "text/plain", ...SECURITY_HEADERS },
      });
    }
    if (this.#staticDir === null) return notFound();
    let path: string;
    try {
      path = decodeURIComponent(url.pathname);
    } catch {
      return notFound();
    }
    if (path.endsWith("/")) path += "index.html";
    if (!/^\/[A-Za-z0-9._\-/]+$/.test(path) || path.split("/").some((s) => s.startsWith("."))) {
      return notFound();
    }
    const file = `${this.#staticDir.replace(/\/$/, "")}${path}`;
    let body: Uint8Array<ArrayBuffer>;
    try {
      body = await Deno.readFile(file);
    } catch {
      return notFound();
    }
    const extension = path.slice(path.lastIndexOf(".") + 1).toLowerCase();
    return new Response(request.method === "HEAD" ? null : body, {
      status: 200,
      headers: {
        "content-type": CONTENT_TYPES[extension] ?? "application/octet-stream",
        "cache-control": "no-cache",
        "content-security-policy": CONTENT_SECURITY_POLICY,
        ...SECURITY_HEADERS,
      },
    });
  }
}
