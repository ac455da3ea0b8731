/**
 * A real strongSwan charon (5.9.x) as an interop peer inside a lab namespace, set up the way
 * /work/shared/LAB-FACTS.md prescribes:
 *
 * 1. private temp dir with our own `strongswan.conf` (no `/etc/strongswan.d` include) and
 *    `swanctl/swanctl.conf`;
 * 2. `load_modular = no` with an explicit `load` list, `kernel-libipsec` before `kernel-netlink`
 *    (no kernel XFRM here: ESP runs in user space on TUN `ipsec0`, always UDP-encapsulated);
 * 3. charon in its own session (`setsid`) and its own mount namespace with `DIR/run` bound over
 *    `/run` (the pid file path is compiled in), vici socket `unix://DIR/run/charon.vici`;
 * 4. the inner address as a /32 on `lo`, because kernel-libipsec installs table-220 routes whose
 *    `src` lies in the local traffic selector.
 *
 * Every `swanctl` call runs inside the namespace with a timeout.
 *
 * @example
 * ```ts
 * const peer = new StrongSwanPeer(lab, { namespace: "left", localAddress: "198.51.100.1",
 *   remoteAddress: "198.51.100.2", localId: "left.example", remoteId: "right.example",
 *   psk: "secret", localTs: "10.1.0.0/24", remoteTs: "10.2.0.0/24", innerAddress: "10.1.0.1" });
 * await peer.start();
 * await peer.loadConfig();
 * await peer.initiate();
 * ```
 */
import { type ExecResult, NetnsError, type NetnsLab, type NetnsProcess } from "../netns/harness.ts";

/** The charon binary of Debian's strongswan-charon package. */
export const CHARON_PATH = "/usr/lib/ipsec/charon";

/**
 * Plugins loaded in this order; `kernel-libipsec` must precede `kernel-netlink`. `openssl`
 * provides ECP DH and AES-GCM, `gcm`/`aes` are the fallbacks, `curve25519` gives x25519.
 */
export const DEFAULT_PLUGINS: readonly string[] = [
  "random",
  "nonce",
  "openssl",
  "aes",
  "gcm",
  "sha1",
  "sha2",
  "hmac",
  "kdf",
  "curve25519",
  "pem",
  "pkcs1",
  "pkcs8",
  "x509",
  "pubkey",
  "kernel-libipsec",
  "kernel-netlink",
  "socket-default",
  "vici",
];

/**
 * Plugins appended to {@link DEFAULT_PLUGINS} when the peer authenticates with certificates:
 * `revocation` checks the CRLs of `x509crl/`, `constraints` enforces name and path-length
 * constraints (`pem pkcs1 pkcs8 x509 pubkey` are always loaded).
 */
export const CERT_PLUGINS: readonly string[] = ["revocation", "constraints"];

/** charon debug subsystems (`charondebug` names). */
export type CharonLogSubsystem =
  | "dmn"
  | "mgr"
  | "ike"
  | "chd"
  | "job"
  | "cfg"
  | "knl"
  | "net"
  | "asn"
  | "enc"
  | "lib"
  | "esp"
  | "tls"
  | "tnc"
  | "imc"
  | "imv"
  | "pts";

/** Default filelog levels for tests. */
export const DEFAULT_LOG_LEVELS: Readonly<Partial<Record<CharonLogSubsystem, number>>> = {
  ike: 2,
  chd: 2,
  cfg: 2,
  net: 1,
  knl: 1,
};

