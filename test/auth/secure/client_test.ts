/**
 * The main process's client: replies matched by id and checked, fast refusal while the secure
 * process is down (a clean AuthUnavailableError, so new SAs fail), recovery when it is back,
 * and the restart schedule.
 */
import { assert, assertEquals } from "../../_assert.ts";
import {
  encodeEvent,
  encodeResult,
  type ReadyInfo,
  RestartPolicy,
  SecureClient,
  SecureProcessUnavailableError,
  SecureRequestError,
  SecureStartError,
} from "../../../lib/auth/secure/mod.ts";
import { AuthUnavailableError } from "../../../lib/auth/mod.ts";
import { type LogRecord, setLogSinks } from "../../../lib/log/mod.ts";
import { IpCommandError } from "../../../lib/net/mod.ts";
import { SysRefusedError } from "../../../lib/sys_control/mod.ts";

const encoder = new TextEncoder();
const INFO: ReadyInfo = {
  pid: 4242,
  uid: 64001,
  view: { file: "/x/auth.xml", realms: [], admins: [] },
  warnings: [],
  files: ["/x/auth.xml"],
};

/** A client whose frames land in `sent`; `answer` feeds bodies back. */
function fakeLink() {
  const sent: { id: number; type: string; args: unknown }[] = [];
  let open = true;
  const lines: string[] = [];
  const previous = setLogSinks([(_r: LogRecord, line: string) => lines.push(line)]);
  const client = new SecureClient({
    send: (frame) => {
      if (!open) return false;
      sent.push(JSON.parse(new TextDecoder().decode(frame.subarray(4))));
      return true;
    },
    timeoutMs: 200,
  });
  return {
    client,
    sent,
    lines,
    answer: (value: unknown) =>
      client.receive(encoder.encode(typeof value === "string" ? value : JSON.stringify(value))),
    setOpen: (value: boolean) => open = value,
    restore: () => setLogSinks(previous),
  };
}

Deno.test("requests are refused until ready, then answered by id with checked results", async () => {
  const link = fakeLink();
  try {
    const early = link.client.request("hasPsk", { realmId: 1, peerId: "fqdn:a" });
    let error = await early.catch((e) => e);
    assert(error instanceof SecureProcessUnavailableError && error instanceof AuthUnavailableError);
    const ready = link.client.waitReady(1000);
    link.answer(encodeEvent({ event: "ready", info: INFO }));
    assertEquals((await ready).pid, 4242);
    const a = link.client.request("hasPsk", { realmId: 1, peerId: "fqdn:a" });
    const b = link.client.request("localMethod", { realmId: 1 });
    assertEquals(link.sent.map((s) => s.type), ["hasPsk", "localMethod"]);
    // Out of order.
    link.answer(encodeResult(link.sent[1]!.id, "cert"));
    link.answer(encodeResult(link.sent[0]!.id, true));
    assertEquals([await a, await b], [true, "cert"]);
    // A result of the wrong type is refused on the main side too.
    const c = link.client.request("computePskAuth", {
      realmId: 1,
      peerId: "fqdn:a",
      prf: "sha256",
      signedOctets: new Uint8Array(3),
    });
    link.answer(encodeResult(link.sent[2]!.id, 12));
    error = await c.catch((e) => e);
    assert(error instanceof SecureRequestError && error.code === "malformed", String(error));
  } finally {
    link.restore();
  }
});

Deno.test("error replies become the errors the in-process services throw", async () => {
  const link = fakeLink();
  try {
    link.answer(encodeEvent({ event: "ready", info: INFO }));
    const cases: [string, new (...a: never[]) => Error][] = [
      ["unavailable", AuthUnavailableError],
      ["refused", SysRefusedError],
      ["command_failed", IpCommandError],
      ["malformed", SecureRequestError],
    ];
    for (const [code, errorClass] of cases) {
      const pending = link.client.request("linkUp", { device: "rhp1" });
      const id = link.sent.at(-1)!.id;
      link.answer({
        id,
        ok: false,
        error: { code, message: `RTNETLINK answers: File exists (${code})` },
      });
      const error = await pending.catch((e) => e);
      assert(error instanceof errorClass, `${code}: ${error}`);
      if (error instanceof IpCommandError) assert(/File exists/.test(error.stderr));
    }
  } finally {
    link.restore();
  }
});

