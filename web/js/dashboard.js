/**
 * Dashboard: every IKE SA with its child SAs (from `status_vpn`, then `vpn_*` events keyed by
 * `ike_sa`), the configured peers with connect/disconnect, live counters and the throughput
 * graph (from `statistics` events), and a list of recent events.
 *
 * Rows are updated in place, never rebuilt, so a focused button keeps its focus.
 */
import {
  attrs,
  byId,
  childrenNamed,
  formatBytes,
  formatClock,
  formatCount,
  formatDuration,
  formatRate,
  h,
} from "./dom.js";
import { ThroughputGraph, ThroughputTracker } from "./graph.js";

/** @typedef {import("./app.js").App} App */

/**
 * @typedef {object} VpnState
 * @property {Record<string, string>} vpn attributes of the latest `<vpn>`
 * @property {Record<string, string>[]} children its `<child_sa>` attributes
 * @property {number} receivedAt Date.now() when `vpn` arrived (ages count on from it)
 * @property {number} rate current bytes/s (rx + tx)
 */

const STATE_BADGE = {
  ESTABLISHED: "ok",
  DESTROYED: "bad",
};

const MAX_EVENTS = 50;

/**
 * @param {string} state
 * @returns {HTMLElement}
 */
function stateBadge(state) {
  const kind = /** @type {Record<string, string>} */ (STATE_BADGE)[state] ?? "";
  return h("span", { class: `badge ${kind}` }, state);
}

/**
 * @param {HTMLElement} cell
 * @param {...(Node | string | null | undefined | false)} content
 */
function fill(cell, ...content) {
  cell.replaceChildren(...content.filter((c) => c !== null && c !== undefined && c !== false));
}

/**
 * Puts `row` right after `previous` (first when null) unless it is there already: moving a
 * node would blur a focused button in it and restart its animation.
 *
 * @param {Element} body
 * @param {Element} row
 * @param {Element | null} previous
 */
function placeAfter(body, row, previous) {
  const expected = previous === null ? body.firstElementChild : previous.nextElementSibling;
  if (expected !== row) body.insertBefore(row, expected);
}

/**
 * @param {string} text
 */
function sub(text) {
  return h("span", { class: "sub" }, text);
}

export class Dashboard {
  /** @type {Map<string, VpnState>} */
  vpns = new Map();
  /** @type {Map<string, { row: HTMLTableRowElement, cells: Record<string, HTMLElement>, button: HTMLButtonElement }>} */
  #vpnRows = new Map();
  /** @type {Map<string, { row: HTMLTableRowElement, cells: Record<string, HTMLElement>, button: HTMLButtonElement, peer: Record<string, string> }>} */
  #peerRows = new Map();
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  #peerRefresh;
  tracker = new ThroughputTracker();

