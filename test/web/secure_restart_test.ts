/**
 * Web requests while the secure process restarts. It holds the web users, so every management
 * request is checked through it, and it restarts after each realm change (reload). A request
 * made meanwhile waits for it (bounded) and is answered as usual; one that waited in vain gets
 * 503 with Retry-After — never 500 — and clients (ctl's BusClient, the GUI's bus.js) ask again.
 *
 * Needs permission to start subprocesses (the real secure process, from main.ts); ignored in
 * the unprivileged unit-test run.
 */
import { assert, assertEquals } from "../_assert.ts";
import { RemoteWebUserService, type SecureSide } from "../../lib/auth/secure/mod.ts";
import { busRequestXml } from "../../lib/cli/ctl_client.ts";
import { CAN_RUN, DENO_CONFIG, ENTRY } from "../auth/secure/_fixture.ts";
import { request, waitFor, type WebLab, withLab } from "./_fixture.ts";

const STATUS_VPN = busRequestXml("status_vpn");

/** Starts the real secure process on the lab's files; `started.secure` is it. */
async function startSecure(
  files: { configPath: string; authPath: string },
  started: { secure?: SecureSide },
): Promise<SecureSide> {
  const { SecureSide } = await import("../../lib/auth/secure/mod.ts");
  started.secure = await SecureSide.start({
    configPath: files.configPath,
    authPath: files.authPath,
    logLevel: "info",
    entry: ENTRY,
    denoConfig: DENO_CONFIG,
  });
  return started.secure;
}

/** Opens a bus session with raw HTTP; resolves to its id. */
async function openSession(lab: WebLab): Promise<string> {
  const opened = await request(lab, "POST", "/bus/open");
  assertEquals(opened.status, 200, opened.text);
  return /session_id="([0-9a-f]{32})"/.exec(opened.text)![1]!;
}

Deno.test({
  name: "requests during secure-process restarts wait for it and are answered, none with 500",
  ignore: !CAN_RUN,
  async fn() {
    const started: { secure?: SecureSide } = {};
    try {
      await withLab({
        users: async (files) => (await startSecure(files, started)).webUsers,
      }, async (lab) => {
        const secure = started.secure!;
        const sid = await openSession(lab);
        const statuses = new Map<number, number>();
        // The secure process's down windows, sampled every 5 ms, and each request's span.
        const downs: [number, number][] = [];
        const spans: [number, number][] = [];
        let stop = false;
        const sampler = (async () => {
          while (!stop) {
            const now = performance.now();
            const last = downs[downs.length - 1];
            const wasDown = last !== undefined && last[1] === Infinity;
            if (!secure.client.up && !wasDown) downs.push([now, Infinity]);
            if (secure.client.up && wasDown) last[1] = now;
            await new Promise((r) => setTimeout(r, 5));
          }
        })();
        // Four clients, each one request after the other, for as long as the restarts go on.
        const clients = Array.from({ length: 4 }, async (_, i) => {
          for (let n = 0; !stop; n++) {
            const started = performance.now();
            const answers = [];
            if ((i + n) % 2 === 0) {
              // Open and close a session (each open counts toward the session limit).
              const opened = await request(lab, "POST", "/bus/open");
              answers.push(opened);
              const id = /session_id="([0-9a-f]{32})"/.exec(opened.text)?.[1];
              if (id) answers.push(await request(lab, "DELETE", `/bus/write/${id}`));
            } else {
              answers.push(await request(lab, "PUT", `/bus/write/${sid}`, { body: STATUS_VPN }));
            }
            spans.push([started, performance.now()]);
            for (const { status } of answers) statuses.set(status, (statuses.get(status) ?? 0) + 1);
          }
        });
        const firstPid = secure.pid;
        for (let i = 0; i < 3; i++) {
          await secure.sys.reload();
          await new Promise((r) => setTimeout(r, 150));
        }
        stop = true;
        await Promise.all([sampler, ...clients]);
        assert(secure.pid !== firstPid, "the secure process was restarted");
        assertEquals(downs.length, 3, "three down windows seen");
        const overlapping = spans.filter(([from, to]) =>
          downs.some(([down, up]) => from < up && to > down)
        ).length;
        assert(overlapping >= 3, `requests in flight while it was down: ${overlapping}`);
        assertEquals(
          [...statuses.keys()],
          [200],
          `every request answered 200: ${JSON.stringify([...statuses])}`,
        );
      });
    } finally {
      await started.secure?.close();
    }
  },
});

Deno.test({
  name:
    "a secure process down longer than the wait gets 503 with Retry-After, not counted as a failed login; ctl's client retries through it",
  ignore: !CAN_RUN,
  async fn() {
    const started: { secure?: SecureSide } = {};
    try {
      await withLab({
        // No wait: every check while it is down is refused at once.
        users: async (files) =>
          new RemoteWebUserService((await startSecure(files, started)).client, { waitMs: 0 }),
        failedLogins: { limit: 2, windowMs: 60_000 },
      }, async (lab) => {
        const secure = started.secure!;
        const sid = await openSession(lab);
        // Killed: restarted after the 250 ms back-off (plus the new process's start).
        Deno.kill(secure.pid, "SIGKILL");
        await waitFor(() => !secure.client.up, "the secure process to go down");
        const answers = await Promise.all([
          request(lab, "POST", "/bus/open"),
          request(lab, "PUT", `/bus/write/${sid}`, { body: STATUS_VPN }),
          request(lab, "GET", `/bus/read/${sid}`),
          request(lab, "POST", "/bus/open"),
        ]);
        for (const answer of answers) {
          assertEquals(answer.status, 503, answer.text);
          assertEquals(answer.headers.get("retry-after"), "1");
          assert(answer.text.includes('code="auth_unavailable"'), answer.text);
          assert(answer.text.includes('retry_after="1"'), answer.text);
        }
        // The ctl client (default: retries on 503 + Retry-After) gets its answer.
        const bus = lab.client();
        await bus.open();
        const status = await bus.write("status_vpn");
        assertEquals(status.status, 200);
        assert(secure.client.up, "the secure process is back");
        // The four refusals did not count toward the limit of two failed logins.
        assertEquals((await request(lab, "POST", "/bus/open")).status, 200);
        assert(
          lab.logLines.some((l) => l.includes("cannot check user admin: Cannot verifyWebUser")),
          lab.logLines.join("\n"),
        );
      });
    } finally {
      await started.secure?.close();
    }
  },
});