/** Options of {@link StrongSwanPeer}. */
export interface StrongSwanPeerOptions {
  /** Lab namespace (short name) charon runs in. */
  namespace: string;
  /** Outer address charon uses (`local_addrs`). */
  localAddress: string;
  /** Outer address of the peer (`remote_addrs`); `%any` for a pure responder. */
  remoteAddress: string;
  /** Our IKE identity (e.g. `left.example`, `198.51.100.1`, `user@example`). */
  localId: string;
  /** The peer's IKE identity; `%any` accepts any. */
  remoteId: string;
  /** Pre-shared key (both directions); required unless {@link cert} is set. */
  psk?: string;
  /**
   * Certificate (public key) authentication in both directions instead of the PSK: `auth =
   * pubkey` on both sides, the files copied into this peer's private swanctl directory.
   */
  cert?: StrongSwanCertOptions;
  /**
   * EAP (RFC 7296 §2.16) instead of PSK in one direction; {@link psk} then authenticates the
   * gateway. `client`: charon proves itself with EAP (`local { auth = eap-<method> }`) and
   * checks the gateway's PSK. `server`: charon is the gateway, proves itself with the PSK
   * and runs EAP against `users` (`remote { auth = eap-<method>; eap_id = %any }`).
   */
  eap?: StrongSwanEapOptions;
  /** IKE proposals, default `aes128gcm16-prfsha256-ecp256`. */
  ikeProposals?: string;
  /** ESP proposals, default `aes128gcm16`. */
  espProposals?: string;
  /** Local traffic selector(s), comma separated. */
  localTs: string;
  /** Remote traffic selector(s), comma separated. */
  remoteTs: string;
  /** Inner address put as /32 on `lo` before charon starts (e.g. `10.1.0.1`). */
  innerAddress?: string;
  /** Connection name, default `rh`. */
  connectionName?: string;
  /** Child SA name, default `child`. */
  childName?: string;
  /**
   * `start_action` of the child: none (default), start (initiate on `loadConfig`), or trap.
   * kernel-libipsec 5.9.8 raises no acquire for a trap policy (it logs "could not find an
   * outbound IPsec SA for reqid" and drops the packet), so `trap` never brings a tunnel up.
   */
  startAction?: "none" | "start" | "trap";
  /** IKE SA `rekey_time` (e.g. `4h`, `0` disables); charon's default when absent. */
  ikeRekeyTime?: string;
  /** Child SA `rekey_time`; charon's default when absent. */
  childRekeyTime?: string;
  /** Child SA `life_time` (hard expiry). */
  childLifeTime?: string;
  /** Child SA `rekey_bytes`. */
  childRekeyBytes?: number;
  /** `dpd_delay` (e.g. `10s`); off when absent. */
  dpdDelay?: string;
  /** Child `dpd_action`. */
  dpdAction?: "clear" | "trap" | "restart";
  /** `fragmentation` (default charon's: yes). */
  fragmentation?: "yes" | "accept" | "force" | "no";
  /**
   * `charon.fragment_size`: the largest IP datagram of an IKE fragment charon sends (its
   * default: 1280).
   */
  fragmentSize?: number;
  /** `mobike` (default charon's: yes). */
  mobike?: boolean;
  /** `encap` forces UDP encapsulation (kernel-libipsec fakes NAT detection anyway). */
  encap?: boolean;
  /** `vips` of the connection, e.g. `0.0.0.0`: ask the responder for an inner address. */
  vips?: string;
  /**
   * An address pool this charon lends from as responder (`pools = rh-pool`): `addrs`, and
   * further attributes by swanctl name or number (`dns`, `25` for INTERNAL_DNS_DOMAIN).
   */
  pool?: { addrs: string; attributes?: Readonly<Record<string, string>> };
  /** filelog levels per subsystem, merged over {@link DEFAULT_LOG_LEVELS}. */
  logLevels?: Partial<Record<CharonLogSubsystem, number>>;
  /** Log key material (`ike = 4`, `chd = 4`) so that captures can be decrypted. */
  logKeys?: boolean;
  /** Plugins appended to {@link DEFAULT_PLUGINS} (e.g. `eap-md5`). */
  extraPlugins?: readonly string[];
  /** Extra text placed inside `charon { ... }` of strongswan.conf. */
  extraCharonConfig?: string;
  /** Timeout of each swanctl call, default 20 s. */
  swanctlTimeoutMs?: number;
  /** When set, {@link StrongSwanPeer.stop} copies charon.log here as `<lab prefix>-<ns>-charon.log`. */
  artifactsDir?: string;
}

/** EAP settings of a {@link StrongSwanPeer} (see {@link StrongSwanPeerOptions.eap}). */
export interface StrongSwanEapOptions {
  role: "client" | "server";
  method: "md5" | "mschapv2";
  /** client: our EAP identity (`eap_id`) and password. */
  identity?: string;
  password?: string;
  /** server: the EAP users charon accepts. */
  users?: readonly { name: string; password: string }[];
}

/** Plugins appended when {@link StrongSwanPeerOptions.eap} is set. */
export const EAP_PLUGINS: readonly string[] = ["eap-identity", "eap-md5", "eap-mschapv2"];

/**
 * The credentials of a {@link StrongSwanPeer} that authenticates with a certificate. Files are
 * copied (under their own names, which must therefore differ within one directory) into the
 * peer's swanctl directory, which `swanctl --load-all --file` reads relative to swanctl.conf.
 *
 * @example
 * ```ts
 * const peer = new StrongSwanPeer(lab, { namespace: "swan", localAddress: "203.0.113.2",
 *   remoteAddress: "203.0.113.1", localId: "gw-p256.example.com", remoteId: "gw-rsa.example.com",
 *   cert: { cert: `${pki}/gw-p256.crt`, key: `${pki}/gw-p256.key`,
 *     caCerts: [`${pki}/root.crt`, `${pki}/intermediate.crt`], crls: [`${pki}/intermediate.crl`] },
 *   localTs: "10.2.0.0/24", remoteTs: "10.1.0.0/24", innerAddress: "10.2.0.1" });
 * ```
 */
