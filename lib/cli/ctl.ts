/**
 * `rockhopper ctl`: the command-line client of the management server. It speaks the same bus
 * protocol as the GUI (lib/web/README.md), so scripts and the browser see the same state.
 *
 * Exit status: 0 done, 1 refused or failed (by the server or the VPN), 2 usage error,
 * 3 the server cannot be reached.
 *
 * @example
 * ```sh
 * RHP_PASSWORD=… rockhopper ctl status
 * rockhopper ctl connect --realm branch --peer fqdn:gw2.example.com
 * rockhopper ctl log --follow --level debug
 * ```
 * @module
 */
import { parseArgs } from "node:util";
import { hashPassword } from "../auth/mod.ts";
import { ConfigError, escapeXml, parseAuthConfig, type XmlElement } from "../config/mod.ts";
import {
  attributesOf,
  BusClient,
  BusClientError,
  type BusResponse,
  BusUnreachableError,
  elementToJson,
} from "./ctl_client.ts";

/** Exit statuses of `rockhopper ctl`. */
export const CtlExit = {
  Ok: 0,
  Failed: 1,
  Usage: 2,
  Unreachable: 3,
} as const;

/** Where the client talks to when `--url` and `RHP_URL` are absent. */
export const DEFAULT_CTL_URL = "http://127.0.0.1:32501";

/** The terminal and environment, replaceable in tests. */
export interface CtlIo {
  stdout(text: string): void;
  stderr(text: string): void;
  env(name: string): string | undefined;
  /** Asks for a password (no echo on a terminal); `confirm` asks twice. */
  readPassword(prompt: string, confirm?: boolean): Promise<string>;
  /** Resolves when the user interrupts (Ctrl-C): `log --follow` then closes its session. */
  interrupted(): Promise<void>;
}

const COMMANDS = [
  "status",
  "peers",
  "connect",
  "disconnect",
  "realms",
  "stats",
  "log",
  "hash-password",
] as const;
type Command = typeof COMMANDS[number];

