/**
 * Small DOM and formatting helpers. Everything the appliance sends is put into the page as text
 * (textContent, attributes), never as markup.
 */

/**
 * Creates an element: `h("td", { class: "num", dataset: { label: "Age" } }, "12 s")`.
 * Props named `on<event>` become listeners; `null`/`undefined`/`false` props are skipped.
 *
 * @param {string} tag
 * @param {Record<string, unknown>} [props]
 * @param {...(Node | string | number | null | undefined | false)} children
 * @returns {HTMLElement}
 */
export function h(tag, props = {}, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "dataset") {
      Object.assign(element.dataset, value);
    } else if (key.startsWith("on") && typeof value === "function") {
      element.addEventListener(key.slice(2).toLowerCase(), /** @type {EventListener} */ (value));
    } else if (key === "class") {
      element.className = String(value);
    } else if (value === true) {
      element.setAttribute(key, "");
    } else {
      element.setAttribute(key, String(value));
    }
  }
  append(element, children);
  return element;
}

/**
 * Appends children (strings become text nodes; empty values are skipped).
 *
 * @param {Element} parent
 * @param {Array<Node | string | number | null | undefined | false>} children
 */
export function append(parent, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    parent.append(typeof child === "number" ? String(child) : child);
  }
}

/**
 * The element with this id (throws when the page lacks it: a bug, not a runtime condition).
 *
 * @template {HTMLElement} T
 * @param {string} id
 * @returns {T}
 */
export function byId(id) {
  const element = document.getElementById(id);
  if (element === null) throw new Error(`Cannot find #${id} in the page`);
  return /** @type {T} */ (element);
}

/**
 * Attributes of an element as a plain object.
 *
 * @param {Element} element
 * @returns {Record<string, string>}
 */
export function attrs(element) {
  /** @type {Record<string, string>} */
  const result = {};
  for (const attribute of Array.from(element.attributes)) {
    result[attribute.name] = attribute.value;
  }
  return result;
}

/**
 * Child elements with a given name.
 *
 * @param {Element} element
 * @param {string} name
 * @returns {Element[]}
 */
export function childrenNamed(element, name) {
  return Array.from(element.children).filter((c) => c.localName === name);
}

const BYTE_UNITS = ["B", "KiB", "MiB", "GiB", "TiB"];

/**
 * `1536` → `1.5 KiB`.
 *
 * @param {number} bytes
 */
export function formatBytes(bytes) {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < BYTE_UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(value < 10 ? 1 : 0)} ${BYTE_UNITS[unit]}`;
}

/**
 * Bytes per second as bits per second: `1250` → `10.0 kbit/s`.
 *
 * @param {number} bytesPerSecond
 */
export function formatRate(bytesPerSecond) {
  const bits = bytesPerSecond * 8;
  if (bits < 1000) return `${Math.round(bits)} bit/s`;
  if (bits < 1e6) return `${(bits / 1e3).toFixed(1)} kbit/s`;
  if (bits < 1e9) return `${(bits / 1e6).toFixed(1)} Mbit/s`;
  return `${(bits / 1e9).toFixed(2)} Gbit/s`;
}

/**
 * Seconds as `2 h 5 min`, `3 min 4 s`, `42 s`.
 *
 * @param {number} seconds
 */
export function formatDuration(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
  return `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`;
}

/**
 * An ISO time as local `HH:MM:SS` (with `.mmm` when asked).
 *
 * @param {string | undefined} iso
 * @param {boolean} [millis]
 */
export function formatClock(iso, millis = false) {
  const date = iso === undefined ? new Date() : new Date(iso);
  if (Number.isNaN(date.getTime())) return iso ?? "";
  const pad = (/** @type {number} */ n, width = 2) => String(n).padStart(width, "0");
  const text = `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
  return millis ? `${text}.${pad(date.getMilliseconds(), 3)}` : text;
}

/**
 * Decimal counter with thin grouping: `1234567` → `1,234,567`.
 *
 * @param {string | number | undefined} value
 */
export function formatCount(value) {
  const n = Number(value ?? 0);
  return Number.isFinite(n) ? n.toLocaleString("en-US") : String(value);
}