export interface StrongSwanCertOptions {
  /** Our end-entity certificate (PEM or DER), copied into `x509/` and named in `certs`. */
  cert: string;
  /** Its private key (PKCS#8, PKCS#1 or SEC1; not encrypted), copied into `private/` (0600). */
  key: string;
  /**
   * Trusted CA certificates, copied into `x509ca/`: the roots that anchor the peer's chain and
   * the intermediates charon sends along with its own certificate.
   */
  caCerts: readonly string[];
  /** Revocation lists, copied into `x509crl/` and consulted by the `revocation` plugin. */
  crls?: readonly string[];
  /** The connection's `send_cert`; charon's default (`ifasked`) when absent. */
  sendCert?: "always" | "ifasked" | "never";
  /** `revocation` of the remote side; charon's default (`relaxed`) when absent. */
  revocation?: "strict" | "ifuri" | "relaxed";
}

/** The swanctl sub-directory and file name of every credential of `cert`. */
export function swanctlCredentialFiles(
  cert: StrongSwanCertOptions,
): { source: string; subdir: string; name: string; mode: number }[] {
  const entry = (source: string, subdir: string, mode = 0o644) => ({
    source,
    subdir,
    name: source.slice(source.lastIndexOf("/") + 1),
    mode,
  });
  const files = [
    entry(cert.cert, "x509"),
    entry(cert.key, "private", 0o600),
    ...cert.caCerts.map((file) => entry(file, "x509ca")),
    ...(cert.crls ?? []).map((file) => entry(file, "x509crl")),
  ];
  const seen = new Set<string>();
  for (const file of files) {
    const target = `${file.subdir}/${file.name}`;
    if (seen.has(target)) {
      throw new NetnsError(`Cannot place ${file.source} in swanctl/${target}: name used twice`);
    }
    seen.add(target);
  }
  return files;
}

/** One child SA from `swanctl --list-sas`. */
export interface ChildSaStatus {
  name: string;
  uniqueId: string;
  state: string;
  mode: string;
  protocol: string;
  encap: boolean;
  spiIn: string;
  spiOut: string;
  encrAlg: string;
  encrKeySize: string;
  bytesIn: number;
  bytesOut: number;
  packetsIn: number;
  packetsOut: number;
  localTs: string[];
  remoteTs: string[];
}

/** One IKE SA from `swanctl --list-sas`. */
export interface IkeSaStatus {
  name: string;
  uniqueId: string;
  state: string;
  localHost: string;
  localPort: number;
  remoteHost: string;
  remotePort: number;
  localId: string;
  remoteId: string;
  initiator: boolean;
  initiatorSpi: string;
  responderSpi: string;
  natAny: boolean;
  encrAlg: string;
  prfAlg: string;
  dhGroup: string;
  childSas: ChildSaStatus[];
  /** Inner addresses the peer assigned charon (`local-vips`) and charon the peer (`remote-vips`). */
  localVips: string[];
  remoteVips: string[];
}

/** A nested vici message as printed by `swanctl --raw`. */
export type ViciValue = string | string[] | ViciSection;
/** A vici section. */
export interface ViciSection {
  [key: string]: ViciValue;
}

/**
 * Parses `swanctl --raw` output: `name {key=value list [a b] sub {…}}`, one top-level message
 * per line (e.g. `list-sa event {…}`). Returns the top-level sections in order.
 */
export function parseViciRaw(text: string): ViciSection[] {
  const messages: ViciSection[] = [];
  for (const line of text.split("\n")) {
    const open = line.indexOf("{");
    if (open < 0) continue;
    const tokens = line.slice(open).match(/\{|\}|\[|\]|[^\s{}[\]]+/g) ?? [];
    let at = 0;
    const parseSection = (): ViciSection => {
      const section: ViciSection = {};
      if (tokens[at++] !== "{") {
        throw new SyntaxError(`Cannot parse vici output: "{" expected in ${line}`);
      }
      while (at < tokens.length && tokens[at] !== "}") {
        const token = tokens[at++]!;
        const eq = token.indexOf("=");
        const key = eq >= 0 ? token.slice(0, eq) : token;
        if (tokens[at] === "[" && (eq < 0 || eq === token.length - 1)) {
          // Lists print as `key=[a b]` (5.9.x) or `key [a b]`.
          at++;
          const list: string[] = [];
          while (at < tokens.length && tokens[at] !== "]") list.push(tokens[at++]!);
          at++;
          section[key] = list;
        } else if (eq >= 0) {
          section[key] = token.slice(eq + 1);
        } else if (tokens[at] === "{") {
          section[key] = parseSection();
        } else {
          throw new SyntaxError(`Cannot parse vici output: unexpected "${token}" in ${line}`);
        }
      }
      at++;
      return section;
    };
    messages.push(parseSection());
  }
  return messages;
}

