/**
 * The GUI's entry: login, the bus session and its read loop, navigation and notices.
 *
 * Flow: login → `POST /bus/open` → initial state (status, peers, realms, statistics, log) →
 * read loop (`GET /bus/read/<sid>`, again at once after every answer) → events update the views.
 * A 401 returns to the login screen; `unknown_session` (expired, server restarted) opens a new
 * session and reloads; `events_lost` reloads. Credentials exist only inside the BusClient.
 */
import { BusClient, BusError } from "./bus.js";
import { Dashboard } from "./dashboard.js";
import { byId, h } from "./dom.js";
import { LogView } from "./log.js";
import { RealmsView } from "./realms.js";
import { StatsView } from "./stats.js";

/**
 * What the views use of the application.
 *
 * @typedef {object} App
 * @property {string} scope the user's realm scope (`any` or a realm id)
 * @property {(action: string, attributes?: Record<string, string | number | undefined | null>, child?: Element | null) => Promise<Element>} call
 * @property {(text: string, kind?: string) => void} notify
 * @property {(error: unknown, what: string) => void} reportError
 */

const VIEWS = ["dashboard", "realms", "log", "statistics"];
const NOTICE_MS = 6000;
/** Actions that only read: retried after a server error or a lost connection. */
const READ_ONLY = new Set([
  "status_vpn",
  "status_vpn_peers",
  "global_statistics_ikev2",
  "global_statistics_esp",
  "config_get",
  "config_enum_realms",
]);
const RETRY_DELAYS_MS = [300, 1000];

/** @type {BusClient | null} */
let bus = null;
/** Bumped on every login/logout: a read loop of an older generation stops. */
let generation = 0;
/** @type {AbortController | null} */
let readAbort = null;
/** @type {ReturnType<typeof setInterval> | undefined} */
let ticker;

/** @type {App} */
const app = {
  scope: "any",
  async call(action, attributes = {}, child = null) {
    for (let attempt = 0;; attempt++) {
      if (bus === null) throw new BusError(401, "unauthorized", "Not logged in");
      try {
        return await bus.write(action, attributes, child);
      } catch (e) {
        const transient = e instanceof BusError && (e.status >= 500 || e.status === 0);
        if (transient && READ_ONLY.has(action) && attempt < RETRY_DELAYS_MS.length) {
          await new Promise((resolve) => setTimeout(resolve, RETRY_DELAYS_MS[attempt]));
          continue;
        }
        if (e instanceof BusError && e.status === 401) {
          logout("Your login is no longer valid: please log in again.");
        } else if (e instanceof BusError && e.code === "unknown_session") {
          void reconnect();
        }
        throw e;
      }
    }
  },
  notify,
  reportError(error, what) {
    const message = error instanceof Error ? error.message : String(error);
    notify(`${what}: ${message}`, "bad");
  },
};

const dashboard = new Dashboard(app);
const realms = new RealmsView(app);
const logView = new LogView(app);
const stats = new StatsView(app);

/**
 * A short message at the bottom right (also read by screen readers).
 *
 * @param {string} text
 * @param {string} [kind] "bad" for failures
 */
function notify(text, kind = "") {
  const notice = h("div", { class: `notice ${kind}` }, text);
  byId("notices").append(notice);
  setTimeout(() => notice.remove(), kind === "bad" ? NOTICE_MS * 2 : NOTICE_MS);
}

/**
 * @param {"connecting" | "live" | "offline"} state
 * @param {string} [text]
 */
function setLinkState(state, text = state) {
  const element = byId("link-state");
  if (element.dataset.state === state && element.textContent === text) return;
  element.dataset.state = state;
  element.textContent = text;
}

/**
 * @param {string} view
 * @param {{ focus?: boolean }} [options]
 */
function showView(view, options = {}) {
  if (!VIEWS.includes(view)) view = "dashboard";
  for (const name of VIEWS) {
    byId(`view-${name}`).hidden = name !== view;
    const tab = /** @type {HTMLElement} */ (document.querySelector(`.tab[data-view="${name}"]`));
    if (name === view) tab.setAttribute("aria-current", "page");
    else tab.removeAttribute("aria-current");
  }
  if (location.hash !== `#${view}`) history.replaceState(null, "", `#${view}`);
  if (view === "dashboard") dashboard.graph.draw();
  if (view === "realms") void realms.refreshList();
  if (options.focus) {
    const heading = /** @type {HTMLElement} */ (document.querySelector(`#view-${view} h2`));
    heading.setAttribute("tabindex", "-1");
    heading.focus();
  }
}

/** Loads every view's state from scratch. */
async function loadAll() {
  await app.call("statistics_control", { interval: 1 });
  await Promise.all([dashboard.load(), realms.load(), stats.load()]);
  await logView.start();
}

/**
 * Long poll until logout (or a newer login).
 *
 * @param {number} mine the generation this loop belongs to
 */
async function readLoop(mine) {
  let backoffMs = 500;
  while (mine === generation && bus !== null) {
    try {
      readAbort = new AbortController();
      const records = await bus.read(readAbort.signal);
      if (mine !== generation) return;
      setLinkState("live");
      backoffMs = 500;
      for (const record of records) dispatch(record);
    } catch (e) {
      if (mine !== generation) return;
      if (e instanceof DOMException && e.name === "AbortError") return;
      if (e instanceof BusError && e.status === 401) {
        logout("Your login is no longer valid: please log in again.");
        return;
      }
      if (e instanceof BusError && e.code === "unknown_session") {
        await reconnect();
        continue;
      }
      setLinkState("offline", "reconnecting…");
      await new Promise((resolve) => setTimeout(resolve, backoffMs));
      backoffMs = Math.min(backoffMs * 2, 10_000);
    }
  }
}