const OPTIONS = {
  url: { type: "string" },
  user: { type: "string" },
  ca: { type: "string" },
  realm: { type: "string" },
  peer: { type: "string" },
  "ike-sa": { type: "string" },
  wait: { type: "string" },
  follow: { type: "boolean", short: "F" },
  level: { type: "string" },
  lines: { type: "string" },
  xml: { type: "boolean" },
  json: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const;

/** The help text of `rockhopper ctl`. */
export function ctlUsage(program = "rockhopper ctl"): string {
  return `Usage: ${program} <command> [options]

Commands:
  status          VPNs (IKE SAs) with their child SAs and traffic counters
  peers           configured peers of the running realms and their state
  connect         start a VPN: --realm R [--peer ID] [--wait SECONDS]
  disconnect      close a VPN: [--realm R] --peer ID, or --ike-sa N
  realms          realms of the configuration and whether they run
  stats           IKE and ESP counters
  log             recent log records; --follow keeps printing new ones
  hash-password   print an <admin> line for auth.xml: [--user U] [--realm any|ID]

Options:
      --url URL        management server (default $RHP_URL or ${DEFAULT_CTL_URL})
      --user U         web user (default $RHP_USER or admin)
      --ca FILE        PEM certificate to trust for an https server
      --realm R        realm id or name
      --peer ID        peer identity, e.g. fqdn:gw2.example.com
      --ike-sa N       IKE SA number as shown by "status"
      --wait SECONDS   connect: wait this long for the outcome (default 10; 0 = do not wait)
  -F, --follow         log: keep printing new records until interrupted
      --level LEVEL    log: error, warn, info, debug or trace (default info)
      --lines N        log: how many recent records to print first (default 50)
      --xml            print the server's XML answers
      --json           print JSON (log --follow: one object per line)
  -h, --help           print this help

The password comes from $RHP_PASSWORD, else it is asked for on the terminal (or read as one
line from standard input).
Exit status: 0 done, 1 refused or failed, 2 usage error, 3 cannot reach the server.`;
}

class CtlUsageError extends Error {}

interface CtlOptions {
  command: Command;
  url: string;
  user: string;
  ca: string | undefined;
  realm: string | undefined;
  peer: string | undefined;
  ikeSa: number | undefined;
  wait: number;
  follow: boolean;
  level: string;
  lines: number;
  output: "table" | "xml" | "json";
}

function wholeNumber(name: string, text: string | undefined, fallback: number, max: number) {
  if (text === undefined) return fallback;
  if (!/^[0-9]{1,10}$/.test(text) || Number(text) > max) {
    throw new CtlUsageError(`--${name} must be a whole number in 0-${max}`);
  }
  return Number(text);
}

function parseCtlArgs(argv: readonly string[], io: CtlIo): CtlOptions | "help" {
  let parsed;
  try {
    parsed = parseArgs({ args: [...argv], options: OPTIONS, allowPositionals: true, strict: true });
  } catch (e) {
    throw new CtlUsageError((e as Error).message.split("\n")[0]!);
  }
  const { values, positionals } = parsed;
  if (values.help) return "help";
  if (positionals.length === 0) throw new CtlUsageError("missing command");
  if (positionals.length > 1) {
    throw new CtlUsageError(`unexpected argument "${positionals[1]}"`);
  }
  const command = positionals[0] as Command;
  if (!(COMMANDS as readonly string[]).includes(command)) {
    throw new CtlUsageError(`unknown command "${command}" (known: ${COMMANDS.join(", ")})`);
  }
  if (values.xml && values.json) throw new CtlUsageError("give --xml or --json, not both");
  const level = values.level ?? "info";
  if (!["error", "warn", "info", "debug", "trace"].includes(level)) {
    throw new CtlUsageError(`--level must be error, warn, info, debug or trace`);
  }
  const options: CtlOptions = {
    command,
    url: values.url ?? io.env("RHP_URL") ?? DEFAULT_CTL_URL,
    user: values.user ?? io.env("RHP_USER") ?? "admin",
    ca: values.ca,
    realm: values.realm,
    peer: values.peer,
    ikeSa: values["ike-sa"] === undefined
      ? undefined
      : wholeNumber("ike-sa", values["ike-sa"], 0, 2 ** 31),
    wait: wholeNumber("wait", values.wait, 10, 60),
    follow: values.follow ?? false,
    level,
    lines: wholeNumber("lines", values.lines, 50, 500),
    output: values.xml ? "xml" : values.json ? "json" : "table",
  };
  try {
    const url = new URL(options.url);
    if (url.protocol !== "http:" && url.protocol !== "https:") throw new TypeError();
  } catch {
    throw new CtlUsageError(`--url "${options.url}" is not an http:// or https:// URL`);
  }
  if (command === "connect" && options.realm === undefined) {
    throw new CtlUsageError("connect needs --realm");
  }
  if (command === "disconnect" && options.peer === undefined && options.ikeSa === undefined) {
    throw new CtlUsageError("disconnect needs --peer (with --realm) or --ike-sa");
  }
  return options;
}

/** Left-aligned columns separated by two spaces. */
export function formatTable(headers: readonly string[], rows: readonly string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]) =>
    cells.map((c, i) => i === cells.length - 1 ? c : c.padEnd(widths[i]!)).join("  ").trimEnd();
  return [line(headers), ...rows.map(line)].join("\n");
}

/** 1536 → "1.5 KiB". */
export function formatBytes(text: string | undefined): string {
  const n = Number(text ?? 0);
  if (n < 1024) return `${n} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let value = n;
  let unit = "B";
  for (const u of units) {
    if (value < 1024) break;
    value /= 1024;
    unit = u;
  }
  return `${value.toFixed(1)} ${unit}`;
}

function formatAge(text: string | undefined): string {
  const s = Number(text ?? 0);
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.floor(s / 60)}m`;
  if (s < 172800) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}

function children(element: XmlElement, name: string): Record<string, string>[] {
  return element.children.filter((c) => c.name === name).map(attributesOf);
}

function statusText(record: XmlElement): string {
  const vpns = record.children.filter((c) => c.name === "vpn");
  if (vpns.length === 0) return "No VPNs.";
  const rows = vpns.map((v) => {
    const a = attributesOf(v);
    return [
      `#${a.ike_sa}`,
      a.realm_name ?? a.realm_id ?? "",
      a.peer_id ?? "",
      `${a.peer_addr}:${a.peer_port}`,
      a.state ?? "",
      a.ike_suite ?? "",
      formatAge(a.age),
      formatBytes(a.rx_bytes),
      formatBytes(a.tx_bytes),
    ];
  });
  const childRows = vpns.flatMap((v) =>
    children(v, "child_sa").map((c) => [
      `#${v.attributes.get("ike_sa")?.value}`,
      c.spi_in ?? "",
      c.spi_out ?? "",
      c.esp_suite ?? "",
      `${c.local_ts} === ${c.remote_ts}`,
      `${formatBytes(c.rx_bytes)} / ${c.rx_packets}`,
      `${formatBytes(c.tx_bytes)} / ${c.tx_packets}`,
      c.rx_dropped ?? "0",
    ])
  );
  const parts = [
    formatTable(
      ["IKE_SA", "REALM", "PEER", "PEER_ADDRESS", "STATE", "IKE_SUITE", "AGE", "RX", "TX"],
      rows,
    ),
  ];
  if (childRows.length > 0) {
    parts.push(
      formatTable(
        [
          "IKE_SA",
          "SPI_IN",
          "SPI_OUT",
          "ESP_SUITE",
          "TRAFFIC",
          "RX BYTES/PACKETS",
          "TX BYTES/PACKETS",
          "RX_DROPPED",
        ],
        childRows,
      ),
    );
  }
  return parts.join("\n\n");
}

