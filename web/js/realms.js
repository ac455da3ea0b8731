/**
 * Realms: the list (`config_enum_realms`) with enable/disable/delete, and the realm editor.
 *
 * The editor is filled from `config_get realm=<id>` (the file as written) and sends the whole
 * `<realm>` with `config_update_realm` (or `config_create_realm`). It edits a copy of the
 * element from the file, so attributes and elements it has no field for are sent back as they
 * were. An empty field leaves the attribute out (the documented default applies). A refusal
 * (`config_invalid`) is shown next to the field named by `path` + `attribute`.
 */
import { attrs, byId, childrenNamed, h } from "./dom.js";

/** @typedef {import("./app.js").App} App */

/**
 * @typedef {object} FieldSpec
 * @property {string} name the attribute
 * @property {string} label
 * @property {string} [placeholder] the default, shown when the field is empty
 * @property {string} [hint]
 * @property {Array<[string, string]>} [options] a <select>: [value, label]; "" = default
 * @property {"ike" | "esp"} [suites] offer the known suites of this kind
 * @property {boolean} [wide] spans the whole row
 * @property {boolean} [fixedOnEdit] read-only when editing an existing realm
 */

/**
 * @typedef {object} GroupSpec
 * @property {string} element `realm` (the start tag) or a child element of `<realm>`
 * @property {string} legend
 * @property {FieldSpec[]} fields
 */

/**
 * Options of a <select>: "" (the default, named) and each value.
 *
 * @param {string} fallback what applies when the attribute is left out
 * @param {...string} values
 * @returns {Array<[string, string]>}
 */
function choices(fallback, ...values) {
  return [
    ["", `default (${fallback})`],
    ...values.map((v) => /** @type {[string, string]} */ ([v, v])),
  ];
}

/**
 * Fields of the editor, in the order of conf/README.md.
 *
 * @type {GroupSpec[]}
 */
const GROUPS = [
  {
    element: "realm",
    legend: "Realm",
    fields: [
      {
        name: "id",
        label: "ID",
        hint: "1–4294967295; auth.xml names the realm by it",
        fixedOnEdit: true,
      },
      { name: "name", label: "Name", hint: "1–64 of A-Z a-z 0-9 _ . -" },
      {
        name: "mode",
        label: "Mode",
        options: [["", "default (l3)"], ["l3", "l3: routed (TUN)"], ["l2", "l2: Ethernet (TAP)"]],
      },
      { name: "enabled", label: "Enabled", options: choices("yes", "yes", "no") },
    ],
  },
  {
    element: "tunnel_interface",
    legend: "Tunnel interface",
    fields: [
      { name: "name", label: "Device name", placeholder: "rhp1" },
      {
        name: "address",
        label: "Inner address",
        placeholder: "10.1.0.1/24",
        hint: "this end's address with prefix length",
      },
      { name: "mtu", label: "MTU", placeholder: "auto", hint: "auto or 576–9000" },
    ],
  },
  {
    element: "ike",
    legend: "IKE SA",
    fields: [
      {
        name: "suites",
        label: "IKE suites",
        placeholder: "aes256gcm16-prfsha384-x25519 aes128gcm16-prfsha256-ecp256",
        suites: "ike",
        wide: true,
      },
      { name: "dpd", label: "Dead peer detection", placeholder: "30s", hint: "duration; 0 = off" },
      {
        name: "dpd_action",
        label: "DPD action",
        options: choices("clear", "clear", "restart", "hold"),
      },
      { name: "rekey", label: "IKE rekey", placeholder: "4h", hint: "duration; 0 = off" },
      { name: "retransmit_timeout", label: "Retransmit timeout", placeholder: "1s" },
      { name: "retransmit_tries", label: "Retransmit tries", placeholder: "5" },
      {
        name: "nat_t",
        label: "NAT traversal",
        options: choices("auto", "auto", "force", "no"),
      },
      { name: "fragmentation", label: "Fragmentation", options: choices("yes", "yes", "no") },
      { name: "mobike", label: "MOBIKE", options: choices("no", "yes", "no") },
    ],
  },
  {
    element: "esp",
    legend: "Child SAs (ESP)",
    fields: [
      {
        name: "suites",
        label: "ESP suites",
        placeholder: "aes256gcm16 aes128gcm16",
        suites: "esp",
        wide: true,
      },
      { name: "rekey", label: "ESP rekey", placeholder: "1h", hint: "duration; 0 = off" },
      {
        name: "replay_window",
        label: "Replay window",
        placeholder: "1024",
        hint: "multiple of 32, 32–4096",
      },
      { name: "pfs", label: "Perfect forward secrecy", options: choices("yes", "yes", "no") },
    ],
  },
  {
    element: "traffic",
    legend: "Traffic selectors",
    fields: [
      {
        name: "local",
        label: "Local networks",
        placeholder: "the tunnel network",
        hint: "prefixes, space separated",
        wide: true,
      },
      {
        name: "remote",
        label: "Remote networks",
        placeholder: "the tunnel network",
        hint: "prefixes, space separated",
        wide: true,
      },
    ],
  },
];