Deno.test("when the secure process goes down, pending and new requests fail at once; they work again after ready", async () => {
  const link = fakeLink();
  try {
    link.answer(encodeEvent({ event: "ready", info: INFO }));
    const pending = link.client.request("verifyWebUser", { user: "admin", password: "pw" });
    link.answer(
      encodeEvent({ event: "down", reason: "the secure process (pid 4242) was killed by SIGKILL" }),
    );
    const error = await pending.catch((e) => e);
    assert(error instanceof SecureProcessUnavailableError);
    assert(error.message.includes("went down before answering"), error.message);
    assertEquals(link.client.up, false);
    const started = performance.now();
    const refused = await link.client.request("hasPsk", { realmId: 1, peerId: "fqdn:a" }).catch((
      e,
    ) => e);
    assert(performance.now() - started < 50, "refused without waiting");
    assert(refused instanceof SecureProcessUnavailableError);
    assert(
      refused.message.includes(
        "the secure process is not running (the secure process (pid 4242) was killed by SIGKILL); new SAs are refused until it is back",
      ),
      refused.message,
    );
    assert(
      link.lines.some((l) =>
        l.includes("refusing hasPsk and every new SA while the secure process is down")
      ),
    );
    let again = false;
    link.client.onReady = (_info, restarted) => again = restarted;
    link.answer(encodeEvent({ event: "ready", info: { ...INFO, pid: 4343 } }));
    assert(again, "the second ready is a restart");
    const ok = link.client.request("hasPsk", { realmId: 1, peerId: "fqdn:a" });
    link.answer(encodeResult(link.sent.at(-1)!.id, false));
    assertEquals(await ok, false);
    assertEquals(link.client.info?.pid, 4343);
  } finally {
    link.restore();
  }
});

Deno.test("a failed start rejects waitReady with the secure process's message", async () => {
  const link = fakeLink();
  try {
    const ready = link.client.waitReady(1000);
    link.answer(
      encodeEvent({ event: "failed", message: "/x/auth.xml:3: <my_auth psk>: too short" }),
    );
    const error = await ready.catch((e) => e);
    assert(error instanceof SecureStartError);
    assertEquals(error.message, "/x/auth.xml:3: <my_auth psk>: too short");
  } finally {
    link.restore();
  }
});

Deno.test("an unanswered request times out; malformed messages are ignored and logged", async () => {
  const link = fakeLink();
  try {
    link.answer(encodeEvent({ event: "ready", info: INFO }));
    link.answer("{not json");
    link.answer({ id: 1, ok: "maybe" });
    assertEquals(link.lines.filter((l) => l.includes("ignored a malformed message")).length, 2);
    const error = await link.client.request("localMethod", { realmId: 1 }).catch((e) => e);
    assert(error instanceof SecureProcessUnavailableError);
    assert(error.message.includes("did not answer within 200 ms"), error.message);
    assertEquals(link.client.pendingCount, 0);
  } finally {
    link.restore();
  }
});

Deno.test("restarts back off from 250 ms and stay within 5 per minute", () => {
  const policy = new RestartPolicy();
  const t0 = 1_000_000;
  const delays: number[] = [];
  let now = t0;
  for (let i = 0; i < 7; i++) {
    const { delayMs } = policy.next(now, 100);
    delays.push(delayMs);
    now += delayMs + 100; // starts, runs 100 ms, dies again
  }
  assertEquals(delays.slice(0, 5), [250, 500, 1000, 2000, 4000]);
  // The sixth waits until the first restart (at t0 + 250) has left the 60 s window.
  const sixthAt = t0 + delays.slice(0, 5).reduce((a, b) => a + b + 100, 0) + delays[5]!;
  assertEquals(sixthAt, t0 + 250 + 60_000);
  assert(delays[6]! >= 8000);
  // A process that ran for a minute starts the doubling afresh.
  assertEquals(policy.next(now + 10 * 60_000, 60_000).delayMs, 250);
});