function peersText(record: XmlElement): string {
  const peers = children(record, "peer");
  if (peers.length === 0) return "No peers.";
  return formatTable(
    ["REALM", "PEER", "ADDRESS", "AUTO", "STATE", "IKE_SA"],
    peers.map((p) => [
      p.realm_name ?? p.realm_id ?? "",
      p.peer_id ?? "",
      p.peer_addr ? `${p.peer_addr}:${p.peer_port}` : "-",
      p.auto ?? "",
      p.state ?? "",
      p.ike_sa ? `#${p.ike_sa}` : "-",
    ]),
  );
}

function realmsText(record: XmlElement): string {
  const realms = children(record, "realm");
  if (realms.length === 0) return "No realms.";
  return formatTable(
    ["ID", "NAME", "MODE", "ENABLED", "RUNNING", "TUNNEL", "ADDRESS", "PEERS", "VPNS"],
    realms.map((r) => [
      r.id ?? "",
      r.name ?? "",
      r.mode ?? "",
      r.enabled ?? "",
      r.running ?? "",
      r.tunnel_interface ?? "",
      r.address ?? "",
      r.peers ?? "",
      r.vpns ?? "",
    ]),
  );
}

function countersText(title: string, attributes: Record<string, string>): string {
  const names = Object.keys(attributes);
  const width = Math.max(...names.map((n) => n.length));
  return [title, ...names.map((n) => `  ${n.padEnd(width)}  ${attributes[n]}`)].join("\n");
}

function statsText(ike: XmlElement | undefined, esp: XmlElement): string {
  const parts: string[] = [];
  if (ike) {
    for (const c of ike.children) parts.push(countersText(`${c.name}:`, attributesOf(c)));
  }
  for (const realm of esp.children) {
    const a = attributesOf(realm);
    if (realm.name === "data_plane") {
      parts.push(countersText(`ESP data-plane workers:`, a));
      continue;
    }
    const title = realm.name === "total"
      ? `ESP total (${a.realms} realms, ${a.child_sas} child SAs):`
      : `ESP realm ${a.id} (${a.name}, ${a.device}, ${a.child_sas} child SAs):`;
    for (const c of realm.children) {
      parts.push(countersText(`${title} ${c.name}`, attributesOf(c)));
    }
  }
  return parts.join("\n\n");
}

function logLine(record: Record<string, string>): string {
  const tag = record.tag === undefined ? "" : `[${record.tag}]`;
  return `${record.log_time} ${
    (record.level ?? "").padEnd(5)
  } ${record.subsystem}${tag} ${record.message}`;
}

/** Reads one line from standard input (scripts pipe the password in). */
async function readStdinLine(): Promise<string> {
  const decoder = new TextDecoder();
  let text = "";
  const buffer = new Uint8Array(256);
  for (;;) {
    const n = await Deno.stdin.read(buffer);
    if (n === null) break;
    text += decoder.decode(buffer.subarray(0, n), { stream: true });
    if (text.includes("\n")) break;
  }
  return text.split(/\r?\n/)[0]!;
}

/** Reads a password on the terminal without echo. */
async function readHidden(prompt: string): Promise<string> {
  const encoder = new TextEncoder();
  await Deno.stderr.write(encoder.encode(prompt));
  Deno.stdin.setRaw(true);
  let password = "";
  try {
    const buffer = new Uint8Array(1);
    for (;;) {
      const n = await Deno.stdin.read(buffer);
      if (n === null) break;
      const c = buffer[0]!;
      if (c === 3) throw new CtlUsageError("interrupted");
      if (c === 13 || c === 10) break;
      if (c === 127 || c === 8) password = password.slice(0, -1);
      else password += String.fromCharCode(c);
    }
  } finally {
    Deno.stdin.setRaw(false);
    await Deno.stderr.write(encoder.encode("\n"));
  }
  return new TextDecoder().decode(Uint8Array.from(password, (ch) => ch.charCodeAt(0)));
}