function str(section: ViciSection, key: string): string {
  const v = section[key];
  return typeof v === "string" ? v : "";
}

function list(section: ViciSection, key: string): string[] {
  const v = section[key];
  return Array.isArray(v) ? v : typeof v === "string" ? [v] : [];
}

function sub(section: ViciSection, key: string): ViciSection {
  const v = section[key];
  return typeof v === "object" && !Array.isArray(v) ? v : {};
}

/** Converts the `list-sa` event sections of `swanctl --list-sas --raw` into typed records. */
export function toIkeSaStatuses(messages: readonly ViciSection[]): IkeSaStatus[] {
  const out: IkeSaStatus[] = [];
  for (const message of messages) {
    for (const [name, value] of Object.entries(message)) {
      if (typeof value !== "object" || Array.isArray(value)) continue;
      const ike = value;
      const children = sub(ike, "child-sas");
      out.push({
        name,
        uniqueId: str(ike, "uniqueid"),
        state: str(ike, "state"),
        localHost: str(ike, "local-host"),
        localPort: Number(str(ike, "local-port")),
        remoteHost: str(ike, "remote-host"),
        remotePort: Number(str(ike, "remote-port")),
        localId: str(ike, "local-id"),
        remoteId: str(ike, "remote-id"),
        initiator: str(ike, "initiator") === "yes",
        initiatorSpi: str(ike, "initiator-spi"),
        responderSpi: str(ike, "responder-spi"),
        natAny: str(ike, "nat-any") === "yes",
        encrAlg: str(ike, "encr-alg"),
        prfAlg: str(ike, "prf-alg"),
        dhGroup: str(ike, "dh-group"),
        localVips: list(ike, "local-vips"),
        remoteVips: list(ike, "remote-vips"),
        childSas: Object.values(children).flatMap((c) => {
          if (typeof c !== "object" || Array.isArray(c)) return [];
          return [{
            name: str(c, "name"),
            uniqueId: str(c, "uniqueid"),
            state: str(c, "state"),
            mode: str(c, "mode"),
            protocol: str(c, "protocol"),
            encap: str(c, "encap") === "yes",
            spiIn: str(c, "spi-in"),
            spiOut: str(c, "spi-out"),
            encrAlg: str(c, "encr-alg"),
            encrKeySize: str(c, "encr-keysize"),
            bytesIn: Number(str(c, "bytes-in") || 0),
            bytesOut: Number(str(c, "bytes-out") || 0),
            packetsIn: Number(str(c, "packets-in") || 0),
            packetsOut: Number(str(c, "packets-out") || 0),
            localTs: list(c, "local-ts"),
            remoteTs: list(c, "remote-ts"),
          }];
        }),
      });
    }
  }
  return out;
}

/** A chunk charon dumped to its log at level 4 (`Sk_ei secret`, `encryption initiator key`, ...). */
export interface LoggedChunk {
  label: string;
  bytes: Uint8Array;
}

/**
 * Extracts the chunks charon dumps at log level 4 (`<label> => N bytes @ 0x…` followed by
 * hex-dump lines), in log order.
 */
export function parseLoggedChunks(log: string): LoggedChunk[] {
  const out: LoggedChunk[] = [];
  const lines = log.split("\n").map((line) => line.replace(/^\S+ \d+\[\w+\] (?:<[^>]*> )?/, ""));
  for (let i = 0; i < lines.length; i++) {
    const head = /^(.+?) => (\d+) bytes @ 0x[0-9a-f]+$/.exec(lines[i]!);
    if (head === null) continue;
    const length = Number(head[2]);
    const bytes = new Uint8Array(length);
    let filled = 0;
    while (filled < length && i + 1 < lines.length) {
      const row = /^\s*(\d+): (.*)$/.exec(lines[i + 1]!);
      if (row === null || Number(row[1]) !== filled) break;
      i++;
      for (const pair of row[2]!.slice(0, 48).match(/[0-9A-F]{2}/g) ?? []) {
        if (filled < length) bytes[filled++] = parseInt(pair, 16);
      }
    }
    if (filled === length) out.push({ label: head[1]!, bytes });
  }
  return out;
}

