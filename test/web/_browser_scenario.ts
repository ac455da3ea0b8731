/**
 * The GUI's end-to-end story, written once for every browser: two of our appliances in two
 * namespaces form a tunnel; a browser started inside gw1's namespace (so it reaches gw1's
 * management server on 127.0.0.1:32501 there and nothing else) logs in with the keyboard, sees the
 * tunnel established with live counters, disconnects it, connects it again, and edits the realm:
 * an invalid value shows the loader's message next to the field and leaves the file alone; the
 * fixed value is saved (file rewritten, previous version kept) and applied (the tunnel comes back
 * with the new suite, after the secure process restarted to reload).
 *
 * Each browser test (browser_test.ts: Chromium through playwright-core; browser_firefox_test.ts:
 * Firefox through puppeteer-core and WebDriver BiDi) supplies a {@link BrowserPage} adapter. The
 * adapters do only what needs the automation library (navigation, keyboard, real clicks,
 * screenshots, events); every query runs {@link pageQuery} inside the page, so both browsers are
 * asked the same questions in the same words.
 */
import { assert, assertEquals } from "../_assert.ts";
import { hashPassword } from "../../lib/auth/mod.ts";
import type { NetnsLab } from "../netns/harness.ts";
import { ARTIFACTS_DIR, FailureArtifacts, gatewayPair, GW2_ID } from "../netns/rockhopper_node.ts";

/** Where the browser finds gw1's GUI (inside gw1's namespace). */
export const GUI_URL = "http://127.0.0.1:32501/";
const NEW_IKE_SUITE = "aes128gcm16-prfsha256-ecp256";
const DEFAULT_WAIT_MS = 15_000;

/**
 * Elements of the page: those matching `css` (inside the first match of `within`), narrowed to
 * those whose rendered text contains `text` or matches `pattern`, or whose accessible name
 * (aria-label, else the label of a form field, else the text) is `name` or matches
 * `namePattern`. The first match counts, or the last with `last`.
 */
export interface Target {
  css: string;
  text?: string;
  pattern?: string;
  name?: string;
  namePattern?: string;
  within?: Target;
  last?: boolean;
}

/** A question to the page, answered by {@link pageQuery}. */
export type PageQuery =
  | { op: "count" | "text" | "visible" | "element" | "focusSelect"; target: Target }
  | { op: "attribute"; target: Target; name: string }
  | { op: "focusedId" };

/** One HTTP response the page received. */
export interface ResponseSeen {
  method: string;
  url: string;
  status: number;
}

/** What the automation library must provide; everything else is in the scenario. */
export interface BrowserPage {
  goto(url: string): Promise<void>;
  /** Types into the focused element, key by key. */
  type(text: string): Promise<void>;
  press(key: "Tab" | "Enter"): Promise<void>;
  /** Runs {@link pageQuery} in the page. */
  query(query: PageQuery): Promise<unknown>;
  /** A real (trusted) mouse click on the element `pageQuery({ op: "element", target })` finds. */
  click(target: Target): Promise<void>;
  screenshot(path: string): Promise<void>;
  setViewport(width: number, height: number): Promise<void>;
}

/** Calls the scenario makes into the adapter for what the page reports. */
export interface PageListeners {
  response(response: ResponseSeen): void;
  pageError(message: string): void;
  consoleError(text: string): void;
}

/** What the scenario needs to start one browser. */
export interface BrowserUnderTest {
  /** For messages and screenshot names: "chromium", "firefox". */
  name: string;
  /** Starts the browser inside namespace `ns` of `lab` with one page of 1280×900. */
  open(lab: NetnsLab, ns: string, listeners: PageListeners): Promise<{
    page: BrowserPage;
    close(): Promise<void>;
  }>;
}

/**
 * Answers one {@link PageQuery} inside the page. Self-contained (no imports, no closures): the
 * automation libraries send its source to the browser.
 */