/** The real terminal and environment. */
export const DENO_CTL_IO: CtlIo = {
  stdout: (text) => console.log(text),
  stderr: (text) => console.error(text),
  env: (name) => {
    try {
      return Deno.env.get(name);
    } catch {
      return undefined; // no --allow-env: as if unset
    }
  },
  async readPassword(prompt, confirm = false) {
    if (!Deno.stdin.isTerminal()) return await readStdinLine();
    const first = await readHidden(prompt);
    if (confirm && (await readHidden("Again: ")) !== first) {
      throw new CtlUsageError("the two passwords differ");
    }
    return first;
  },
  interrupted() {
    return new Promise((resolve) => {
      const handler = () => {
        Deno.removeSignalListener("SIGINT", handler);
        resolve();
      };
      Deno.addSignalListener("SIGINT", handler);
    });
  },
};

async function hashPasswordCommand(options: CtlOptions, io: CtlIo): Promise<number> {
  const realm = options.realm ?? "any";
  const password = io.env("RHP_PASSWORD") ??
    await io.readPassword(`New password for ${options.user}: `, true);
  if (password.length < 8) {
    io.stderr("rockhopper ctl: the password is shorter than 8 characters");
    return CtlExit.Usage;
  }
  const hash = await hashPassword(password);
  const line = `<admin user="${escapeXml(options.user)}" hash="${hash}" realm="${
    escapeXml(realm)
  }"/>`;
  // The same validation as auth.xml itself, so the line always loads.
  try {
    parseAuthConfig(
      `<rockhopper_auth version="1"><realm id="1"><my_auth method="psk" id="fqdn:x"/></realm>\n${line}\n</rockhopper_auth>`,
      "auth.xml",
    );
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    io.stderr(`rockhopper ctl: ${e.problem}`);
    return CtlExit.Usage;
  }
  io.stdout(line);
  return CtlExit.Ok;
}

function print(io: CtlIo, options: CtlOptions, response: BusResponse, table: () => string) {
  if (options.output === "xml") io.stdout(response.xml.trimEnd());
  else if (options.output === "json") {
    io.stdout(JSON.stringify(elementToJson(response.records[0]!), null, 2));
  } else io.stdout(table());
}

async function followLog(bus: BusClient, options: CtlOptions, io: CtlIo): Promise<void> {
  const abort = new AbortController();
  void io.interrupted().then(() => abort.abort());
  while (!abort.signal.aborted) {
    let response: BusResponse;
    try {
      response = await bus.read(abort.signal);
    } catch (e) {
      if (abort.signal.aborted) return;
      throw e;
    }
    printLogRecords(io, options, response);
  }
}

function printLogRecords(io: CtlIo, options: CtlOptions, response: BusResponse): number {
  let count = 0;
  if (options.output === "xml") {
    if (response.records.length > 0) io.stdout(response.xml.trimEnd());
    return response.records.filter((r) => r.attributes.get("action")?.value === "log_record")
      .length;
  }
  for (const record of response.records) {
    const action = record.attributes.get("action")?.value;
    if (action === "events_lost") {
      io.stderr(`rockhopper ctl: ${record.attributes.get("count")?.value} records were lost`);
      continue;
    }
    if (action !== "log_record") continue;
    count++;
    if (options.output === "json") io.stdout(JSON.stringify(elementToJson(record)));
    else io.stdout(logLine(attributesOf(record)));
  }
  return count;
}