/** Renders the `strongswan.conf` of a peer living in `dir`. */
export function renderStrongSwanConf(dir: string, options: StrongSwanPeerOptions): string {
  const levels: Partial<Record<CharonLogSubsystem, number>> = {
    ...DEFAULT_LOG_LEVELS,
    ...(options.logKeys === true ? { ike: 4, chd: 4 } : {}),
    ...options.logLevels,
  };
  const plugins = [
    ...DEFAULT_PLUGINS,
    ...(options.cert !== undefined ? CERT_PLUGINS : []),
    ...(options.eap !== undefined ? EAP_PLUGINS : []),
    ...(options.extraPlugins ?? []),
  ];
  const levelLines = Object.entries(levels).map(([k, v]) => `        ${k} = ${v}`).join("\n");
  return `# Generated by test/interop/strongswan.ts; deliberately does not include /etc/strongswan.d.
charon {
    load_modular = no
    load = ${plugins.join(" ")}
    port = 500
    port_nat_t = 4500
    install_routes = yes
    filelog {
        test {
            path = ${dir}/charon.log
            time_format = %H:%M:%S
            ike_name = yes
            append = no
            flush_line = yes
            default = 1
${levelLines}
        }
    }
    syslog {
        daemon {
            default = -1
        }
    }
    plugins {
        vici {
            socket = unix://${dir}/run/charon.vici
        }
    }
${options.fragmentSize === undefined ? "" : `    fragment_size = ${options.fragmentSize}\n`}${
    options.extraCharonConfig ?? ""
  }
}
`;
}

