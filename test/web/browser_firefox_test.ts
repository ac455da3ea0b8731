/**
 * The web GUI end to end in Firefox: Debian's firefox-esr driven by puppeteer-core over WebDriver
 * BiDi (Firefox's own remote agent; playwright-core would need Playwright's patched Firefox
 * build), started inside gw1's namespace; the story is runGuiScenario's (_browser_scenario.ts,
 * shared with the Chromium test browser_test.ts).
 *
 * BiDi is a WebSocket on 127.0.0.1:<port> of the browser's namespace (Firefox has no pipe
 * transport). The test listens on the same port in its own namespace and carries the one
 * connection into gw1's with `ip netns exec ... bash` and /dev/tcp (see {@link bridgePort}); the
 * same port number keeps the Host header that the remote agent checks right.
 *
 * Screenshots go to test/artifacts/: web-firefox-dashboard.png, web-firefox-dashboard-phone.png,
 * web-firefox-realm-editor.png (with the error), web-firefox-realm-saved.png.
 *
 * Needs root (namespaces) and /usr/bin/firefox-esr (`bash scripts/setup.sh` installs it);
 * ignored otherwise.
 */
// Types only: the module is loaded inside the test (it needs permissions the unprivileged
// unit-test run does not grant, where this test is ignored anyway).
import type { Page } from "puppeteer-core";
import { type NetnsLab, requireRoot, withLab } from "../netns/harness.ts";
import {
  type BrowserPage,
  type BrowserUnderTest,
  type PageQuery,
  pageQuery,
  runGuiScenario,
  type Target,
} from "./_browser_scenario.ts";

const FIREFOX = "/usr/bin/firefox-esr";

function firefoxMissing(): boolean {
  try {
    return !Deno.statSync(FIREFOX).isFile;
  } catch {
    return true;
  }
}

/** A launcher that runs Firefox inside `ns` (its only network is the namespace's). */
async function namespaceLauncher(lab: NetnsLab, ns: string): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: `${lab.prefix}-firefox-` });
  lab.onCleanup(() => Deno.remove(dir, { recursive: true }).catch(() => {}));
  const path = `${dir}/firefox-in-${ns}`;
  await Deno.writeTextFile(
    path,
    `#!/bin/sh\nexec ip netns exec ${lab.nsName(ns)} ${FIREFOX} "$@"\n`,
    { mode: 0o755 },
  );
  return path;
}

/**
 * Listens on 127.0.0.1 (a free port) here and carries each connection to the same port on
 * 127.0.0.1 inside `ns`; resolves to the port. Stops at the lab's cleanup.
 */
function bridgePort(lab: NetnsLab, ns: string): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  const children: Deno.ChildProcess[] = [];
  lab.onCleanup(() => {
    listener.close();
    for (const child of children) {
      try {
        child.kill("SIGKILL");
      } catch {
        // Gone.
      }
    }
  });
  (async () => {
    for await (const connection of listener) {
      const child = new Deno.Command("ip", {
        args: [
          "netns",
          "exec",
          lab.nsName(ns),
          "bash",
          "-c",
          `exec 3<>/dev/tcp/127.0.0.1/${port} && { cat <&3 & exec cat >&3; }`,
        ],
        stdin: "piped",
        stdout: "piped",
        stderr: "null",
      }).spawn();
      children.push(child);
      connection.readable.pipeTo(child.stdin).catch(() => {});
      child.stdout.pipeTo(connection.writable).catch(() => {});
    }
  })().catch(() => {
    // The listener was closed.
  });
  return port;
}

/** {@link BrowserPage} over a puppeteer page. */
function puppeteerPage(page: Page): BrowserPage {
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
      await page.screenshot({ path: path as `${string}.png`, fullPage: true });
    },
    setViewport: (width, height) => page.setViewport({ width, height }),
  };
}

const firefox: BrowserUnderTest = {
  name: "firefox",
  async open(lab, ns, listeners) {
    const { default: puppeteer } = await import("puppeteer-core");
    const browser = await puppeteer.launch({
      browser: "firefox",
      executablePath: await namespaceLauncher(lab, ns),
      debuggingPort: bridgePort(lab, ns),
      headless: true,
      timeout: 30_000,
    });
    const page = await browser.newPage();
    await page.setViewport({ width: 1280, height: 900 });
    page.setDefaultTimeout(15_000);
    page.on("pageerror", (e) => listeners.pageError((e as Error).message ?? String(e)));
    page.on("console", (m) => {
      if (m.type() === "error") listeners.consoleError(m.text());
    });
    page.on("response", (response) =>
      listeners.response({
        method: response.request().method(),
        url: response.url(),
        status: response.status(),
      }));
    return { page: puppeteerPage(page), close: () => browser.close() };
  },
};

Deno.test({
  name: "web GUI in Firefox: login, live tunnel, disconnect, realm edit with field errors and save",
  ignore: requireRoot() || firefoxMissing(),
  // puppeteer's WebSocket and the browser process outlive single steps.
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () =>
    withLab((lab) => runGuiScenario(lab, firefox, { screenshotPrefix: "web-firefox-" }), {
      timeoutMs: 120_000,
    }),
});
