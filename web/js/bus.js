/**
 * The browser side of the bus protocol (lib/web/README.md): open a session, write actions, read
 * events with the long poll, close. Credentials live only in this object (memory); every request
 * carries them as HTTP Basic plus `X-Requested-With: XMLHttpRequest`, so that a 401 does not make
 * the browser show its own password dialog.
 */

const SERVICE = "ui_http_vpn";

/** A refused request: the `rhp_http_bus_error` of the answer, or a transport failure. */
export class BusError extends Error {
  /**
   * @param {number} status HTTP status (0: no answer at all)
   * @param {string} code the error's `code` (`network`, `bad_answer` for client-side failures)
   * @param {string} message one line for people
   * @param {Record<string, string>} [attributes] every attribute of the error element
   */
  constructor(status, code, message, attributes = {}) {
    super(message);
    this.name = "BusError";
    this.status = status;
    this.code = code;
    this.attributes = attributes;
  }
}

/**
 * Attempts of a request the server refuses with 503 and Retry-After (its secure process is
 * restarting after a realm change; nothing was done), before the 503 is the caller's.
 */
const UNAVAILABLE_ATTEMPTS = 4;
/** The longest Retry-After honoured, in seconds. */
const MAX_RETRY_AFTER_S = 5;

/**
 * How long to wait before asking again: null unless a 503 with Retry-After (seconds).
 *
 * @param {Response} response
 * @returns {number | null} milliseconds
 */
function retryDelayMs(response) {
  if (response.status !== 503) return null;
  const seconds = Number(response.headers.get("retry-after"));
  if (!Number.isFinite(seconds) || seconds <= 0) return null;
  return Math.min(seconds, MAX_RETRY_AFTER_S) * 1000;
}

/**
 * Resolves after `ms`, or rejects with the AbortError when `signal` aborts first.
 *
 * @param {number} ms
 * @param {AbortSignal} [signal]
 */
function sleep(ms, signal) {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(timer);
      reject(signal.reason);
    }, { once: true });
  });
}

/**
 * `Basic base64(utf8(user:password))`.
 *
 * @param {string} user
 * @param {string} password
 */
function basicAuthorization(user, password) {
  const bytes = new TextEncoder().encode(`${user}:${password}`);
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return `Basic ${btoa(binary)}`;
}

/**
 * Parses an answer body; throws a BusError for a non-XML body.
 *
 * @param {string} text
 * @param {number} status
 * @returns {Element} the `rhp_http_bus_response` element
 */
function parseAnswer(text, status) {
  const doc = new DOMParser().parseFromString(text, "application/xml");
  const root = doc.documentElement;
  if (
    root === null || root.localName !== "rhp_http_bus_response" ||
    doc.getElementsByTagName("parsererror").length > 0
  ) {
    throw new BusError(status, "bad_answer", `Cannot read the answer (HTTP ${status})`);
  }
  return root;
}

/**
 * Builds a request document.
 *
 * @param {string} action
 * @param {Record<string, string | number | undefined | null>} attributes empty values are left out
 * @param {Element | null} child one element to send along (a `<realm>`), or null
 * @returns {string}
 */
export function buildRequest(action, attributes, child = null) {
  const doc = document.implementation.createDocument(null, "rhp_http_bus_request", null);
  const root = doc.documentElement;
  root.setAttribute("version", "1.0");
  root.setAttribute("service", SERVICE);
  root.setAttribute("action", action);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === "") continue;
    root.setAttribute(name, String(value));
  }
  if (child !== null) root.appendChild(doc.importNode(child, true));
  return `<?xml version="1.0" encoding="UTF-8"?>\n${new XMLSerializer().serializeToString(doc)}`;
}

/**
 * One bus session of one user.
 *
 * @example
 * ```js
 * const bus = new BusClient("admin", password);
 * await bus.open();
 * const status = await bus.write("status_vpn");
 * const events = await bus.read();
 * await bus.close();
 * ```
 */
export class BusClient {
  #authorization;
  /** @type {string | null} */
  sessionId = null;
  /** @type {Record<string, string>} the `new_session` record's attributes */
  session = {};