  /**
   * @param {App} app
   */
  constructor(app) {
    this.app = app;
    this.graph = new ThroughputGraph(byId("throughput"), this.tracker);
    byId("clear-all").addEventListener("click", () => this.#clearAll());
  }

  /** Loads tunnels and peers from scratch (after login, a new session or lost events). */
  async load() {
    const [status, peers] = await Promise.all([
      this.app.call("status_vpn"),
      this.app.call("status_vpn_peers"),
    ]);
    const now = Date.now();
    this.vpns.clear();
    for (const element of childrenNamed(status, "vpn")) {
      const vpn = attrs(element);
      this.vpns.set(vpn.ike_sa, {
        vpn,
        children: childrenNamed(element, "child_sa").map(attrs),
        receivedAt: now,
        rate: 0,
      });
    }
    this.#renderVpns();
    this.#renderPeers(peers);
  }

  /**
   * A `vpn_added`, `vpn_established`, `vpn_connect_i_error` or `vpn_deleted` record.
   *
   * @param {Element} record
   */
  onVpnEvent(record) {
    const action = record.getAttribute("action") ?? "";
    const element = childrenNamed(record, "vpn")[0];
    if (element === undefined) return;
    const vpn = attrs(element);
    const sa = vpn.ike_sa;
    const peer = vpn.peer_id ?? "?";
    const reason = record.getAttribute("reason");
    if (action === "vpn_deleted") {
      this.vpns.delete(sa);
      this.addEvent(
        record.getAttribute("time") ?? undefined,
        `IKE SA #${sa} with ${peer} (${vpn.realm_name}) deleted${reason ? `: ${reason}` : ""}`,
        record.getAttribute("was_established") === "yes" ? "" : "bad",
      );
    } else {
      const previous = this.vpns.get(sa);
      this.vpns.set(sa, {
        vpn,
        children: childrenNamed(element, "child_sa").map(attrs),
        receivedAt: Date.now(),
        rate: previous?.rate ?? 0,
      });
      if (action === "vpn_added") {
        this.addEvent(
          record.getAttribute("time") ?? undefined,
          `IKE SA #${sa} with ${peer} (${vpn.realm_name}) added, ${
            vpn.initiator === "yes" ? "we initiate" : "peer initiated"
          }`,
        );
      } else if (action === "vpn_established") {
        this.addEvent(
          record.getAttribute("time") ?? undefined,
          `IKE SA #${sa} with ${peer} (${vpn.realm_name}) established, ${vpn.ike_suite ?? ""}`,
        );
      } else if (action === "vpn_connect_i_error") {
        this.addEvent(
          record.getAttribute("time") ?? undefined,
          `Connecting to ${peer} (${vpn.realm_name}) failed${reason ? `: ${reason}` : ""}`,
          "bad",
        );
        this.app.notify(`Connecting to ${peer} failed${reason ? `: ${reason}` : ""}`, "bad");
      }
    }
    this.#renderVpns();
    this.schedulePeerRefresh();
  }

  /**
   * A `statistics` record: per-SA totals for the rows and the graph.
   *
   * @param {Element} record
   */
  onStatistics(record) {
    const time = Date.parse(record.getAttribute("time") ?? "") || Date.now();
    /** @type {Map<string, { rx: number, tx: number }>} */
    const counters = new Map();
    for (const element of childrenNamed(record, "vpn")) {
      const v = attrs(element);
      counters.set(v.ike_sa, { rx: Number(v.rx_bytes), tx: Number(v.tx_bytes) });
      const state = this.vpns.get(v.ike_sa);
      if (state !== undefined) {
        for (const key of ["rx_bytes", "rx_packets", "tx_bytes", "tx_packets"]) {
          if (v[key] !== undefined) state.vpn[key] = v[key];
        }
      }
    }
    const sample = this.tracker.add(time, counters);
    for (const [sa, state] of this.vpns) state.rate = this.tracker.perSa.get(sa) ?? 0;
    if (sample !== null) {
      byId("metric-rx").textContent = formatRate(sample.rx);
      byId("metric-tx").textContent = formatRate(sample.tx);
    }
    this.graph.draw();
    this.#renderVpns();
  }

  /** Once a second: ages and rekey countdowns. */
  tick() {
    for (const [sa, row] of this.#vpnRows) {
      const state = this.vpns.get(sa);
      if (state !== undefined) this.#fillAge(row.cells.age, state);
    }
  }

  /**
   * Adds a line to "Recent events".
   *
   * @param {string | undefined} time ISO time
   * @param {string} text
   * @param {string} [kind] "bad" for failures
   */
  addEvent(time, text, kind = "") {
    const list = byId("events");
    list.prepend(
      h(
        "li",
        {},
        h("time", { datetime: time ?? new Date().toISOString() }, formatClock(time)),
        h("span", { class: kind }, text),
      ),
    );
    while (list.children.length > MAX_EVENTS) list.lastElementChild?.remove();
    byId("events-empty").hidden = true;
  }

  /** Refreshes the peer table soon (several events in a row cause one request). */
  schedulePeerRefresh() {
    clearTimeout(this.#peerRefresh);
    this.#peerRefresh = setTimeout(async () => {
      try {
        this.#renderPeers(await this.app.call("status_vpn_peers"));
      } catch (e) {
        this.app.reportError(e, "Cannot refresh the peers");
      }
    }, 150);
  }

  /** Forgets every row (logout). */
  reset() {
    this.vpns.clear();
    this.#renderVpns();
    for (const { row } of this.#peerRows.values()) row.remove();
    this.#peerRows.clear();
    byId("events").replaceChildren();
    byId("events-empty").hidden = false;
    this.tracker.samples.length = 0;
    this.graph.draw();
  }

  #renderVpns() {
    const body = /** @type {HTMLTableSectionElement} */ (byId("tunnels").querySelector("tbody"));
    const order = [...this.vpns.keys()].sort((a, b) => Number(a) - Number(b));
    for (const [sa, row] of this.#vpnRows) {
      if (!this.vpns.has(sa)) {
        row.row.remove();
        this.#vpnRows.delete(sa);
      }
    }
    /** @type {Element | null} */
    let previous = null;
    for (const sa of order) {
      const state = /** @type {VpnState} */ (this.vpns.get(sa));
      let row = this.#vpnRows.get(sa);
      if (row === undefined) {
        row = this.#createVpnRow(sa);
        this.#vpnRows.set(sa, row);
      }
      placeAfter(body, row.row, previous);
      previous = row.row;
      this.#fillVpnRow(row, state);
    }
    byId("tunnels-empty").hidden = this.vpns.size > 0;
    byId("tunnels").hidden = this.vpns.size === 0;
    /** @type {HTMLButtonElement} */ (byId("clear-all")).disabled = this.vpns.size === 0;
    let established = 0;
    let connecting = 0;
    for (const { vpn } of this.vpns.values()) {
      if (vpn.state === "ESTABLISHED") established++;
      else if (vpn.state === "CONNECTING" || vpn.state === "AUTHENTICATING") connecting++;
    }
    byId("metric-established").textContent = String(established);
    byId("metric-connecting").textContent = String(connecting);
  }