/** Renders the `swanctl.conf` of a peer. */
export function renderSwanctlConf(options: StrongSwanPeerOptions): string {
  const conn = options.connectionName ?? "rh";
  const child = options.childName ?? "child";
  const connLines = [
    `version = 2`,
    `local_addrs = ${options.localAddress}`,
    `remote_addrs = ${options.remoteAddress}`,
    `proposals = ${options.ikeProposals ?? "aes128gcm16-prfsha256-ecp256"}`,
  ];
  if (options.ikeRekeyTime !== undefined) connLines.push(`rekey_time = ${options.ikeRekeyTime}`);
  if (options.dpdDelay !== undefined) connLines.push(`dpd_delay = ${options.dpdDelay}`);
  if (options.fragmentation !== undefined) {
    connLines.push(`fragmentation = ${options.fragmentation}`);
  }
  if (options.mobike !== undefined) connLines.push(`mobike = ${options.mobike ? "yes" : "no"}`);
  if (options.encap !== undefined) connLines.push(`encap = ${options.encap ? "yes" : "no"}`);
  if (options.vips !== undefined) connLines.push(`vips = ${options.vips}`);
  if (options.pool !== undefined) connLines.push(`pools = rh-pool`);
  const childLines = [
    `local_ts = ${options.localTs}`,
    `remote_ts = ${options.remoteTs}`,
    `esp_proposals = ${options.espProposals ?? "aes128gcm16"}`,
    `mode = tunnel`,
    `start_action = ${options.startAction ?? "none"}`,
  ];
  if (options.childRekeyTime !== undefined) {
    childLines.push(`rekey_time = ${options.childRekeyTime}`);
  }
  if (options.childLifeTime !== undefined) childLines.push(`life_time = ${options.childLifeTime}`);
  if (options.childRekeyBytes !== undefined) {
    childLines.push(`rekey_bytes = ${options.childRekeyBytes}`);
  }
  if (options.dpdAction !== undefined) childLines.push(`dpd_action = ${options.dpdAction}`);
  const indent = (lines: string[], n: number) => lines.map((l) => " ".repeat(n) + l).join("\n");
  const quote = (s: string) => `"${s.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
  const localLines: string[] = [];
  const remoteLines: string[] = [];
  let secrets = "";
  if (options.cert !== undefined) {
    localLines.push(`auth = pubkey`, `certs = ${swanctlCredentialFiles(options.cert)[0]!.name}`);
    // send_cert is a connection-level setting in swanctl.conf (not one of `local`).
    if (options.cert.sendCert !== undefined) connLines.push(`send_cert = ${options.cert.sendCert}`);
    remoteLines.push(`auth = pubkey`);
    if (options.cert.revocation !== undefined) {
      remoteLines.push(`revocation = ${options.cert.revocation}`);
    }
  } else if (options.eap !== undefined) {
    if (options.psk === undefined) {
      throw new TypeError("Cannot render swanctl.conf: eap needs psk for the gateway");
    }
    const eap = options.eap;
    const gatewayId = eap.role === "client" ? options.remoteId : options.localId;
    const eapSecrets = eap.role === "client"
      ? [{ name: eap.identity ?? options.localId, password: eap.password ?? "" }]
      : eap.users ?? [];
    if (eap.role === "client") {
      localLines.push(`auth = eap-${eap.method}`);
      if (eap.identity !== undefined) localLines.push(`eap_id = ${quote(eap.identity)}`);
      remoteLines.push(`auth = psk`);
    } else {
      localLines.push(`auth = psk`);
      remoteLines.push(`auth = eap-${eap.method}`, `eap_id = %any`);
    }
    secrets = `secrets {
    ike-gateway {
        id = ${quote(gatewayId)}
        secret = ${quote(options.psk)}
    }
${
      eapSecrets.map((u, i) =>
        `    eap-user${i} {
        id = ${quote(u.name)}
        secret = ${quote(u.password)}
    }
`
      ).join("")
    }}
`;
  } else {
    if (options.psk === undefined) {
      throw new TypeError("Cannot render swanctl.conf: neither psk nor cert is set");
    }
    localLines.push(`auth = psk`);
    remoteLines.push(`auth = psk`);
    secrets = `secrets {
    ike-${conn} {
        id-local = ${quote(options.localId)}
        id-remote = ${quote(options.remoteId)}
        secret = ${quote(options.psk)}
    }
}
`;
  }
  localLines.push(`id = ${quote(options.localId)}`);
  remoteLines.push(`id = ${quote(options.remoteId)}`);
  return `# Generated by test/interop/strongswan.ts
connections {
    ${conn} {
${indent(connLines, 8)}
        local {
${indent(localLines, 12)}
        }
        remote {
${indent(remoteLines, 12)}
        }
        children {
            ${child} {
${indent(childLines, 16)}
            }
        }
    }
}
${secrets}${renderPools(options)}`;
}

/** The `pools` section for {@link StrongSwanPeerOptions.pool} ("" without one). */
function renderPools(options: StrongSwanPeerOptions): string {
  if (options.pool === undefined) return "";
  const entries = { addrs: options.pool.addrs, ...options.pool.attributes };
  const lines = Object.entries(entries).map(([k, v]) => `        ${k} = ${v}`).join("\n");
  return `pools {
    rh-pool {
${lines}
    }
}
`;
}

/** One lease of a charon pool (`swanctl --list-pools --leases`). */
export interface PoolLease {
  pool: string;
  address: string;
  identity: string;
  online: boolean;
}

/**
 * A charon daemon in a lab namespace. {@link stop} is registered as a lab cleanup hook, so a
 * failing test never leaks the daemon or its directory.
 */
export class StrongSwanPeer {
  readonly options: StrongSwanPeerOptions;
  readonly #lab: NetnsLab;
  #dir: string | undefined;
  #process: NetnsProcess | undefined;
  #stopped = false;

  constructor(lab: NetnsLab, options: StrongSwanPeerOptions) {
    this.#lab = lab;
    this.options = options;
    lab.onCleanup(() => this.stop());
  }

  /** The private directory (strongswan.conf, swanctl/, run/, charon.log); set by {@link start}. */
  get dir(): string {
    if (this.#dir === undefined) throw new NetnsError("Cannot use strongSwan peer: not started");
    return this.#dir;
  }

  /** The vici URI of this charon. */
  get viciUri(): string {
    return `unix://${this.dir}/run/charon.vici`;
  }

  /** Connection name in swanctl.conf. */
  get connectionName(): string {
    return this.options.connectionName ?? "rh";
  }

  /** Child SA name in swanctl.conf. */
  get childName(): string {
    return this.options.childName ?? "child";
  }

  /** The daemon process (process-group leader), once started. */
  get process(): NetnsProcess | undefined {
    return this.#process;
  }

  /**
   * Writes the configuration, adds the inner address, starts charon and waits until its vici
   * socket answers `swanctl --stats`.
   */
  async start(timeoutMs = 15_000): Promise<void> {
    if (this.#dir !== undefined) {
      throw new NetnsError("Cannot start strongSwan peer: already started");
    }
    // Named after the lab so that scripts/remove_stale_namespaces.sh can tell whose it is.
    const dir = await Deno.makeTempDir({
      prefix: `${this.#lab.prefix}-swan-${this.options.namespace}-`,
    });
    this.#dir = dir;
    await Deno.mkdir(`${dir}/run`);
    await Deno.mkdir(`${dir}/swanctl`);
    await Deno.writeTextFile(`${dir}/strongswan.conf`, renderStrongSwanConf(dir, this.options));
    await Deno.writeTextFile(`${dir}/swanctl/swanctl.conf`, renderSwanctlConf(this.options), {
      mode: 0o600,
    });
    if (this.options.cert !== undefined) {
      for (const file of swanctlCredentialFiles(this.options.cert)) {
        const target = `${dir}/swanctl/${file.subdir}/${file.name}`;
        await Deno.mkdir(`${dir}/swanctl/${file.subdir}`, { recursive: true });
        await Deno.copyFile(file.source, target);
        await Deno.chmod(target, file.mode);
      }
    }
    if (this.options.innerAddress !== undefined) {
      await this.#lab.addAddress(this.options.namespace, `${this.options.innerAddress}/32`, "lo");
    }
    this.#process = this.#lab.spawn(
      this.options.namespace,
      [
        "env",
        `STRONGSWAN_CONF=${dir}/strongswan.conf`,
        "unshare",
        "--mount",
        "--propagation",
        "private",
        "sh",
        "-c",
        `mount --bind '${dir}/run' /run && exec ${CHARON_PATH}`,
      ],
      { logFile: `${dir}/charon.out` },
    );
    const deadline = Date.now() + timeoutMs;
    let last: ExecResult | undefined;
    while (Date.now() < deadline) {
      if (this.#process.exited) {
        throw new NetnsError(
          `Cannot start charon in ${this.options.namespace}: it exited: ${await this
            .#outputTail()}`,
        );
      }
      last = await this.swanctl(["--stats"], { check: false, timeoutMs: 5_000 });
      if (last.code === 0) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new NetnsError(
      `Cannot start charon in ${this.options.namespace}: vici did not answer within ${timeoutMs} ms: ` +
        `${last?.stderr.trim() ?? ""} ${await this.#outputTail()}`,
    );
  }

  /** Runs `swanctl <args> --uri <ours>` inside the namespace; throws on failure unless `check: false`. */
  async swanctl(
    args: readonly string[],
    options: { check?: boolean; timeoutMs?: number } = {},
  ): Promise<ExecResult> {
    const argv = ["swanctl", ...args, "--uri", this.viciUri];
    const result = await this.#lab.exec(this.options.namespace, argv, {
      timeoutMs: options.timeoutMs ?? this.options.swanctlTimeoutMs ?? 20_000,
      env: { STRONGSWAN_CONF: `${this.dir}/strongswan.conf` },
    });
    if (options.check !== false && result.code !== 0) {
      throw new NetnsError(
        `Cannot run "${argv.join(" ")}" in ${this.options.namespace}: exit code ${result.code}: ` +
          `${result.stdout.trim()} ${result.stderr.trim()}`,
        argv,
      );
    }
    return result;
  }

  /** Loads connections and secrets (`swanctl --load-all --file …`). */
  async loadConfig(): Promise<void> {
    await this.swanctl(["--load-all", "--noprompt", "--file", `${this.dir}/swanctl/swanctl.conf`]);
  }

  /** Initiates child `child` (default: ours) and waits for the result (`swanctl --initiate`). */
  async initiate(child: string = this.childName, timeoutSeconds = 15): Promise<ExecResult> {
    return await this.swanctl(
      ["--initiate", "--child", child, "--timeout", String(timeoutSeconds)],
      { timeoutMs: (timeoutSeconds + 5) * 1000 },
    );
  }

  /** Terminates IKE SA `ike` (default: our connection). */
  async terminate(ike: string = this.connectionName, timeoutSeconds = 10): Promise<ExecResult> {
    return await this.swanctl(
      ["--terminate", "--ike", ike, "--timeout", String(timeoutSeconds)],
      { timeoutMs: (timeoutSeconds + 5) * 1000 },
    );
  }

  /** Leases of this charon's pools (`swanctl --list-pools --leases --raw`). */
  async listPoolLeases(): Promise<PoolLease[]> {
    const result = await this.swanctl(["--list-pools", "--leases", "--raw"]);
    const out: PoolLease[] = [];
    for (const message of parseViciRaw(result.stdout)) {
      for (const [pool, value] of Object.entries(message)) {
        if (typeof value !== "object" || Array.isArray(value)) continue;
        for (const lease of Object.values(sub(value, "leases"))) {
          if (typeof lease !== "object" || Array.isArray(lease)) continue;
          out.push({
            pool,
            address: str(lease, "address"),
            identity: str(lease, "identity"),
            online: str(lease, "status") === "online",
          });
        }
      }
    }
    return out;
  }

  /** Current IKE SAs with their child SAs (`swanctl --list-sas --raw`). */
  async listSas(): Promise<IkeSaStatus[]> {
    const result = await this.swanctl(["--list-sas", "--raw", "--noblock"]);
    return toIkeSaStatuses(parseViciRaw(result.stdout));
  }

  /**
   * Polls {@link listSas} until an IKE SA is ESTABLISHED with an INSTALLED child (named
   * `child`, default ours); returns that IKE SA.
   */
  async waitEstablished(child: string = this.childName, timeoutMs = 15_000): Promise<IkeSaStatus> {
    const deadline = Date.now() + timeoutMs;
    let last: IkeSaStatus[] = [];
    while (Date.now() < deadline) {
      last = await this.listSas();
      const ike = last.find((sa) =>
        sa.state === "ESTABLISHED" &&
        sa.childSas.some((c) => c.name === child && c.state === "INSTALLED")
      );
      if (ike !== undefined) return ike;
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new NetnsError(
      `Cannot see an established SA with child ${child} in ${this.options.namespace} within ` +
        `${timeoutMs} ms: ${JSON.stringify(last)}`,
    );
  }

  /** charon's filelog so far ("" before start). */
  async logText(): Promise<string> {
    if (this.#dir === undefined) return "";
    try {
      return await Deno.readTextFile(`${this.#dir}/charon.log`);
    } catch {
      return "";
    }
  }

  /**
   * Key material from the log (needs `logKeys`): every chunk labelled `label`, oldest first,
   * e.g. `"Sk_ei secret"`, `"encryption initiator key"` (ESP: key | 4-byte GCM salt).
   */
  async loggedKeys(label: string): Promise<Uint8Array[]> {
    return parseLoggedChunks(await this.logText()).filter((c) => c.label === label).map((c) =>
      c.bytes
    );
  }

  /** Copies the filelog to `path` (e.g. under test/artifacts/ when a test fails). */
  async saveLog(path: string): Promise<void> {
    await Deno.writeTextFile(path, await this.logText());
  }

  /**
   * Kills charon's process group and removes the private directory (after copying the log to
   * `artifactsDir` when that option is set). Idempotent.
   */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    if (this.#process !== undefined) await this.#process.kill();
    if (this.#dir !== undefined && this.options.artifactsDir !== undefined) {
      const name = `${this.#lab.prefix}-${this.options.namespace}-charon.log`;
      await Deno.mkdir(this.options.artifactsDir, { recursive: true }).catch(() => {});
      await this.saveLog(`${this.options.artifactsDir}/${name}`).catch(() => {});
    }
    if (this.#dir !== undefined) await Deno.remove(this.#dir, { recursive: true }).catch(() => {});
  }

  async #outputTail(): Promise<string> {
    const read = async (name: string) => {
      try {
        return (await Deno.readTextFile(`${this.dir}/${name}`)).split("\n").slice(-15).join("\n");
      } catch {
        return "";
      }
    };
    return `${await read("charon.out")}\n${await read("charon.log")}`.trim();
  }
}

/** The settings both charons of a {@link startCharonPair} share. */
export type CharonPairOptions = Partial<
  Omit<
    StrongSwanPeerOptions,
    | "namespace"
    | "localAddress"
    | "remoteAddress"
    | "localId"
    | "remoteId"
    | "localTs"
    | "remoteTs"
    | "innerAddress"
  >
>;

/**
 * Two charons in namespaces `left` (198.51.100.1, LAN 10.1.0.0/24, inner 10.1.0.1) and `right`
 * (198.51.100.2, 10.2.0.0/24, 10.2.0.1) that already exist and are linked, started with their
 * configuration loaded (nothing initiated yet). The one place that knows the pair's layout.
 */
export async function startCharonPair(
  lab: NetnsLab,
  options: CharonPairOptions = {},
): Promise<{ left: StrongSwanPeer; right: StrongSwanPeer }> {
  const common = { psk: "rockhopper-interop-psk", ...options };
  const left = new StrongSwanPeer(lab, {
    ...common,
    namespace: "left",
    localAddress: "198.51.100.1",
    remoteAddress: "198.51.100.2",
    localId: "left.example.net",
    remoteId: "right.example.net",
    localTs: "10.1.0.0/24",
    remoteTs: "10.2.0.0/24",
    innerAddress: "10.1.0.1",
  });
  const right = new StrongSwanPeer(lab, {
    ...common,
    namespace: "right",
    localAddress: "198.51.100.2",
    remoteAddress: "198.51.100.1",
    localId: "right.example.net",
    remoteId: "left.example.net",
    localTs: "10.2.0.0/24",
    remoteTs: "10.1.0.0/24",
    innerAddress: "10.2.0.1",
  });
  await Promise.all([left.start(), right.start()]);
  await Promise.all([left.loadConfig(), right.loadConfig()]);
  return { left, right };
}