async function runCommand(bus: BusClient, options: CtlOptions, io: CtlIo): Promise<number> {
  const realm = options.realm;
  switch (options.command) {
    case "status": {
      const response = await bus.write("status_vpn", { realm });
      print(io, options, response, () => statusText(response.records[0]!));
      return CtlExit.Ok;
    }
    case "peers": {
      const response = await bus.write("status_vpn_peers", { realm });
      print(io, options, response, () => peersText(response.records[0]!));
      return CtlExit.Ok;
    }
    case "realms": {
      const response = await bus.write("config_enum_realms");
      print(io, options, response, () => realmsText(response.records[0]!));
      return CtlExit.Ok;
    }
    case "connect": {
      const response = await bus.write("connect", {
        realm,
        peer_id: options.peer,
        wait: options.wait,
      });
      const a = attributesOf(response.records[0]!);
      print(
        io,
        options,
        response,
        () =>
          `IKE_SA #${a.ike_sa} with ${a.peer_id} (realm ${a.realm_id}): ${a.state}${
            options.wait > 0 && a.established !== "yes"
              ? ` (not established within ${options.wait} s)`
              : ""
          }`,
      );
      return options.wait > 0 && a.established !== "yes" ? CtlExit.Failed : CtlExit.Ok;
    }
    case "disconnect": {
      const response = await bus.write("close", {
        realm,
        peer_id: options.peer,
        ike_sa: options.ikeSa,
      });
      const closed = response.records[0]!.attributes.get("closed")?.value;
      print(io, options, response, () => `closed ${closed} IKE SA${closed === "1" ? "" : "s"}`);
      return CtlExit.Ok;
    }
    case "stats": {
      let ike: BusResponse | undefined;
      try {
        ike = await bus.write("global_statistics_ikev2");
      } catch (e) {
        // A realm-scoped user sees the data path of its realm only.
        if (!(e instanceof BusClientError && e.code === "forbidden")) throw e;
      }
      const esp = await bus.write("global_statistics_esp");
      if (options.output === "xml") {
        if (ike) io.stdout(ike.xml.trimEnd());
        io.stdout(esp.xml.trimEnd());
      } else if (options.output === "json") {
        io.stdout(JSON.stringify(
          {
            ikev2: ike ? elementToJson(ike.records[0]!) : undefined,
            esp: elementToJson(esp.records[0]!),
          },
          null,
          2,
        ));
      } else {
        io.stdout(statsText(ike?.records[0], esp.records[0]!));
      }
      return CtlExit.Ok;
    }
    case "log": {
      await bus.write("statistics_control", { interval: 0 });
      const control = await bus.write("event_log_control", {
        level: options.level,
        history: options.lines,
      });
      let pending = Number(control.records[0]!.attributes.get("history")?.value ?? 0);
      while (pending > 0) {
        const got = printLogRecords(io, options, await bus.read());
        if (got === 0) break;
        pending -= got;
      }
      if (options.follow) await followLog(bus, options, io);
      return CtlExit.Ok;
    }
    case "hash-password":
      return CtlExit.Usage; // handled before a session is opened
  }
}

/**
 * Runs `rockhopper ctl` with `args` (after "ctl"); resolves to the exit status.
 *
 * @example
 * ```ts
 * Deno.exit(await runCtl(["status", "--json"]));
 * ```
 */
export async function runCtl(args: readonly string[], io: CtlIo = DENO_CTL_IO): Promise<number> {
  let options: CtlOptions | "help";
  try {
    options = parseCtlArgs(args, io);
  } catch (e) {
    if (!(e instanceof CtlUsageError)) throw e;
    io.stderr(`rockhopper ctl: ${e.message}\nTry "rockhopper ctl --help" for the commands.`);
    return CtlExit.Usage;
  }
  if (options === "help") {
    io.stdout(ctlUsage());
    return CtlExit.Ok;
  }
  try {
    if (options.command === "hash-password") return await hashPasswordCommand(options, io);
    let caCerts: string[] | undefined;
    if (options.ca !== undefined) {
      try {
        caCerts = [await Deno.readTextFile(options.ca)];
      } catch (e) {
        throw new CtlUsageError(`cannot read --ca ${options.ca}: ${(e as Error).message}`);
      }
    }
    const password = io.env("RHP_PASSWORD") ??
      await io.readPassword(`Password for ${options.user}: `);
    const bus = new BusClient({
      url: options.url,
      user: options.user,
      password,
      ...(caCerts ? { caCerts } : {}),
    });
    try {
      await bus.open();
      return await runCommand(bus, options, io);
    } finally {
      await bus.close();
    }
  } catch (e) {
    if (e instanceof CtlUsageError) {
      io.stderr(`rockhopper ctl: ${e.message}`);
      return CtlExit.Usage;
    }
    if (e instanceof BusUnreachableError) {
      io.stderr(`rockhopper ctl: ${e.message}`);
      return CtlExit.Unreachable;
    }
    if (e instanceof BusClientError) {
      const where = e.attributes.path ? ` [${e.attributes.path}]` : "";
      io.stderr(`rockhopper ctl: ${e.message}${where} (${e.code}, HTTP ${e.status})`);
      return CtlExit.Failed;
    }
    throw e;
  }
}