  /**
   * @param {string} user
   * @param {string} password
   */
  constructor(user, password) {
    this.user = user;
    this.#authorization = basicAuthorization(user, password);
  }

  /** Opens a session (`POST /bus/open`); resolves to the `new_session` attributes. */
  async open() {
    const records = await this.#request("POST", "/bus/open");
    const record = records[0];
    const id = record?.getAttribute("session_id");
    if (!record || !id) {
      throw new BusError(200, "bad_answer", "Cannot open a session: no session id in the answer");
    }
    this.sessionId = id;
    /** @type {Record<string, string>} */
    const session = {};
    for (const a of Array.from(record.attributes)) session[a.name] = a.value;
    this.session = session;
    return session;
  }

  /**
   * Runs one action; resolves to its record (`result="ok"`), rejects with a BusError.
   *
   * @param {string} action
   * @param {Record<string, string | number | undefined | null>} [attributes]
   * @param {Element | null} [child]
   * @returns {Promise<Element>}
   */
  async write(action, attributes = {}, child = null) {
    const records = await this.#request(
      "PUT",
      `/bus/write/${this.#sid()}`,
      buildRequest(action, attributes, child),
    );
    const record = records[0];
    if (!record) throw new BusError(200, "bad_answer", `Cannot run ${action}: empty answer`);
    return record;
  }

  /**
   * The long poll: resolves to the queued event records (none after the read timeout).
   *
   * @param {AbortSignal} [signal]
   * @returns {Promise<Element[]>}
   */
  async read(signal) {
    return await this.#request("GET", `/bus/read/${this.#sid()}`, undefined, signal);
  }

  /** Closes the session; never throws (the session may be gone already). */
  async close() {
    if (this.sessionId === null) return;
    const path = `/bus/write/${this.sessionId}`;
    this.sessionId = null;
    try {
      await this.#request("DELETE", path, undefined, undefined, true);
    } catch {
      // Expired or unreachable: nothing left to close.
    }
  }

  #sid() {
    if (this.sessionId === null) {
      throw new BusError(404, "unknown_session", "Cannot use the bus: no session is open");
    }
    return this.sessionId;
  }

  /**
   * @param {string} method
   * @param {string} path
   * @param {string} [body]
   * @param {AbortSignal} [signal]
   * @param {boolean} [keepalive] may outlive the page (closing the session on the way out)
   * @returns {Promise<Element[]>} the answer's records
   */
  async #request(method, path, body, signal, keepalive = false) {
    /** @type {Record<string, string>} */
    const headers = {
      "authorization": this.#authorization,
      "x-requested-with": "XMLHttpRequest",
    };
    if (body !== undefined) headers["content-type"] = "application/xml; charset=utf-8";
    /** @type {Response} */
    let response;
    for (let attempt = 1;; attempt++) {
      try {
        response = await fetch(path, {
          method,
          headers,
          cache: "no-store",
          keepalive,
          ...(body === undefined ? {} : { body }),
          ...(signal === undefined ? {} : { signal }),
        });
      } catch (e) {
        if (e instanceof DOMException && e.name === "AbortError") throw e;
        throw new BusError(0, "network", "Cannot reach the appliance");
      }
      const waitMs = retryDelayMs(response);
      if (waitMs === null || attempt >= UNAVAILABLE_ATTEMPTS) break;
      await response.body?.cancel();
      await sleep(waitMs, signal);
    }
    const text = await response.text();
    const root = parseAnswer(text, response.status);
    const error = root.getElementsByTagName("rhp_http_bus_error")[0];
    if (error !== undefined || !response.ok) {
      /** @type {Record<string, string>} */
      const attributes = {};
      for (const a of Array.from(error?.attributes ?? [])) attributes[a.name] = a.value;
      throw new BusError(
        response.status,
        attributes.code ?? "bad_answer",
        attributes.message ?? `HTTP ${response.status}`,
        attributes,
      );
    }
    return Array.from(root.children).filter((c) => c.localName === "rhp_http_bus_record");
  }
}