/** @type {FieldSpec[]} */
const PEER_FIELDS = [
  { name: "id", label: "Identity", placeholder: "fqdn:gw2.example.com" },
  { name: "address", label: "Address", hint: "empty: the peer only initiates toward us" },
  { name: "port", label: "IKE port", placeholder: "500" },
  {
    name: "auto",
    label: "Auto",
    options: [["", "default (add)"], ["add", "add: respond only"], ["start", "start: initiate"]],
  },
];

/** Child elements in the order the editor writes them. */
const CHILD_ORDER = ["tunnel_interface", "ike", "esp", "traffic"];

/**
 * @typedef {object} FieldControl
 * @property {HTMLInputElement | HTMLSelectElement} input
 * @property {HTMLElement} error
 * @property {string} describedBy ids of the hint (without the error)
 */

/**
 * @typedef {object} PeerRow
 * @property {number} key stable id for element ids
 * @property {Element | null} original the `<peer>` of the file, or null for a new one
 * @property {HTMLElement} box
 * @property {HTMLElement} title
 * @property {HTMLElement} error row-level error (an element without attribute)
 * @property {Map<string, FieldControl>} fields
 */

export class RealmsView {
  /** @type {{ ike: string[], esp: string[] }} */
  suites = { ike: [], esp: [] };
  /** @type {Element | null} the `<realm>` being edited, as read from the file */
  #original = null;
  /** @type {"update" | "create"} */
  #mode = "update";
  /** @type {Map<string, FieldControl>} `element/attribute` → control */
  #fields = new Map();
  /** @type {Map<string, HTMLElement>} element → its group-level error */
  #groupErrors = new Map();
  /** @type {PeerRow[]} */
  #peers = [];
  #peerCounter = 0;
  #dirty = false;
  #saving = false;

