/**
 * A client of the management server's bus protocol (lib/web/README.md), used by
 * `rockhopper ctl` and by tests: open a session, write actions, long-poll for events, close.
 */
import { type ConfigError, escapeXml, parseXml, type XmlElement } from "../config/mod.ts";

/** The server answered with an error (`<rhp_http_bus_error>`) or an unexpected document. */
export class BusClientError extends Error {
  /** HTTP status. */
  readonly status: number;
  /** The error's `code` (`unauthorized`, `unknown_action`, `config_invalid`, ...). */
  readonly code: string;
  /** All attributes of `<rhp_http_bus_error>`. */
  readonly attributes: Readonly<Record<string, string>>;
  constructor(status: number, code: string, message: string, attributes = {}) {
    super(message);
    this.name = "BusClientError";
    this.status = status;
    this.code = code;
    this.attributes = attributes;
  }
}

/** The server could not be reached (connection refused, DNS, TLS, timeout). */
export class BusUnreachableError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "BusUnreachableError";
  }
}

/** Attempts of a request refused with 503 and Retry-After, before the 503 is the caller's. */
export const UNAVAILABLE_ATTEMPTS = 4;
/** The longest Retry-After honoured, in seconds. */
const MAX_RETRY_AFTER_S = 5;

/**
 * The wait before asking again, in ms: null unless a 503 with Retry-After in seconds (the
 * server's secure process is restarting after a realm change; nothing was done).
 */
function retryDelayMs(response: Response): number | null {
  if (response.status !== 503) return null;
  const seconds = Number(response.headers.get("retry-after"));
  if (!Number.isFinite(seconds) || seconds <= 0) return null;
  return Math.min(seconds, MAX_RETRY_AFTER_S) * 1000;
}

/** Resolves after `ms`; rejects with the signal's reason when it aborts first. */
function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(timer);
      reject(signal.reason);
    }, { once: true });
  });
}

/** One parsed response. */
export interface BusResponse {
  status: number;
  /** The body as received. */
  xml: string;
  root: XmlElement;
  /** Its `<rhp_http_bus_record>` elements. */
  records: XmlElement[];
}

/** Options of {@link BusClient}. */
export interface BusClientOptions {
  /** Base URL, e.g. `http://127.0.0.1:32501`. */
  url: string;
  user: string;
  password: string;
  /** PEM CA certificates to trust for https (a self-signed server certificate). */
  caCerts?: string[];
  /**
   * Attempts of a request the server refuses with 503 and Retry-After (default
   * {@link UNAVAILABLE_ATTEMPTS}; 1: no retry).
   */
  attempts?: number;
}

/** The attributes of an element as a plain object. */
export function attributesOf(element: XmlElement): Record<string, string> {
  const out: Record<string, string> = {};
  for (const a of element.attributes.values()) out[a.name] = a.value;
  return out;
}

/**
 * An element as JSON: its attributes (strings) plus, per child element name, an array of the
 * children converted the same way.
 *
 * @example
 * ```ts
 * elementToJson(parseXml('<vpn ike_sa="3"><child_sa spi_in="c0ffee01"/></vpn>', "x"));
 * // { ike_sa: "3", child_sa: [{ spi_in: "c0ffee01" }] }
 * ```
 */
export function elementToJson(element: XmlElement): Record<string, unknown> {
  const out: Record<string, unknown> = attributesOf(element);
  for (const child of element.children) {
    const list = (out[child.name] ??= []) as unknown[];
    if (Array.isArray(list)) list.push(elementToJson(child));
  }
  return out;
}

/** Renders a `<rhp_http_bus_request>` with attributes and optional inner XML. */
export function busRequestXml(
  action: string,
  attributes: Readonly<Record<string, string | number | undefined>> = {},
  inner = "",
): string {
  let attrs = ` version="1.0" service="ui_http_vpn" action="${escapeXml(action)}"`;
  for (const [name, value] of Object.entries(attributes)) {
    if (value !== undefined) attrs += ` ${name}="${escapeXml(String(value))}"`;
  }
  return `<?xml version="1.0" encoding="UTF-8"?>\n` +
    (inner === ""
      ? `<rhp_http_bus_request${attrs}/>\n`
      : `<rhp_http_bus_request${attrs}>\n${inner}\n</rhp_http_bus_request>\n`);
}

