/**
 * Bus documents: `<rhp_http_bus_response>` with its `<rhp_http_bus_record>`s or its
 * `<rhp_http_bus_error>`, and the XML form of the control facade's values (VPNs, child SAs,
 * peers, realms, counters). lib/web/README.md shows every element and attribute.
 */
import type {
  ChildSaStatus,
  IkeStatistics,
  PeerStatus,
  RealmEspStatistics,
  RealmSummary,
  VpnStatus,
} from "../appliance/mod.ts";
import type { LogRecord } from "../log/mod.ts";
import { counterAttributes, type XmlAttributes, XmlWriter } from "./xml_writer.ts";

/** The bus protocol version (`version="1.0"` on requests and responses). */
export const BUS_VERSION = "1.0";
/** The service of every VPN action and event. */
export const SERVICE_VPN = "ui_http_vpn";
/** The service of session records (open, close). */
export const SERVICE_BUS = "http_bus";

/** One `<rhp_http_bus_record>`: `index` is added when the response is written. */
export interface BusRecord {
  service: string;
  action: string;
  attributes: XmlAttributes;
  /** Writes the record's child elements. */
  body?: (writer: XmlWriter) => void;
}

/** The `<rhp_http_bus_error>` of a refused request. */
export interface BusErrorBody {
  code: string;
  message: string;
  attributes?: XmlAttributes;
}

/**
 * Renders a response: records (possibly none: the read timeout answer) or one error.
 *
 * @example
 * ```ts
 * renderResponse(3, []); // '<?xml …?>\n<rhp_http_bus_response version="1.0" serial_no="3"/>\n'
 * ```
 */
export function renderResponse(
  serial: number | undefined,
  records: readonly BusRecord[],
  error?: BusErrorBody,
): string {
  const w = new XmlWriter();
  const root = { version: BUS_VERSION, serial_no: serial };
  if (records.length === 0 && !error) {
    w.empty("rhp_http_bus_response", root);
    return w.toString();
  }
  w.open("rhp_http_bus_response", root);
  if (error) {
    w.empty("rhp_http_bus_error", {
      code: error.code,
      message: error.message,
      ...error.attributes,
    });
  }
  records.forEach((record, index) => {
    const attributes = {
      index,
      service: record.service,
      action: record.action,
      ...record.attributes,
    };
    if (!record.body) {
      w.empty("rhp_http_bus_record", attributes);
      return;
    }
    w.open("rhp_http_bus_record", attributes);
    record.body(w);
    w.close();
  });
  return w.toString();
}

function iso(ms: number | undefined): string | undefined {
  return ms === undefined ? undefined : new Date(ms).toISOString();
}

function seconds(fromMs: number, nowMs: number): number {
  return Math.max(0, Math.floor((nowMs - fromMs) / 1000));
}

function rekeyIn(intervalSeconds: number, fromMs: number | undefined, nowMs: number) {
  if (intervalSeconds <= 0 || fromMs === undefined) return undefined;
  return Math.max(0, intervalSeconds - seconds(fromMs, nowMs));
}

/** Byte and packet totals of a VPN (sum over its child SAs). */
export function vpnTotals(vpn: VpnStatus): XmlAttributes {
  let rxBytes = 0, rxPackets = 0, txBytes = 0, txPackets = 0;
  for (const c of vpn.children) {
    rxBytes += c.rxBytes;
    rxPackets += c.rxPackets;
    txBytes += c.txBytes;
    txPackets += c.txPackets;
  }
  return {
    rx_bytes: rxBytes,
    rx_packets: rxPackets,
    tx_bytes: txBytes,
    tx_packets: txPackets,
  };
}

/** The attributes of `<vpn>`. */
export function vpnAttributes(vpn: VpnStatus, nowMs = Date.now()): XmlAttributes {
  return {
    ike_sa: vpn.ikeSa,
    realm_id: vpn.realmId,
    realm_name: vpn.realmName,
    state: vpn.state,
    initiator: vpn.initiator,
    local_id: vpn.localId,
    peer_id: vpn.peerId,
    local_addr: vpn.local.address,
    local_port: vpn.local.port,
    peer_addr: vpn.remote.address,
    peer_port: vpn.remote.port,
    nat_local: vpn.natLocal,
    nat_remote: vpn.natRemote,
    udp_encap: vpn.udpEncapsulation,
    ike_suite: vpn.ikeSuite,
    spi_i: vpn.spiI,
    spi_r: vpn.spiR,
    created: iso(vpn.createdAt),
    age: seconds(vpn.createdAt, nowMs),
    established: iso(vpn.establishedAt),
    rekey_in: rekeyIn(vpn.rekeyInterval, vpn.establishedAt, nowMs),
    ...vpnTotals(vpn),
  };
}

