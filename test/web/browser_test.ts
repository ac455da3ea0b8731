/**
 * The web GUI end to end in Chromium: Debian's build driven by playwright-core, started inside
 * gw1's namespace; the story is runGuiScenario's (_browser_scenario.ts, shared with the Firefox
 * test browser_firefox_test.ts).
 *
 * Screenshots go to test/artifacts/: web-dashboard.png, web-dashboard-phone.png,
 * web-realm-editor.png (with the error), web-realm-saved.png.
 *
 * Needs root (namespaces) and /usr/bin/chromium (`bash scripts/setup.sh` installs it); ignored
 * otherwise.
 */
// Types only: the module is loaded inside the test, since loading it needs permissions (sys) that
// the unprivileged unit-test run does not grant, where this test is ignored anyway.
import type { Page } from "playwright-core";
import { type NetnsLab, requireRoot, withLab } from "../netns/harness.ts";
import {
  type BrowserPage,
  type BrowserUnderTest,
  type PageQuery,
  pageQuery,
  runGuiScenario,
  type Target,
} from "./_browser_scenario.ts";

const CHROMIUM = "/usr/bin/chromium";
/** The flags every Chromium of this project runs with (no sandbox: we are root). */
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

function chromiumMissing(): boolean {
  try {
    return !Deno.statSync(CHROMIUM).isFile;
  } catch {
    return true;
  }
}

/**
 * A launcher that runs Chromium inside `ns`: playwright talks to it over inherited pipes
 * (`--remote-debugging-pipe`), which `ip netns exec` passes through, so the browser's only
 * network is the namespace's.
 */
async function namespaceLauncher(lab: NetnsLab, ns: string): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: `${lab.prefix}-chromium-` });
  lab.onCleanup(() => Deno.remove(dir, { recursive: true }).catch(() => {}));
  const path = `${dir}/chromium-in-${ns}`;
  await Deno.writeTextFile(
    path,
    `#!/bin/sh\nexec ip netns exec ${lab.nsName(ns)} ${CHROMIUM} "$@"\n`,
    { mode: 0o755 },
  );
  return path;
}

/** {@link BrowserPage} over a playwright page. */
function playwrightPage(page: Page): BrowserPage {
  return {
    async goto(url) {
      await page.goto(url);
    },
    type: (text) => page.keyboard.type(text),
    press: (key) => page.keyboard.press(key),
    query: (query: PageQuery) => page.evaluate(pageQuery, query),
    async click(target: Target) {
      const query: PageQuery = { op: "element", target };
      const handle = await page.evaluateHandle(pageQuery, query);
      try {
        const element = handle.asElement();
        if (!element) throw new Error(`Cannot click ${JSON.stringify(target)}: not found`);
        await element.click();
      } finally {
        await handle.dispose();
      }
    },
    async screenshot(path) {
      await page.screenshot({ path, fullPage: true });
    },
    setViewport: (width, height) => page.setViewportSize({ width, height }),
  };
}

const chromium: BrowserUnderTest = {
  name: "chromium",
  async open(lab, ns, listeners) {
    const { chromium } = await import("playwright-core");
    const browser = await chromium.launch({
      executablePath: await namespaceLauncher(lab, ns),
      args: CHROMIUM_ARGS,
      timeout: 30_000,
    });
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.setDefaultTimeout(15_000);
    page.on("pageerror", (e) => listeners.pageError(e.message));
    page.on("console", (m) => {
      if (m.type() === "error") listeners.consoleError(m.text());
    });
    page.on("response", (response) =>
      listeners.response({
        method: response.request().method(),
        url: response.url(),
        status: response.status(),
      }));
    return { page: playwrightPage(page), close: () => browser.close() };
  },
};

Deno.test({
  name:
    "web GUI in Chromium: login, live tunnel, disconnect, realm edit with field errors and save",
  ignore: requireRoot() || chromiumMissing(),
  // playwright's driver keeps a few handles until its process exits.
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    withLab((lab) => runGuiScenario(lab, chromium, { screenshotPrefix: "web-" }), {
      timeoutMs: 90_000,
    }),
});
