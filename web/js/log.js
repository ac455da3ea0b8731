/**
 * Live log: `event_log_control level=<L> history=200` asks the appliance for records at L and
 * above (with the recent ones replayed); `log_record` events append rows. The level and the text
 * filter also apply to the rows already shown.
 */
import { byId, formatClock, h } from "./dom.js";

/** @typedef {import("./app.js").App} App */

const LEVELS = ["error", "warn", "info", "debug", "trace"];
const MAX_ROWS = 2000;
const HISTORY = 200;

export class LogView {
  #paused = false;
  /** @type {Element[]} records that arrived while paused */
  #held = [];

  /**
   * @param {App} app
   */
  constructor(app) {
    this.app = app;
    this.level = /** @type {HTMLSelectElement} */ (byId("log-level"));
    this.filter = /** @type {HTMLInputElement} */ (byId("log-filter"));
    this.body = /** @type {HTMLTableSectionElement} */ (byId("log-table").querySelector("tbody"));
    this.box = byId("log-box");
    this.level.addEventListener("change", () => void this.start());
    this.filter.addEventListener("input", () => this.#applyFilter());
    const pause = byId("log-pause");
    pause.addEventListener("click", () => {
      this.#paused = !this.#paused;
      pause.setAttribute("aria-pressed", String(this.#paused));
      pause.textContent = this.#paused ? "Resume" : "Pause";
      if (!this.#paused) {
        for (const record of this.#held.splice(0)) this.onRecord(record);
      }
    });
    byId("log-clear").addEventListener("click", () => this.body.replaceChildren());
  }

  /** Subscribes at the chosen level; the server replays recent records first. */
  async start() {
    if (this.app.scope !== "any") {
      byId("log-info").textContent =
        'Log records are not per realm: only users with scope "any" receive them.';
      return;
    }
    this.body.replaceChildren();
    this.#held = [];
    try {
      const record = await this.app.call("event_log_control", {
        level: this.level.value,
        history: HISTORY,
      });
      const effective = record.getAttribute("effective_level") ?? this.level.value;
      const appliance = record.getAttribute("appliance_level") ?? "";
      byId("log-info").textContent = effective === this.level.value
        ? `Showing ${this.level.value} and above, live.`
        : `The appliance logs at ${appliance} (-l): records below that level do not exist; showing ${effective} and above.`;
    } catch (e) {
      this.app.reportError(e, "Cannot subscribe to the log");
    }
  }

  /**
   * A `log_record` event.
   *
   * @param {Element} record
   */
  onRecord(record) {
    if (this.#paused) {
      this.#held.push(record);
      if (this.#held.length > MAX_ROWS) this.#held.shift();
      return;
    }
    const level = record.getAttribute("level") ?? "info";
    const subsystem = record.getAttribute("subsystem") ?? "";
    const tag = record.getAttribute("tag");
    const time = record.getAttribute("log_time") ?? record.getAttribute("time") ?? undefined;
    const atBottom = this.box.scrollTop + this.box.clientHeight >= this.box.scrollHeight - 8;
    const row = h(
      "tr",
      { dataset: { level } },
      h("td", {}, h("time", { datetime: time ?? "" }, formatClock(time, true))),
      h("td", {}, level),
      h("td", {}, tag ? `${subsystem}[${tag}]` : subsystem),
      h("td", {}, record.getAttribute("message") ?? ""),
    );
    row.hidden = !this.#matches(row);
    this.body.append(row);
    while (this.body.children.length > MAX_ROWS) this.body.firstElementChild?.remove();
    if (atBottom) this.box.scrollTop = this.box.scrollHeight;
  }

  /**
   * @param {HTMLElement} row
   */
  #matches(row) {
    const allowed = LEVELS.indexOf(this.level.value);
    const level = LEVELS.indexOf(row.dataset.level ?? "info");
    if (level > allowed) return false;
    const text = this.filter.value.trim().toLowerCase();
    return text === "" || (row.textContent ?? "").toLowerCase().includes(text);
  }

  #applyFilter() {
    for (const row of Array.from(this.body.children)) {
      /** @type {HTMLElement} */ (row).hidden = !this.#matches(/** @type {HTMLElement} */ (row));
    }
  }
}