  /**
   * @param {App} app
   */
  constructor(app) {
    this.app = app;
    this.form = /** @type {HTMLFormElement} */ (byId("realm-form"));
    this.form.addEventListener("submit", (e) => {
      e.preventDefault();
      void this.#save();
    });
    this.form.addEventListener("input", () => {
      this.#dirty = true;
    });
    byId("realm-cancel").addEventListener("click", () => this.closeEditor());
    byId("realm-peer-add").addEventListener("click", () => {
      const row = this.#addPeerRow(null);
      this.#dirty = true;
      row.fields.get("id")?.input.focus();
    });
    byId("realm-new").addEventListener("click", () => this.#openCreate());
  }

  /** Loads the realm list (and the suite names for the editor). */
  async load() {
    const [realms, config] = await Promise.all([
      this.app.call("config_enum_realms"),
      this.app.call("config_get"),
    ]);
    const suites = childrenNamed(config, "suites")[0];
    if (suites !== undefined) {
      this.suites = {
        ike: (suites.getAttribute("ike") ?? "").split(" ").filter((s) => s !== ""),
        esp: (suites.getAttribute("esp") ?? "").split(" ").filter((s) => s !== ""),
      };
    }
    this.#renderList(realms);
  }

  /** Reloads the list only. */
  async refreshList() {
    try {
      this.#renderList(await this.app.call("config_enum_realms"));
    } catch (e) {
      this.app.reportError(e, "Cannot list the realms");
    }
  }

  /**
   * A `realm_config_updated` record.
   *
   * @param {Element} record
   */
  async onConfigUpdated(record) {
    await this.refreshList();
    const id = record.getAttribute("realm_id");
    if (this.#mode !== "update" || this.#original === null || this.#saving) return;
    if (this.#original.getAttribute("id") !== id) return;
    if (record.getAttribute("change") === "deleted") {
      this.closeEditor();
      this.app.notify(`Realm ${id} was deleted by ${record.getAttribute("user")}`);
    } else if (!this.#dirty) {
      await this.edit(/** @type {string} */ (id), { quiet: true, keepStatus: true });
    } else {
      this.#status(
        `Realm ${id} was changed by ${record.getAttribute("user")} meanwhile; ` +
          "saving replaces that change.",
        true,
      );
    }
  }

  /** Hides the editor. */
  closeEditor() {
    this.form.hidden = true;
    this.#original = null;
    this.#dirty = false;
  }

  /**
   * Opens the editor on realm `id` (read from the file now).
   *
   * @param {string} id
   * @param {{ quiet?: boolean, keepStatus?: boolean }} [options] quiet: no scrolling and
   *   focusing (a reload under the user's eyes); keepStatus: the status line stays
   */
  async edit(id, options = {}) {
    let config;
    try {
      config = await this.app.call("config_get", { realm: id });
    } catch (e) {
      this.app.reportError(e, `Cannot read realm ${id}`);
      return;
    }
    const realm = childrenNamed(config, "realm")[0];
    if (realm === undefined) {
      this.app.notify(`Realm ${id} is not in the file`, "bad");
      return;
    }
    this.#mode = "update";
    const status = byId("realm-form-status");
    const kept = [status.textContent ?? "", status.classList.contains("failed")];
    this.#open(realm, config.getAttribute("file") ?? "");
    if (options.keepStatus) this.#status(.../** @type {[string, boolean]} */ (kept));
    byId("realm-form-title").textContent = `Edit realm ${realm.getAttribute("name")} (id ${id})`;
    if (!options.quiet) {
      this.form.scrollIntoView({ block: "start" });
      this.#fields.get("realm/name")?.input.focus();
    }
  }

  #openCreate() {
    const doc = document.implementation.createDocument(null, "realm", null);
    const realm = doc.documentElement;
    const used = [...document.querySelectorAll("#realms tbody tr")].map((r) =>
      Number(/** @type {HTMLElement} */ (r).dataset.realmId)
    );
    realm.setAttribute("id", String(Math.max(0, ...used) + 1));
    realm.setAttribute("enabled", "no");
    realm.appendChild(doc.createElement("tunnel_interface"));
    this.#mode = "create";
    this.#open(realm, "");
    byId("realm-form-title").textContent = "New realm";
    this.#status(
      "A new realm starts disabled: enable it after adding its <realm id> with <my_auth> to auth.xml.",
    );
    this.form.scrollIntoView({ block: "start" });
    this.#fields.get("realm/name")?.input.focus();
  }