function spiText(spi: number): string {
  return spi.toString(16).padStart(8, "0");
}

/** The attributes of `<child_sa>`. */
export function childAttributes(child: ChildSaStatus, nowMs = Date.now()): XmlAttributes {
  return {
    spi_in: spiText(child.spiIn),
    spi_out: spiText(child.spiOut),
    esp_suite: child.espSuite,
    local_ts: child.localTs.join(" "),
    remote_ts: child.remoteTs.join(" "),
    udp_encap: child.udpEncapsulation,
    created: iso(child.createdAt),
    age: seconds(child.createdAt, nowMs),
    rekey_in: rekeyIn(child.rekeyInterval, child.createdAt, nowMs),
    rx_bytes: child.rxBytes,
    rx_packets: child.rxPackets,
    tx_bytes: child.txBytes,
    tx_packets: child.txPackets,
    rx_dropped: child.rxDropped,
    tx_dropped: child.txDropped,
  };
}

/** `<vpn …>` with its `<child_sa>` elements. */
export function writeVpn(w: XmlWriter, vpn: VpnStatus, nowMs = Date.now()): void {
  const attributes = vpnAttributes(vpn, nowMs);
  if (vpn.children.length === 0) {
    w.empty("vpn", attributes);
    return;
  }
  w.open("vpn", attributes);
  for (const child of vpn.children) w.empty("child_sa", childAttributes(child, nowMs));
  w.close();
}

/** `<peer …/>` of status_vpn_peers. */
export function writePeer(w: XmlWriter, peer: PeerStatus): void {
  w.empty("peer", {
    realm_id: peer.realmId,
    realm_name: peer.realmName,
    peer_id: peer.id,
    peer_addr: peer.address,
    peer_port: peer.port,
    auto: peer.auto,
    state: peer.state,
    ike_sa: peer.ikeSa,
  });
}

/** `<realm …/>` of config_enum_realms. */
export function writeRealmSummary(w: XmlWriter, realm: RealmSummary): void {
  w.empty("realm", {
    id: realm.id,
    name: realm.name,
    mode: realm.mode,
    enabled: realm.enabled,
    running: realm.running,
    tunnel_interface: realm.tunnelInterface,
    address: realm.address,
    peers: realm.peers,
    vpns: realm.vpns,
  });
}

/** `<realm …><outbound …/><inbound …/></realm>` of global_statistics_esp and statistics. */
export function writeEspRealm(w: XmlWriter, stats: RealmEspStatistics): void {
  w.open("realm", {
    id: stats.realmId,
    name: stats.realmName,
    device: stats.device,
    child_sas: stats.childSas,
  });
  w.empty("outbound", counterAttributes(stats.outbound));
  w.empty("inbound", counterAttributes(stats.inbound));
  w.close();
}

/** Sums of the realms' counters, `<total><outbound/><inbound/></total>`. */
export function writeEspTotal(w: XmlWriter, realms: readonly RealmEspStatistics[]): void {
  const sum = (pick: (r: RealmEspStatistics) => Record<string, number>) => {
    const out: Record<string, number> = {};
    for (const r of realms) {
      for (const [k, v] of Object.entries(pick(r))) out[k] = (out[k] ?? 0) + v;
    }
    return out;
  };
  w.open("total", { realms: realms.length, child_sas: realms.reduce((n, r) => n + r.childSas, 0) });
  w.empty("outbound", counterAttributes(sum((r) => r.outbound)));
  w.empty("inbound", counterAttributes(sum((r) => r.inbound)));
  w.close();
}

/** `<data_plane …/>` of global_statistics_esp and statistics: the data-plane workers. */
export function writeDataPlane(w: XmlWriter, stats: Readonly<Record<string, number>>): void {
  w.empty("data_plane", counterAttributes(stats));
}

/** `<ikev2 …/>` and `<appliance …/>` of global_statistics_ikev2 and statistics. */
export function writeIkeStatistics(w: XmlWriter, stats: IkeStatistics): void {
  w.empty("ikev2", {
    ike_sas: stats.ikeSas,
    established_sas: stats.established,
    connecting_sas: stats.connecting,
    ...counterAttributes(stats.engine),
  });
  w.empty("appliance", counterAttributes(stats.appliance));
}

/** The attributes of a `log_record` event. */
export function logAttributes(record: LogRecord): XmlAttributes {
  return {
    level: record.level,
    subsystem: record.subsystem,
    tag: record.tag,
    log_time: record.time.toISOString(),
    message: record.message,
  };
}