/** @type {Promise<void> | null} the reconnect in progress (callers share it) */
let reconnecting = null;

/** Opens a new session after the old one vanished, and reloads everything. */
function reconnect() {
  if (reconnecting === null && bus !== null) {
    reconnecting = reopen().finally(() => {
      reconnecting = null;
    });
  }
  return reconnecting ?? Promise.resolve();
}

async function reopen() {
  if (bus === null) return;
  const mine = generation;
  try {
    setLinkState("connecting", "reconnecting…");
    await bus.open();
    if (mine !== generation) return;
    await loadAll();
    setLinkState("live");
  } catch (e) {
    if (mine !== generation) return;
    if (e instanceof BusError && e.status === 401) {
      logout("Your login is no longer valid: please log in again.");
      return;
    }
    setLinkState("offline", "reconnecting…");
    await new Promise((resolve) => setTimeout(resolve, 2000));
  }
}

/**
 * One event record of the read channel.
 *
 * @param {Element} record
 */
function dispatch(record) {
  const action = record.getAttribute("action");
  switch (action) {
    case "vpn_added":
    case "vpn_established":
    case "vpn_connect_i_error":
    case "vpn_deleted":
      dashboard.onVpnEvent(record);
      if (!byId("view-realms").hidden) void realms.refreshList();
      break;
    case "realm_config_updated":
      dashboard.addEvent(
        record.getAttribute("time") ?? undefined,
        `Realm ${record.getAttribute("realm_name")} ${record.getAttribute("change")} by ${
          record.getAttribute("user")
        }`,
      );
      dashboard.schedulePeerRefresh();
      void realms.onConfigUpdated(record);
      break;
    case "log_record":
      logView.onRecord(record);
      break;
    case "statistics":
      dashboard.onStatistics(record);
      stats.onStatistics(record);
      break;
    case "events_lost":
      notify(`${record.getAttribute("count")} events were lost: reloading`);
      void loadAll().catch((e) => app.reportError(e, "Cannot reload"));
      break;
    default:
      break; // unknown events are ignored (the protocol may grow)
  }
}

/**
 * @param {BusClient} client an opened session
 */
async function startApp(client) {
  bus = client;
  const mine = ++generation;
  app.scope = client.session.realm ?? "any";
  byId("who").textContent = `${client.user} · ${
    app.scope === "any" ? "all realms" : `realm ${app.scope}`
  }`;
  /** @type {HTMLElement} */ (document.querySelector('.tab[data-view="log"]')).hidden =
    app.scope !== "any";
  byId("login-view").hidden = true;
  byId("app-view").hidden = false;
  setLinkState("connecting");
  showView(location.hash.slice(1) || "dashboard");
  ticker = setInterval(() => dashboard.tick(), 1000);
  try {
    await loadAll();
    if (mine === generation) setLinkState("live");
  } catch (e) {
    if (mine === generation) app.reportError(e, "Cannot load the appliance's state");
  }
  if (mine === generation) void readLoop(mine);
}

/**
 * Back to the login screen; closes the session.
 *
 * @param {string} [message] shown on the login screen
 */
function logout(message) {
  if (bus === null) return;
  generation++;
  readAbort?.abort();
  const old = bus;
  bus = null;
  void old.close();
  clearInterval(ticker);
  dashboard.reset();
  realms.closeEditor();
  byId("app-view").hidden = true;
  byId("login-view").hidden = false;
  const error = byId("login-error");
  error.textContent = message ?? "";
  error.hidden = message === undefined;
  /** @type {HTMLInputElement} */ (byId("login-password")).value = "";
  byId("login-user").focus();
}

/**
 * @param {SubmitEvent} event
 */
async function onLogin(event) {
  event.preventDefault();
  const user = /** @type {HTMLInputElement} */ (byId("login-user"));
  const password = /** @type {HTMLInputElement} */ (byId("login-password"));
  const error = byId("login-error");
  const submit = /** @type {HTMLButtonElement} */ (byId("login-submit"));
  error.hidden = true;
  if (user.value === "" || password.value === "") {
    error.textContent = "Enter your user name and password.";
    error.hidden = false;
    (user.value === "" ? user : password).focus();
    return;
  }
  submit.disabled = true;
  submit.textContent = "Logging in…";
  const client = new BusClient(user.value, password.value);
  try {
    await client.open();
    password.value = "";
    await startApp(client);
  } catch (e) {
    const b = e instanceof BusError ? e : null;
    error.textContent = b?.status === 401
      ? "Wrong user name or password."
      : b?.code === "too_many_attempts"
      ? `Too many failed logins: try again in ${b.attributes.retry_after ?? "60"} s.`
      : b?.code === "network"
      ? "Cannot reach the appliance."
      : `Cannot log in: ${e instanceof Error ? e.message : String(e)}`;
    error.hidden = false;
    password.select();
    password.focus();
  } finally {
    submit.disabled = false;
    submit.textContent = "Log in";
  }
}

byId("login-form").addEventListener("submit", (e) => void onLogin(/** @type {SubmitEvent} */ (e)));
byId("logout").addEventListener("click", () => logout());
for (const tab of document.querySelectorAll(".tab")) {
  tab.addEventListener(
    "click",
    () => showView(/** @type {HTMLElement} */ (tab).dataset.view ?? ""),
  );
}
globalThis.addEventListener("hashchange", () => {
  if (bus !== null) showView(location.hash.slice(1), { focus: true });
});
// Close the session when the page goes away (credentials are gone with it anyway).
globalThis.addEventListener("pagehide", () => void bus?.close());
byId("login-user").focus();
