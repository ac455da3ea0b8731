/**
 * Packet capture for lab tests: tcpdump inside a lab namespace writes a classic pcap of one
 * interface, and {@link ipv4PacketsFromPcap} turns it into IPv4 packets with their protocol,
 * UDP ports and payload, so that a test can assert what really crossed the wire.
 *
 * @example
 * ```ts
 * const capture = await PacketCapture.start(lab, "gw2", "veth0b");
 * // ... traffic ...
 * const packets = await capture.stop();
 * const esp = packets.filter((p) => p.protocol === 50);
 * ```
 */
import { NetnsError, type NetnsLab, type NetnsProcess } from "./harness.ts";

/** One captured IPv4 packet (first fragment or unfragmented). */
export interface CapturedPacket {
  source: string;
  destination: string;
  /** IP protocol number: 50 ESP, 17 UDP, 1 ICMP, ... */
  protocol: number;
  /** UDP ports; 0 for other protocols. */
  sourcePort: number;
  destinationPort: number;
  /** The bytes after the IP header (ESP) or after the UDP header (UDP), as captured. */
  payload: Uint8Array;
}

const LINKTYPE_ETHERNET = 1;
const ETHERTYPE_IPV4 = 0x0800;
const IPPROTO_UDP = 17;

/**
 * The IPv4 packets of a classic pcap file with Ethernet link type (tcpdump on a veth). Other
 * frames are skipped; non-first fragments are skipped (they carry no transport header).
 */
export function ipv4PacketsFromPcap(file: Uint8Array): CapturedPacket[] {
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  if (file.length < 24) throw new SyntaxError("Cannot parse pcap: shorter than its header");
  const magic = view.getUint32(0, false);
  const little = magic === 0xd4c3b2a1 || magic === 0x4d3cb2a1;
  if (!little && magic !== 0xa1b2c3d4 && magic !== 0xa1b23c4d) {
    throw new SyntaxError(`Cannot parse pcap: unknown magic 0x${magic.toString(16)}`);
  }
  const linkType = view.getUint32(20, little);
  if (linkType !== LINKTYPE_ETHERNET) {
    throw new SyntaxError(`Cannot parse pcap: link type ${linkType} is not Ethernet`);
  }
  const out: CapturedPacket[] = [];
  let at = 24;
  while (at + 16 <= file.length) {
    const captured = view.getUint32(at + 8, little);
    const frame = file.subarray(at + 16, Math.min(file.length, at + 16 + captured));
    at += 16 + captured;
    if (frame.length < 14 + 20) continue;
    const f = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
    if (f.getUint16(12) !== ETHERTYPE_IPV4) continue;
    const ip = frame.subarray(14);
    const ihl = (ip[0]! & 0x0f) * 4;
    const fragmentOffset = f.getUint16(14 + 6) & 0x1fff;
    if (fragmentOffset !== 0 || ip.length < ihl) continue;
    const address = (o: number) => Array.from(ip.subarray(o, o + 4)).join(".");
    const protocol = ip[9]!;
    const packet: CapturedPacket = {
      source: address(12),
      destination: address(16),
      protocol,
      sourcePort: 0,
      destinationPort: 0,
      payload: ip.slice(ihl),
    };
    if (protocol === IPPROTO_UDP && ip.length >= ihl + 8) {
      packet.sourcePort = (ip[ihl]! << 8) | ip[ihl + 1]!;
      packet.destinationPort = (ip[ihl + 2]! << 8) | ip[ihl + 3]!;
      packet.payload = ip.slice(ihl + 8);
    }
    out.push(packet);
  }
  return out;
}

/** Options of {@link PacketCapture.start}. */
export interface CaptureOptions {
  /** A tcpdump filter expression, e.g. `not ip6`. */
  filter?: string;
  /** Bytes kept per frame (`tcpdump -s`); default the whole frame. */
  snapLength?: number;
}

/** tcpdump on one interface of a lab namespace, writing a pcap into a private directory. */
export class PacketCapture {
  readonly #process: NetnsProcess;
  readonly #dir: string;
  #packets: CapturedPacket[] | undefined;

  private constructor(process: NetnsProcess, dir: string) {
    this.#process = process;
    this.#dir = dir;
  }

  /**
   * Starts tcpdump on `dev` in namespace `ns` and waits until it listens. The capture is
   * stopped and its directory removed on lab cleanup.
   */
  static async start(
    lab: NetnsLab,
    ns: string,
    dev: string,
    options: CaptureOptions = {},
  ): Promise<PacketCapture> {
    const dir = await Deno.makeTempDir({ prefix: `${lab.prefix}-pcap-${ns}-` });
    const log = `${dir}/tcpdump.out`;
    const argv = ["tcpdump", "-i", dev, "-n", "-U", "--immediate-mode", "-Z", "root"];
    if (options.snapLength !== undefined) argv.push("-s", String(options.snapLength));
    argv.push("-w", `${dir}/capture.pcap`);
    if (options.filter !== undefined) argv.push(options.filter);
    const process = lab.spawn(ns, argv, { logFile: log });
    const capture = new PacketCapture(process, dir);
    lab.onCleanup(async () => {
      await process.kill();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    });
    const deadline = Date.now() + 10_000;
    while (!(await Deno.readTextFile(log).catch(() => "")).includes("listening on")) {
      if (Date.now() > deadline || process.exited) {
        throw new NetnsError(
          `Cannot start tcpdump on ${dev} in ${ns}: ${await Deno.readTextFile(log).catch(() =>
            ""
          )}`,
        );
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    return capture;
  }

  /** Stops tcpdump (after letting it drain) and returns the captured IPv4 packets. */
  async stop(): Promise<CapturedPacket[]> {
    if (this.#packets !== undefined) return this.#packets;
    await new Promise((r) => setTimeout(r, 500));
    await this.#process.kill();
    this.#packets = ipv4PacketsFromPcap(await Deno.readFile(`${this.#dir}/capture.pcap`));
    return this.#packets;
  }
}