  /**
   * @param {string} sa
   */
  #createVpnRow(sa) {
    const labels = {
      sa: "IKE SA",
      state: "State",
      realm: "Realm",
      peer: "Peer",
      addresses: "Addresses",
      suite: "Suite",
      traffic: "Traffic",
      age: "Age",
      actions: "",
    };
    /** @type {Record<string, HTMLElement>} */
    const cells = {};
    const row =
      /** @type {HTMLTableRowElement} */ (h("tr", { class: "flash", dataset: { ikeSa: sa } }));
    for (const [key, label] of Object.entries(labels)) {
      cells[key] = h("td", {
        dataset: { label, col: key },
        class: key === "traffic" || key === "age" ? "num" : key === "actions" ? "actions" : null,
      });
      row.append(cells[key]);
    }
    const button = /** @type {HTMLButtonElement} */ (h("button", {
      type: "button",
      class: "small danger-outline",
    }, "Disconnect"));
    button.addEventListener("click", () => this.#disconnect(sa, button));
    cells.actions.append(button);
    return { row, cells, button };
  }

  /**
   * @param {{ cells: Record<string, HTMLElement>, button: HTMLButtonElement }} row
   * @param {VpnState} state
   */
  #fillVpnRow(row, state) {
    const { vpn, children } = state;
    const { cells } = row;
    fill(cells.sa, `#${vpn.ike_sa}`, sub(vpn.initiator === "yes" ? "initiator" : "responder"));
    fill(cells.state, stateBadge(vpn.state));
    fill(cells.realm, vpn.realm_name ?? "", sub(`id ${vpn.realm_id}`));
    fill(
      cells.peer,
      vpn.peer_id ?? "",
      sub(`${vpn.peer_addr}:${vpn.peer_port}`),
    );
    const nat = [
      vpn.nat_local === "yes" ? "NAT here" : "",
      vpn.nat_remote === "yes" ? "NAT at peer" : "",
    ].filter((s) => s !== "").join(", ");
    fill(
      cells.addresses,
      `${vpn.local_addr}:${vpn.local_port} → ${vpn.peer_addr}:${vpn.peer_port}`,
      ...children.map((c) => sub(`${c.local_ts} ⇄ ${c.remote_ts}`)),
      sub(
        [vpn.udp_encap === "yes" ? "ESP in UDP" : "raw ESP", nat].filter((s) => s !== "").join(
          " · ",
        ),
      ),
    );
    fill(
      cells.suite,
      vpn.ike_suite ?? "—",
      ...children.map((c) => sub(`ESP ${c.esp_suite} · SPI ${c.spi_in}/${c.spi_out}`)),
    );
    fill(
      cells.traffic,
      `↓ ${formatBytes(Number(vpn.rx_bytes ?? 0))} (${formatCount(vpn.rx_packets)} pkts)`,
      h("br"),
      `↑ ${formatBytes(Number(vpn.tx_bytes ?? 0))} (${formatCount(vpn.tx_packets)} pkts)`,
      sub(formatRate(state.rate)),
    );
    this.#fillAge(cells.age, state);
    const deleting = vpn.state === "DELETING" || vpn.state === "DESTROYED";
    if (!row.button.dataset.busy) row.button.disabled = deleting;
    row.button.setAttribute(
      "aria-label",
      `Disconnect IKE SA #${vpn.ike_sa} with ${vpn.peer_id} (realm ${vpn.realm_name})`,
    );
  }

  /**
   * @param {HTMLElement} cell
   * @param {VpnState} state
   */
  #fillAge(cell, state) {
    const elapsed = (Date.now() - state.receivedAt) / 1000;
    const age = Number(state.vpn.age ?? 0) + elapsed;
    const rekey = state.vpn.rekey_in === undefined
      ? null
      : sub(`rekey in ${formatDuration(Number(state.vpn.rekey_in) - elapsed)}`);
    fill(cell, formatDuration(age), rekey);
  }

  /**
   * @param {string} sa
   * @param {HTMLButtonElement} button
   */
  async #disconnect(sa, button) {
    button.disabled = true;
    button.dataset.busy = "yes";
    button.textContent = "Disconnecting…";
    try {
      await this.app.call("close", { ike_sa: sa });
    } catch (e) {
      this.app.reportError(e, `Cannot disconnect IKE SA #${sa}`);
    } finally {
      delete button.dataset.busy;
      button.textContent = "Disconnect";
      button.disabled = false;
    }
  }

  async #clearAll() {
    const button = /** @type {HTMLButtonElement} */ (byId("clear-all"));
    button.disabled = true;
    try {
      const record = await this.app.call("vpn_clear_all");
      this.app.notify(`Closed ${record.getAttribute("closed") ?? 0} IKE SA(s)`);
    } catch (e) {
      this.app.reportError(e, "Cannot disconnect all");
    } finally {
      button.disabled = this.vpns.size === 0;
    }
  }

  /**
   * @param {Element} record the `status_vpn_peers` record
   */
  #renderPeers(record) {
    const body = /** @type {HTMLTableSectionElement} */ (byId("peers").querySelector("tbody"));
    const seen = new Set();
    /** @type {Element | null} */
    let previous = null;
    for (const element of childrenNamed(record, "peer")) {
      const peer = attrs(element);
      const key = `${peer.realm_id}\u0000${peer.peer_id}`;
      seen.add(key);
      let row = this.#peerRows.get(key);
      if (row === undefined) {
        row = this.#createPeerRow(key, peer);
        this.#peerRows.set(key, row);
      }
      row.peer = peer;
      placeAfter(body, row.row, previous);
      previous = row.row;
      this.#fillPeerRow(row);
    }
    for (const [key, row] of this.#peerRows) {
      if (!seen.has(key)) {
        row.row.remove();
        this.#peerRows.delete(key);
      }
    }
    byId("peers-empty").hidden = this.#peerRows.size > 0;
    byId("peers").hidden = this.#peerRows.size === 0;
  }

  /**
   * @param {string} key
   * @param {Record<string, string>} peer
   */
  #createPeerRow(key, peer) {
    const labels = {
      realm: "Realm",
      peer: "Peer",
      address: "Address",
      auto: "Auto",
      state: "State",
      actions: "",
    };
    /** @type {Record<string, HTMLElement>} */
    const cells = {};
    const row = /** @type {HTMLTableRowElement} */ (h("tr", { dataset: { peer: key } }));
    for (const [name, label] of Object.entries(labels)) {
      cells[name] = h("td", {
        dataset: { label, col: name },
        class: name === "actions" ? "actions" : null,
      });
      row.append(cells[name]);
    }
    const button =
      /** @type {HTMLButtonElement} */ (h("button", { type: "button", class: "small" }));
    const entry = { row, cells, button, peer };
    button.addEventListener("click", () => this.#togglePeer(entry));
    cells.actions.append(button);
    return entry;
  }

  /**
   * @param {{ cells: Record<string, HTMLElement>, button: HTMLButtonElement, peer: Record<string, string> }} row
   */
  #fillPeerRow(row) {
    const { peer, cells, button } = row;
    fill(cells.realm, peer.realm_name ?? "", sub(`id ${peer.realm_id}`));
    fill(cells.peer, peer.peer_id ?? "");
    fill(
      cells.address,
      peer.peer_addr === undefined ? "—" : `${peer.peer_addr}:${peer.peer_port}`,
      peer.peer_addr === undefined ? sub("responds only") : null,
    );
    fill(cells.auto, peer.auto ?? "");
    const badge = peer.state === "established" ? "ok" : peer.state === "down" ? "off" : "";
    fill(
      cells.state,
      h("span", { class: `badge ${badge}` }, peer.state ?? ""),
      peer.ike_sa ? sub(`IKE SA #${peer.ike_sa}`) : null,
    );
    if (button.dataset.busy) return;
    const up = peer.state !== "down";
    button.textContent = up ? "Disconnect" : "Connect";
    button.className = up ? "small danger-outline" : "small primary";
    button.disabled = !up && peer.peer_addr === undefined;
    button.setAttribute(
      "aria-label",
      `${up ? "Disconnect" : "Connect"} ${peer.peer_id} (realm ${peer.realm_name})`,
    );
  }

  /**
   * @param {{ cells: Record<string, HTMLElement>, button: HTMLButtonElement, peer: Record<string, string> }} row
   */
  async #togglePeer(row) {
    const { button, peer } = row;
    const up = peer.state !== "down";
    button.disabled = true;
    button.dataset.busy = "yes";
    button.textContent = up ? "Disconnecting…" : "Connecting…";
    try {
      if (up) {
        await this.app.call("close", { realm: peer.realm_id, peer_id: peer.peer_id });
      } else {
        await this.app.call("connect", { realm: peer.realm_id, peer_id: peer.peer_id });
      }
    } catch (e) {
      this.app.reportError(
        e,
        up ? `Cannot disconnect ${peer.peer_id}` : `Cannot connect to ${peer.peer_id}`,
      );
    } finally {
      delete button.dataset.busy;
      this.#fillPeerRow(row);
      this.schedulePeerRefresh();
    }
  }
}