/**
 * One bus session.
 *
 * @example
 * ```ts
 * const bus = new BusClient({ url: "http://127.0.0.1:32501", user: "admin", password });
 * await bus.open();
 * const status = await bus.write("status_vpn");
 * await bus.close();
 * ```
 */
export class BusClient {
  readonly options: BusClientOptions;
  #sessionId: string | undefined;
  #client: Deno.HttpClient | undefined;
  readonly #attempts: number;

  constructor(options: BusClientOptions) {
    this.options = options;
    this.#attempts = Math.max(1, options.attempts ?? UNAVAILABLE_ATTEMPTS);
    if (options.caCerts?.length) this.#client = Deno.createHttpClient({ caCerts: options.caCerts });
  }

  /** The open session's id. */
  get sessionId(): string | undefined {
    return this.#sessionId;
  }

  async #fetch(method: string, path: string, body?: string, signal?: AbortSignal) {
    const url = this.options.url.replace(/\/+$/, "") + path;
    const credentials = new TextEncoder().encode(`${this.options.user}:${this.options.password}`);
    const init: RequestInit & { client?: Deno.HttpClient } = {
      method,
      headers: {
        authorization: `Basic ${btoa(String.fromCharCode(...credentials))}`,
        ...(body === undefined ? {} : { "content-type": "application/xml; charset=utf-8" }),
      },
    };
    if (body !== undefined) init.body = body;
    if (signal) init.signal = signal;
    if (this.#client) init.client = this.#client;
    let response: Response;
    for (let attempt = 1;; attempt++) {
      try {
        response = await fetch(url, init);
      } catch (e) {
        if (signal?.aborted) throw e;
        throw new BusUnreachableError(
          `Cannot reach the management server at ${this.options.url}: ${(e as Error).message}`,
          { cause: e },
        );
      }
      const waitMs = retryDelayMs(response);
      if (waitMs === null || attempt >= this.#attempts) break;
      await response.body?.cancel();
      await delay(waitMs, signal);
    }
    const xml = await response.text();
    let root: XmlElement;
    try {
      root = parseXml(xml, "response");
    } catch (e) {
      throw new BusClientError(
        response.status,
        "bad_response",
        `Cannot parse the server's answer (HTTP ${response.status}): ${(e as ConfigError).message}`,
      );
    }
    const error = root.children.find((c) => c.name === "rhp_http_bus_error");
    if (!response.ok || error) {
      const attributes = error ? attributesOf(error) : {};
      throw new BusClientError(
        response.status,
        attributes.code ?? "http_error",
        attributes.message ?? `HTTP ${response.status}`,
        attributes,
      );
    }
    const records = root.children.filter((c) => c.name === "rhp_http_bus_record");
    return { status: response.status, xml, root, records } satisfies BusResponse;
  }

  /** POST /bus/open; returns the session id. */
  async open(): Promise<string> {
    const response = await this.#fetch("POST", "/bus/open");
    const id = response.records[0]?.attributes.get("session_id")?.value;
    if (!id) throw new BusClientError(response.status, "bad_response", "No session id received");
    this.#sessionId = id;
    return id;
  }

  #path(verb: string): string {
    if (!this.#sessionId) throw new RangeError("Cannot use the bus: no open session");
    return `/bus/${verb}/${this.#sessionId}`;
  }

  /** PUT /bus/write/<sid> with one action; resolves to the response (one record). */
  write(
    action: string,
    attributes: Readonly<Record<string, string | number | undefined>> = {},
    inner = "",
  ): Promise<BusResponse> {
    return this.#fetch("PUT", this.#path("write"), busRequestXml(action, attributes, inner));
  }

  /** PUT /bus/write/<sid> with a body as given (tests of malformed requests). */
  writeRaw(body: string): Promise<BusResponse> {
    return this.#fetch("PUT", this.#path("write"), body);
  }

  /** GET /bus/read/<sid>: the long poll; no records on the timeout answer. */
  read(signal?: AbortSignal): Promise<BusResponse> {
    return this.#fetch("GET", this.#path("read"), undefined, signal);
  }

  /** DELETE /bus/write/<sid> (never throws; the session is gone either way). */
  async close(): Promise<void> {
    try {
      if (this.#sessionId) await this.#fetch("DELETE", this.#path("write"));
    } catch {
      // Closed already, expired, or the server went away.
    } finally {
      this.#sessionId = undefined;
      this.#client?.close();
      this.#client = undefined;
    }
  }
}