export function pageQuery(query: PageQuery): unknown {
  interface DomElement {
    id: string;
    innerText: string;
    labels?: ArrayLike<DomElement> | null;
    getAttribute(name: string): string | null;
    querySelectorAll(css: string): ArrayLike<DomElement>;
    getClientRects(): ArrayLike<unknown>;
    focus(): void;
    select?: () => void;
  }
  const doc = (globalThis as unknown as {
    document: {
      activeElement: DomElement | null;
      querySelectorAll(css: string): ArrayLike<DomElement>;
    };
  }).document;
  const accessibleName = (e: DomElement): string => {
    const label = e.getAttribute("aria-label");
    if (label !== null) return label.trim();
    const first = e.labels?.[0];
    if (first) return first.innerText.trim();
    return e.innerText.replace(/\s+/g, " ").trim();
  };
  const findAll = (t: Target): DomElement[] => {
    let scope: { querySelectorAll(css: string): ArrayLike<DomElement> } = doc;
    if (t.within) {
      const outer = findAll(t.within);
      const chosen = t.within.last ? outer[outer.length - 1] : outer[0];
      if (!chosen) return [];
      scope = chosen;
    }
    return Array.from(scope.querySelectorAll(t.css)).filter((e) =>
      (t.text === undefined || e.innerText.includes(t.text)) &&
      (t.pattern === undefined || new RegExp(t.pattern).test(e.innerText)) &&
      (t.name === undefined || accessibleName(e) === t.name) &&
      (t.namePattern === undefined || new RegExp(t.namePattern).test(accessibleName(e)))
    );
  };
  if (query.op === "focusedId") return doc.activeElement?.id ?? null;
  const all = findAll(query.target);
  if (query.op === "count") return all.length;
  const element = query.target.last ? all[all.length - 1] : all[0];
  switch (query.op) {
    case "element":
      return element ?? null;
    case "visible":
      return element !== undefined && element.getClientRects().length > 0;
    case "text":
      return element?.innerText ?? null;
    case "attribute":
      return element?.getAttribute(query.name) ?? null;
    case "focusSelect":
      element?.focus();
      element?.select?.();
      return element !== undefined;
  }
}

/** The scenario's view of a page: queries and waits on top of {@link BrowserPage}. */
class Gui {
  readonly page: BrowserPage;
  constructor(page: BrowserPage) {
    this.page = page;
  }

  async text(target: Target): Promise<string> {
    const text = await this.page.query({ op: "text", target });
    if (typeof text !== "string") throw new Error(`Cannot find ${JSON.stringify(target)}`);
    return text;
  }

  async attribute(target: Target, name: string): Promise<string | null> {
    return (await this.page.query({ op: "attribute", target, name })) as string | null;
  }

  async visible(target: Target): Promise<boolean> {
    return (await this.page.query({ op: "visible", target })) === true;
  }

  async count(target: Target): Promise<number> {
    return (await this.page.query({ op: "count", target })) as number;
  }

  async focusedId(): Promise<string | null> {
    return (await this.page.query({ op: "focusedId" })) as string | null;
  }

  /** Polls until `target` is visible (or, with `gone`, until nothing matches it). */
  async waitFor(target: Target, options: { gone?: boolean; timeoutMs?: number } = {}) {
    const deadline = Date.now() + (options.timeoutMs ?? DEFAULT_WAIT_MS);
    for (;;) {
      const done = options.gone ? (await this.count(target)) === 0 : await this.visible(target);
      if (done) return;
      if (Date.now() > deadline) {
        throw new Error(
          `Timed out waiting for ${JSON.stringify(target)} to ${options.gone ? "go" : "show"}`,
        );
      }
      await delay(100);
    }
  }

  /** Polls the text of `target` until it matches `pattern`. */
  async waitForText(target: Target, pattern: RegExp, timeoutMs = DEFAULT_WAIT_MS) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const text = (await this.page.query({ op: "text", target })) as string | null;
      if (text !== null && pattern.test(text)) return text;
      if (Date.now() > deadline) throw new Error(`Timed out waiting for ${pattern}: "${text}"`);
      await delay(100);
    }
  }

  async click(target: Target): Promise<void> {
    await this.waitFor(target);
    await this.page.click(target);
  }

  /** Replaces the value of a form field by typing, as a user would. */
  async fill(target: Target, value: string): Promise<void> {
    await this.waitFor(target);
    if (!(await this.page.query({ op: "focusSelect", target }))) {
      throw new Error(`Cannot find ${JSON.stringify(target)}`);
    }
    await this.page.type(value);
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function randomText(): string {
  return btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(24))));
}

