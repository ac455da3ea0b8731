/**
 * Statistics: the IKE engine's and the sockets' counters (`global_statistics_ikev2`) and the
 * data path per realm (`global_statistics_esp`), then live from `statistics` events. The sets of
 * counters grow with the engine, so every attribute that arrives is shown.
 */
import { attrs, byId, childrenNamed, formatClock, formatCount, h } from "./dom.js";

/** @typedef {import("./app.js").App} App */

/** Counters that mean something went wrong when non-zero. */
const PROBLEM =
  /^(drop_|rx_malformed|rx_integrity|rx_unsupported|id_payload|failed|dead_peers|cookies_rejected|half_open_expired|.*errors$|rx_unknown_spi|rx_esp_no_realm|tx_esp_no_raw|worker_crashes|workers_failed)/;

/**
 * @param {string} name snake_case
 */
function label(name) {
  return name.replace(/_/g, " ");
}

/**
 * Fills a <dl> with one row per attribute.
 *
 * @param {HTMLElement} list
 * @param {Array<[string | null, Record<string, string>]>} sections [title, counters]
 */
function fillCounters(list, sections) {
  const items = [];
  for (const [title, counters] of sections) {
    if (title !== null) items.push(h("dt", { class: "section" }, title));
    for (const [name, value] of Object.entries(counters)) {
      const problem = PROBLEM.test(name) && value !== "0";
      items.push(
        h("dt", { class: problem ? "nonzero-drop" : null }, label(name)),
        h("dd", { class: problem ? "nonzero-drop" : null }, formatCount(value)),
      );
    }
  }
  list.replaceChildren(...items);
}

export class StatsView {
  /** The last `<appliance>` and `<data_plane>` counters (they arrive in different records). */
  /** @type {Record<string, string>} */
  #appliance = {};
  /** @type {Record<string, string> | undefined} */
  #dataPlane = undefined;

  /**
   * @param {App} app
   */
  constructor(app) {
    this.app = app;
  }

  /** Loads every counter once (statistics events keep them current). */
  async load() {
    const anyScope = this.app.scope === "any";
    byId("stats-ikev2-none").hidden = anyScope;
    byId("stats-ikev2").hidden = !anyScope;
    byId("stats-appliance-card").hidden = !anyScope;
    if (anyScope) this.#showIkev2(await this.app.call("global_statistics_ikev2"));
    this.#showRealms(await this.app.call("global_statistics_esp"));
    byId("stats-updated").textContent = `Updated ${formatClock(undefined)}`;
  }

  /**
   * A `statistics` event.
   *
   * @param {Element} record
   */
  onStatistics(record) {
    if (childrenNamed(record, "ikev2").length > 0) this.#showIkev2(record);
    this.#showRealms(record);
    byId("stats-updated").textContent = `Updated ${
      formatClock(record.getAttribute("time") ?? undefined)
    } (every ${record.getAttribute("interval")} s)`;
  }

  /**
   * @param {Element} record with `<ikev2>` and `<appliance>`
   */
  #showIkev2(record) {
    const ikev2 = childrenNamed(record, "ikev2")[0];
    const appliance = childrenNamed(record, "appliance")[0];
    if (ikev2 !== undefined) fillCounters(byId("stats-ikev2"), [[null, attrs(ikev2)]]);
    if (appliance !== undefined) {
      this.#appliance = attrs(appliance);
      this.#showAppliance();
    }
  }

  /** The appliance card: its counters, then the data-plane workers' (when it runs workers). */
  #showAppliance() {
    /** @type {Array<[string | null, Record<string, string>]>} */
    const sections = [[null, this.#appliance]];
    if (this.#dataPlane !== undefined) {
      sections.push(["Data-plane workers (restarts, drops before an SA)", this.#dataPlane]);
    }
    fillCounters(byId("stats-appliance"), sections);
  }

  /**
   * @param {Element} record with `<realm>` elements (and `<total>` from global_statistics_esp)
   */
  #showRealms(record) {
    const dataPlane = childrenNamed(record, "data_plane")[0];
    if (dataPlane !== undefined) {
      this.#dataPlane = attrs(dataPlane);
      this.#showAppliance();
    }
    const cards = childrenNamed(record, "realm").map((realm) => {
      const a = attrs(realm);
      const list = h("dl", { class: "counters" });
      /** @type {Array<[string, Record<string, string>]>} */
      const sections = [];
      for (const direction of ["outbound", "inbound"]) {
        const element = childrenNamed(realm, direction)[0];
        if (element !== undefined) {
          sections.push([
            direction === "outbound"
              ? "Outbound (TUN → peer: rx read from TUN, tx ESP sent)"
              : "Inbound (peer → TUN: rx ESP received, tx written to TUN)",
            attrs(element),
          ]);
        }
      }
      fillCounters(list, sections);
      const titleId = `stats-realm-${a.id}`;
      return h(
        "section",
        { class: "card", "aria-labelledby": titleId },
        h("h3", { id: titleId }, `ESP · realm ${a.name} (id ${a.id})`),
        h("p", { class: "muted small" }, `device ${a.device} · ${a.child_sas} child SA(s)`),
        list,
      );
    });
    byId("stats-realms").replaceChildren(...cards);
  }
}