  /**
   * Fills the form from a `<realm>` element.
   *
   * @param {Element} realm
   * @param {string} file
   */
  #open(realm, file) {
    this.#original = realm;
    this.#dirty = false;
    this.#fields.clear();
    this.#groupErrors.clear();
    this.#peers = [];
    byId("realm-form-file").textContent = file === "" ? "" : `file ${file}`;
    const container = byId("realm-fields");
    container.replaceChildren();
    for (const group of GROUPS) {
      const source = group.element === "realm"
        ? realm
        : childrenNamed(realm, group.element)[0] ?? null;
      const groupError = h("p", {
        class: "field-error",
        id: `rf-${group.element}-group-error`,
        hidden: true,
      });
      this.#groupErrors.set(group.element, groupError);
      const grid = h("div", { class: "field-grid" });
      for (const spec of group.fields) {
        const control = this.#createField(`rf-${group.element}-${spec.name}`, spec, source);
        if (spec.fixedOnEdit && this.#mode === "update") {
          /** @type {HTMLInputElement} */ (control.input).readOnly = true;
        }
        this.#fields.set(`${group.element}/${spec.name}`, control);
        grid.append(/** @type {HTMLElement} */ (control.input.closest(".field")));
      }
      container.append(
        h(
          "fieldset",
          { class: "group", id: `rf-${group.element}` },
          h("legend", {}, group.legend),
          groupError,
          grid,
        ),
      );
    }
    byId("realm-peer-list").replaceChildren();
    for (const peer of childrenNamed(realm, "peer")) this.#addPeerRow(peer);
    this.#clearErrors();
    this.#status("");
    this.form.hidden = false;
  }

  /**
   * One labelled field with its hint and error line.
   *
   * @param {string} id
   * @param {FieldSpec} spec
   * @param {Element | null} source element whose attribute fills the field
   * @returns {FieldControl}
   */
  #createField(id, spec, source) {
    const value = source?.getAttribute(spec.name) ?? "";
    /** @type {HTMLInputElement | HTMLSelectElement} */
    let input;
    if (spec.options !== undefined) {
      const select = /** @type {HTMLSelectElement} */ (h("select", { id, name: spec.name }));
      const options = [...spec.options];
      if (!options.some(([v]) => v === value)) options.push([value, value]);
      for (const [optionValue, label] of options) {
        select.append(h("option", { value: optionValue }, label));
      }
      select.value = value;
      input = select;
    } else {
      input = /** @type {HTMLInputElement} */ (h("input", {
        id,
        name: spec.name,
        value,
        placeholder: spec.placeholder ?? null,
        autocomplete: "off",
        autocapitalize: "none",
        spellcheck: "false",
      }));
    }
    const hints = [];
    if (spec.hint !== undefined) hints.push(spec.hint);
    if (spec.suites !== undefined) {
      const known = this.suites[spec.suites];
      if (known.length > 0) hints.push(`known, space separated: ${known.join(" ")}`);
    }
    const hint = hints.length === 0
      ? null
      : h("span", { class: "hint", id: `${id}-hint` }, hints.join("; "));
    const error = h("p", { class: "field-error", id: `${id}-error`, hidden: true });
    const describedBy = hint === null ? "" : `${id}-hint`;
    if (describedBy !== "") input.setAttribute("aria-describedby", describedBy);
    h(
      "div",
      { class: spec.wide ? "field wide" : "field" },
      h("label", { for: id }, spec.label),
      input,
      error,
      hint,
    );
    return { input, error, describedBy };
  }

  /**
   * @param {Element | null} peer the `<peer>` from the file; null for a new one
   * @returns {PeerRow}
   */
  #addPeerRow(peer) {
    const key = ++this.#peerCounter;
    const title = h("h4", {});
    const error = h("p", { class: "field-error", id: `rf-peer${key}-error`, hidden: true });
    const grid = h("div", { class: "field-grid" });
    /** @type {Map<string, FieldControl>} */
    const fields = new Map();
    for (const spec of PEER_FIELDS) {
      const control = this.#createField(`rf-peer${key}-${spec.name}`, spec, peer);
      fields.set(spec.name, control);
      grid.append(/** @type {HTMLElement} */ (control.input.closest(".field")));
    }
    const remove = h("button", { type: "button", class: "small danger-outline" }, "Remove");
    const box = h(
      "div",
      { class: "peer-row", role: "group", "aria-labelledby": `rf-peer${key}-title` },
      h("div", { class: "card-head" }, title, remove),
      error,
      grid,
    );
    title.id = `rf-peer${key}-title`;
    /** @type {PeerRow} */
    const row = { key, original: peer, box, title, error, fields };
    remove.addEventListener("click", () => {
      const index = this.#peers.indexOf(row);
      this.#peers.splice(index, 1);
      box.remove();
      this.#dirty = true;
      this.#numberPeers();
      byId("realm-peer-add").focus();
    });
    this.#peers.push(row);
    byId("realm-peer-list").append(box);
    this.#numberPeers();
    return row;
  }

  #numberPeers() {
    this.#peers.forEach((row, i) => {
      row.title.textContent = `Peer ${i + 1}`;
    });
  }

  /**
   * The `<realm>` to send: a copy of the file's element with the fields applied.
   *
   * @returns {Element}
   */
  #buildRealm() {
    const realm = /** @type {Element} */ (/** @type {Element} */ (this.#original).cloneNode(true));
    const doc = /** @type {Document} */ (realm.ownerDocument);
    /**
     * @param {Element} element
     * @param {string} name
     * @param {string} value
     */
    const put = (element, name, value) => {
      const trimmed = value.trim();
      if (trimmed === "") element.removeAttribute(name);
      else element.setAttribute(name, trimmed);
    };
    for (const group of GROUPS) {
      let element = group.element === "realm"
        ? realm
        : childrenNamed(realm, group.element)[0] ?? null;
      if (element === null) element = doc.createElement(group.element);
      for (const spec of group.fields) {
        const control = this.#fields.get(`${group.element}/${spec.name}`);
        if (control !== undefined) put(element, spec.name, control.input.value);
      }
      if (group.element !== "realm" && element.parentNode === null) {
        if (element.attributes.length > 0) realm.appendChild(element);
      } else if (
        group.element !== "realm" && group.element !== "tunnel_interface" &&
        element.attributes.length === 0 && element.children.length === 0
      ) {
        element.remove(); // an empty optional element means "all defaults"
      }
    }
    for (const peer of childrenNamed(realm, "peer")) peer.remove();
    for (const row of this.#peers) {
      const peer = row.original === null
        ? doc.createElement("peer")
        : /** @type {Element} */ (doc.importNode(row.original, true));
      for (const [name, control] of row.fields) put(peer, name, control.input.value);
      realm.appendChild(peer);
    }
    // Known elements in the documented order, then anything else as it was.
    const rank = (/** @type {Element} */ e) => {
      const i = CHILD_ORDER.indexOf(e.localName);
      return i >= 0 ? i : e.localName === "peer" ? CHILD_ORDER.length : CHILD_ORDER.length + 1;
    };
    const children = Array.from(realm.children).sort((a, b) => rank(a) - rank(b));
    realm.replaceChildren(...children);
    return realm;
  }

  async #save() {
    if (this.#original === null || this.#saving) return;
    const button = /** @type {HTMLButtonElement} */ (byId("realm-save"));
    this.#clearErrors();
    this.#saving = true;
    button.disabled = true;
    this.#status("Saving…");
    const realm = this.#buildRealm();
    const action = this.#mode === "create" ? "config_create_realm" : "config_update_realm";
    try {
      const record = await this.app.call(action, {}, realm);
      const a = attrs(record);
      const warnings = childrenNamed(record, "warning").map((w) => w.getAttribute("message"));
      const what = a.change === "unchanged"
        ? "Nothing changed: the file is as it was."
        : `Saved: realm ${a.realm_name} ${a.change}; ${a.file} rewritten (previous version in ${a.previous}).`;
      this.#dirty = false;
      await this.edit(a.realm_id, { quiet: true });
      this.#status([what, ...warnings.map((w) => `Warning: ${w}`)].join(" "));
      await this.refreshList();
    } catch (e) {
      this.#showFailure(e);
    } finally {
      this.#saving = false;
      button.disabled = false;
    }
  }

  /**
   * Puts a refusal next to its field (config_invalid) or above the form.
   *
   * @param {unknown} e
   */
  #showFailure(e) {
    const error =
      /** @type {{ code?: string, message?: string, attributes?: Record<string, string> }} */ (e);
    const a = error.attributes ?? {};
    /** @type {HTMLElement | null} */
    let focus = null;
    if (error.code === "config_invalid" && a.path !== undefined) {
      focus = this.#showFieldError(a.path, a.attribute, a.problem ?? error.message ?? "");
    }
    if (focus === null) {
      const box = byId("realm-form-error");
      box.textContent = error.message ?? String(e);
      box.hidden = false;
      focus = box;
      box.setAttribute("tabindex", "-1");
    }
    this.#status(
      error.code === "config_invalid"
        ? "Not saved: the file would not load; see the message at the field."
        : "Not saved.",
      true,
    );
    focus.focus();
  }

  /**
   * @param {string} path `realm`, `realm/ike`, `realm/peer[2]`
   * @param {string | undefined} attribute
   * @param {string} problem
   * @returns {HTMLElement | null} what to focus, null when the path names nothing of the form
   */
  #showFieldError(path, attribute, problem) {
    const match = /^realm(?:\/([a-z_]+)(?:\[(\d+)\])?)?$/.exec(path);
    if (match === null) return null;
    const element = match[1] ?? "realm";
    /** @type {FieldControl | undefined} */
    let control;
    /** @type {HTMLElement | undefined} */
    let fallback;
    if (element === "peer") {
      const row = this.#peers[Number(match[2] ?? "1") - 1];
      if (row === undefined) return null;
      control = attribute === undefined ? undefined : row.fields.get(attribute);
      fallback = row.error;
    } else {
      control = attribute === undefined ? undefined : this.#fields.get(`${element}/${attribute}`);
      fallback = this.#groupErrors.get(element);
    }
    if (control !== undefined) {
      control.error.textContent = problem;
      control.error.hidden = false;
      control.input.setAttribute("aria-invalid", "true");
      control.input.setAttribute(
        "aria-describedby",
        [control.error.id, control.describedBy].filter((s) => s !== "").join(" "),
      );
      return control.input;
    }
    if (fallback === undefined) return null;
    fallback.textContent = attribute === undefined ? problem : `${attribute}: ${problem}`;
    fallback.hidden = false;
    fallback.setAttribute("tabindex", "-1");
    return fallback;
  }

  #clearErrors() {
    const all = [...this.#fields.values(), ...this.#peers.flatMap((p) => [...p.fields.values()])];
    for (const control of all) {
      control.error.hidden = true;
      control.error.textContent = "";
      control.input.removeAttribute("aria-invalid");
      if (control.describedBy === "") control.input.removeAttribute("aria-describedby");
      else control.input.setAttribute("aria-describedby", control.describedBy);
    }
    for (const error of [...this.#groupErrors.values(), ...this.#peers.map((p) => p.error)]) {
      error.hidden = true;
      error.textContent = "";
    }
    const box = byId("realm-form-error");
    box.hidden = true;
    box.textContent = "";
  }

  /**
   * @param {string} text
   * @param {boolean} [failed]
   */
  #status(text, failed = false) {
    const status = byId("realm-form-status");
    status.textContent = text;
    status.classList.toggle("failed", failed);
  }

  /**
   * @param {Element} record the `config_enum_realms` record
   */
  #renderList(record) {
    const body = /** @type {HTMLTableSectionElement} */ (byId("realms").querySelector("tbody"));
    const anyScope = this.app.scope === "any";
    const rows = childrenNamed(record, "realm").map((element) => {
      const realm = attrs(element);
      const state = realm.enabled !== "yes"
        ? h("span", { class: "badge off" }, "disabled")
        : realm.running === "yes"
        ? h("span", { class: "badge ok" }, "running")
        : h("span", { class: "badge bad" }, "not running");
      const cell = (/** @type {string} */ label, /** @type {Node | string} */ content) =>
        h("td", { dataset: { label } }, content);
      const edit = h("button", {
        type: "button",
        class: "small",
        "aria-label": `Edit realm ${realm.name}`,
        onclick: () => void this.edit(realm.id),
      }, "Edit");
      const toggle = h("button", {
        type: "button",
        class: "small",
        "aria-label": `${realm.enabled === "yes" ? "Disable" : "Enable"} realm ${realm.name}`,
        onclick: () =>
          void this.#simpleChange(
            realm.enabled === "yes" ? "config_disable_realm" : "config_enable_realm",
            realm,
          ),
      }, realm.enabled === "yes" ? "Disable" : "Enable");
      const remove = anyScope
        ? h("button", {
          type: "button",
          class: "small danger-outline",
          "aria-label": `Delete realm ${realm.name}`,
          onclick: (/** @type {Event} */ e) =>
            this.#confirmDelete(/** @type {HTMLButtonElement} */ (e.currentTarget), realm),
        }, "Delete")
        : null;
      return h(
        "tr",
        { dataset: { realmId: realm.id } },
        cell("ID", realm.id),
        cell("Name", realm.name),
        cell("Mode", realm.mode),
        cell("State", state),
        cell("Device", realm.tunnel_interface),
        cell("Address", realm.address),
        cell("Peers", realm.peers),
        cell("VPNs", realm.vpns),
        h("td", { class: "actions", dataset: { label: "" } }, edit, toggle, remove),
      );
    });
    // Keep focus on the same button when the list is rebuilt under it.
    const active = document.activeElement;
    const activeLabel = active instanceof HTMLButtonElement && body.contains(active)
      ? active.getAttribute("aria-label")
      : null;
    body.replaceChildren(...rows);
    if (activeLabel !== null) {
      /** @type {HTMLButtonElement | null} */ (body.querySelector(
        `button[aria-label="${CSS.escape(activeLabel)}"]`,
      ))?.focus();
    }
    byId("realms-empty").hidden = rows.length > 0;
    byId("realm-new").hidden = !anyScope;
  }

  /**
   * Enable or disable.
   *
   * @param {string} action
   * @param {Record<string, string>} realm
   */
  async #simpleChange(action, realm) {
    try {
      const record = await this.app.call(action, { realm: realm.id });
      this.app.notify(`Realm ${realm.name}: ${record.getAttribute("change")}`);
    } catch (e) {
      this.app.reportError(e, `Cannot change realm ${realm.name}`);
    }
    await this.refreshList();
  }

  /**
   * First click arms the button, the second deletes.
   *
   * @param {HTMLButtonElement} button
   * @param {Record<string, string>} realm
   */
  #confirmDelete(button, realm) {
    if (button.dataset.armed !== "yes") {
      button.dataset.armed = "yes";
      button.textContent = "Confirm delete";
      button.setAttribute("aria-label", `Confirm: delete realm ${realm.name}`);
      setTimeout(() => {
        if (!button.isConnected) return;
        delete button.dataset.armed;
        button.textContent = "Delete";
        button.setAttribute("aria-label", `Delete realm ${realm.name}`);
      }, 5000);
      return;
    }
    void this.#simpleChange("config_delete_realm", realm);
  }
}