/** `count` 1200-byte pings from gw1's inner address to gw2's, ten per second. */
async function pingThroughTunnel(lab: NetnsLab, count: number) {
  return await lab.exec(
    "gw1",
    [
      "ping",
      "-n",
      "-q",
      "-c",
      String(count),
      "-i",
      "0.1",
      "-s",
      "1200",
      "-I",
      "10.1.0.1",
      "10.2.0.1",
    ],
    { timeoutMs: count * 100 + 10_000 },
  );
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** The dashboard's tunnel row of `peer` (whose text also contains each of `also`). */
function tunnelRow(peer: string, ...also: string[]): Target {
  if (also.length === 0) return { css: "#tunnels tbody tr", text: peer };
  const all = [peer, ...also].map((part) => `(?=[^]*${escapeRegExp(part)})`).join("");
  return { css: "#tunnels tbody tr", pattern: `^${all}` };
}

/** The cell of `row` that says ESTABLISHED. */
function established(row: Target): Target {
  return { css: "td", text: "ESTABLISHED", within: row };
}

/** A button by its accessible name (exact, or matching a pattern), optionally inside `within`. */
function button(name: string | RegExp, within?: Target): Target {
  return {
    css: "button",
    ...(typeof name === "string" ? { name } : { namePattern: name.source }),
    ...(within === undefined ? {} : { within }),
  };
}

/**
 * Runs the story in `browser` inside a lab (the caller's `withLab`). Screenshots go to
 * test/artifacts/ as `<prefix>dashboard.png`, `<prefix>dashboard-phone.png`,
 * `<prefix>realm-editor.png` (with the error) and `<prefix>realm-saved.png`.
 */
export async function runGuiScenario(
  lab: NetnsLab,
  browser: BrowserUnderTest,
  options: { screenshotPrefix: string },
): Promise<void> {
  const shot = (name: string) => `${ARTIFACTS_DIR}${options.screenshotPrefix}${name}.png`;
  const psk = randomText();
  const password = randomText();
  const { gw1, gw2 } = await gatewayPair(lab, psk, {
    gw1: {
      webUsers: [{ user: "admin", hash: await hashPassword(password), realm: "any" }],
      logLevel: "info",
    },
    gw2: { logLevel: "info" },
  });
  const artifacts = new FailureArtifacts(lab, `web-${browser.name}`);
  artifacts.add("gw1", gw1);
  artifacts.add("gw2", gw2);
  await gw2.start();
  await gw1.start();
  await gw1.waitForLog(/management server on http:\/\/127\.0\.0\.1:32501 /);
  await gw1.waitForChildSa();

  // Script errors, CSP violations and failed requests. Expected: 401 for the wrong password and
  // 422 for the refused realm change. Anything else ≥ 400 is a bug, a 5xx included: while the
  // secure process restarts the server answers 503 with Retry-After (or waits), never 500, and
  // the GUI retries a 503 on its own.
  const problems: string[] = [];
  const listeners: PageListeners = {
    response({ method, url, status }) {
      if (status < 400) return;
      const { pathname } = new URL(url);
      const expected = (status === 401 && pathname === "/bus/open") ||
        (status === 422 && pathname.startsWith("/bus/write/")) ||
        (status === 503 && pathname.startsWith("/bus/"));
      if (!expected) problems.push(`${method} ${pathname} → HTTP ${status}`);
    },
    pageError: (message) => problems.push(`page error: ${message}`),
    consoleError(text) {
      // Chromium's "Failed to load resource" lines repeat the responses checked above.
      if (!text.startsWith("Failed to load resource")) problems.push(`console: ${text}`);
    },
  };
  await Deno.mkdir(ARTIFACTS_DIR, { recursive: true });
  const opened = await browser.open(lab, "gw1", listeners);
  lab.onCleanup(() => opened.close().catch(() => {}));
  const gui = new Gui(opened.page);
  const page = opened.page;

  // Login with the keyboard: the user field has focus, Tab to the password, Enter submits.
  await page.goto(GUI_URL);
  await gui.waitFor({ css: "#login-user" });
  assertEquals(await gui.focusedId(), "login-user", "the user field has focus");
  await page.type("admin");
  await page.press("Tab");
  await page.type("not the password");
  await page.press("Enter");
  await gui.waitFor({ css: "#login-error", text: "Wrong user name or password." });
  assertEquals(await gui.focusedId(), "login-password", "the password field has focus again");
  await page.type(password);
  await page.press("Enter");

  // The tunnel is there, established, with gw1's addresses and both suites.
  const row = tunnelRow(GW2_ID);
  await gui.waitFor(established(row));
  const rowText = await gui.text(row);
  for (const part of ["lab", "198.51.100.1:", "10.1.0.0/24 ⇄ 10.2.0.0/24", "aes256gcm16"]) {
    assert(rowText.includes(part), `the tunnel row shows ${part}: ${rowText}`);
  }
  await gui.waitForText({ css: "#link-state" }, /^live$/);
  assertEquals(await gui.text({ css: "#metric-established" }), "1");

  // Traffic through the tunnel moves the counters and the graph (statistics every 1 s).
  let pinged = await pingThroughTunnel(lab, 20);
  assert(/ 0% packet loss/.test(pinged.stdout), pinged.stdout);
  await gui.waitForText({ css: "#metric-tx" }, /kbit\/s|Mbit\/s/);
  await gui.waitForText(
    { css: 'td[data-col="traffic"]', within: row },
    /↑ [\d.]+ KiB \([\d,]+ pkts\)/,
  );

  // Disconnect: the row goes, the peer is down, gw2 hears the delete.
  await gui.click(button(/^Disconnect IKE SA #\d+ with /, row));
  await gui.waitFor(row, { gone: true });
  await gui.waitFor({ css: "#tunnels-empty", text: "No tunnels." });
  await gui.waitFor({
    css: "td",
    text: "down",
    within: { css: "#peers tbody tr", text: GW2_ID },
  });
  await gui.waitFor({ css: "#events li", pattern: "deleted" });
  await gw2.waitForLog(/IKE_SA \S+ with fqdn:gw1\.example\.com deleted/, 10_000);
  assertEquals(await gui.text({ css: "#metric-established" }), "0");

  // Connect from the peer list brings it back; the log and statistics views follow live.
  await gui.click(button(`Connect ${GW2_ID} (realm lab)`));
  await gui.waitFor(established(row));
  await gui.click(button("Log"));
  await gui.waitFor({ css: "#log-table tbody tr", text: "IKE_SA established", last: true });
  await gui.click(button("Statistics"));
  await gui.waitForText({ css: "#stats-ikev2" }, /established sas\s+1\b/);

  // Realm editor: an unknown suite is refused next to its field; the file stays.
  const configPath = `${gw1.dir}/rockhopper.xml`;
  const before = await Deno.readTextFile(configPath);
  await gui.click(button("Realms"));
  await gui.click(button("Edit realm lab"));
  const suites: Target = { css: "input, textarea", name: "IKE suites" };
  await gui.fill(suites, "aes128-sha1-modp1024");
  await gui.click(button("Save"));
  const suitesError: Target = { css: "#rf-ike-suites-error" };
  await gui.waitFor(suitesError);
  const errorText = await gui.text(suitesError);
  assert(errorText.includes('unknown IKE suite "aes128-sha1-modp1024"'), errorText);
  assertEquals(await gui.attribute(suites, "aria-invalid"), "true");
  assert(
    (await gui.attribute(suites, "aria-describedby"))!.split(" ").includes("rf-ike-suites-error"),
    "the error describes the field",
  );
  assertEquals(await gui.focusedId(), "rf-ike-suites", "focus moves to the invalid field");
  assertEquals(await Deno.readTextFile(configPath), before, "a refused change writes nothing");
  await page.screenshot(shot("realm-editor"));

  // Fixed: saved, the file rewritten with the previous version kept, the error gone.
  await gui.fill(suites, NEW_IKE_SUITE);
  await gui.click(button("Save"));
  await gui.waitFor({ css: "#realm-form-status", pattern: "^Saved: realm lab updated;" });
  assert(!(await gui.visible(suitesError)), "the error is gone");
  assertEquals(await gui.attribute(suites, "aria-invalid"), null);
  const after = await Deno.readTextFile(configPath);
  assert(new RegExp(`<ike [^>]*suites="${NEW_IKE_SUITE}"`).test(after), after);
  assertEquals(await Deno.readTextFile(`${configPath}.prev`), before);
  await page.screenshot(shot("realm-saved"));

  // Applied: the realm restarted and its auto="start" peer is back with the new suite.
  await gui.click(button("Dashboard"));
  await gui.waitFor(established(tunnelRow(GW2_ID, NEW_IKE_SUITE)), { timeoutMs: 20_000 });
  assertEquals(await gui.count({ css: "#tunnels tbody tr" }), 1, "the old SA is gone");

  // The dashboard with the new tunnel under load, the events of the story, a phone's view.
  const load = pingThroughTunnel(lab, 70);
  await delay(6000);
  await page.screenshot(shot("dashboard"));
  await page.setViewport(390, 844);
  await delay(300);
  await page.screenshot(shot("dashboard-phone"));
  await page.setViewport(1280, 900);
  pinged = await load;
  assert(/ 0% packet loss/.test(pinged.stdout), pinged.stdout);

  await gui.click(button("Log out"));
  await gui.waitFor({ css: "#login-user" });
  await opened.close();
  assertEquals(problems, [], "no script errors, CSP violations or unexpected HTTP errors");

  await gw1.stop();
  await gw2.stop();
  assert(!(await gw1.logText()).includes(password), "the web password is not logged");
  artifacts.passed();
}
