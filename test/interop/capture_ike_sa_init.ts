/**
 * Regenerates the golden strongSwan IKE_SA_INIT vectors in test/testdata/ (needs root):
 *
 * ```
 * node_modules/.bin/deno run --allow-all test/interop/capture_ike_sa_init.ts
 * ```
 *
 * Two charons in two lab namespaces (198.51.100.1 ↔ 198.51.100.2, PSK,
 * `aes128gcm16-prfsha256-ecp256`); tcpdump inside the initiator's namespace writes a pcap of UDP
 * 500/4500 while the initiator brings the tunnel up; the UDP payloads of the first IKE_SA_INIT
 * request and response are written as one line of lower-case hex each. IKE_SA_INIT travels on
 * port 500, so there is no non-ESP marker to strip (a 4500 payload would lose its 4 zero bytes).
 */
import { NON_ESP_MARKER_LENGTH } from "../../lib/ike/constants.ts";
import { toHex } from "../../lib/wire/mod.ts";
import { NetnsError, withLab } from "../netns/harness.ts";
import { startCharonPair } from "./strongswan.ts";

/** One UDP datagram from a pcap. */
export interface CapturedDatagram {
  sourcePort: number;
  destinationPort: number;
  source: string;
  destination: string;
  payload: Uint8Array;
}

const LINKTYPE_ETHERNET = 1;
const ETHERTYPE_IPV4 = 0x0800;
const IPPROTO_UDP = 17;

/**
 * Extracts the IPv4/UDP datagrams of a classic pcap file with Ethernet link type (what tcpdump
 * writes on a veth). Other frames are skipped.
 */
export function udpDatagramsFromPcap(file: Uint8Array): CapturedDatagram[] {
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const magic = view.getUint32(0, false);
  const little = magic === 0xd4c3b2a1 || magic === 0x4d3cb2a1;
  if (!little && magic !== 0xa1b2c3d4 && magic !== 0xa1b23c4d) {
    throw new SyntaxError(`Cannot parse pcap: unknown magic 0x${magic.toString(16)}`);
  }
  const linkType = view.getUint32(20, little);
  if (linkType !== LINKTYPE_ETHERNET) {
    throw new SyntaxError(`Cannot parse pcap: link type ${linkType} is not Ethernet`);
  }
  const out: CapturedDatagram[] = [];
  let at = 24;
  while (at + 16 <= file.length) {
    const captured = view.getUint32(at + 8, little);
    const frame = file.subarray(at + 16, at + 16 + captured);
    at += 16 + captured;
    if (frame.length < 14 + 20 + 8) continue;
    const f = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
    if (f.getUint16(12) !== ETHERTYPE_IPV4) continue;
    const ihl = (frame[14]! & 0x0f) * 4;
    if (frame[14 + 9] !== IPPROTO_UDP) continue;
    const udp = 14 + ihl;
    const udpLength = f.getUint16(udp + 4);
    const ip = (o: number) => Array.from(frame.subarray(14 + o, 14 + o + 4)).join(".");
    out.push({
      source: ip(12),
      destination: ip(16),
      sourcePort: f.getUint16(udp),
      destinationPort: f.getUint16(udp + 2),
      payload: frame.slice(udp + 8, udp + udpLength),
    });
  }
  return out;
}

/** The IKE message inside a datagram: as is on 500, without the non-ESP marker on 4500. */
export function ikePayload(d: CapturedDatagram): Uint8Array {
  const natT = d.sourcePort === 4500 || d.destinationPort === 4500;
  return natT ? d.payload.subarray(NON_ESP_MARKER_LENGTH) : d.payload;
}

const EXCHANGE_TYPE_OFFSET = 18;
const FLAGS_OFFSET = 19;
const IKE_SA_INIT = 34;
const RESPONSE_FLAG = 0x20;

async function capture(outDir: string): Promise<void> {
  await withLab(async (lab) => {
    await lab.addNamespace("left");
    await lab.addNamespace("right");
    const { devA } = await lab.link("left", "198.51.100.1/24", "right", "198.51.100.2/24");
    const { left } = await startCharonPair(lab, {
      ikeProposals: "aes128gcm16-prfsha256-ecp256",
    });

    const pcap = `${left.dir}/ike.pcap`;
    const tcpdumpLog = `${left.dir}/tcpdump.out`;
    const tcpdump = lab.spawn("left", [
      "tcpdump",
      "-i",
      devA,
      "-n",
      "-U",
      "--immediate-mode",
      "-Z",
      "root",
      "-w",
      pcap,
      "udp port 500 or udp port 4500",
    ], { logFile: tcpdumpLog });
    const deadline = Date.now() + 10_000;
    while (!(await Deno.readTextFile(tcpdumpLog).catch(() => "")).includes("listening on")) {
      if (Date.now() > deadline || tcpdump.exited) throw new NetnsError("Cannot start tcpdump");
      await new Promise((r) => setTimeout(r, 50));
    }
    await left.initiate();
    await left.waitEstablished();
    // Let tcpdump drain its ring buffer before SIGTERM ends the capture loop.
    await new Promise((r) => setTimeout(r, 500));
    await tcpdump.kill();

    const datagrams = udpDatagramsFromPcap(await Deno.readFile(pcap));
    const init = datagrams.map(ikePayload).filter((p) => p[EXCHANGE_TYPE_OFFSET] === IKE_SA_INIT);
    const request = init.find((p) => (p[FLAGS_OFFSET]! & RESPONSE_FLAG) === 0);
    const response = init.find((p) => (p[FLAGS_OFFSET]! & RESPONSE_FLAG) !== 0);
    if (request === undefined || response === undefined) {
      throw new NetnsError(
        `Cannot find IKE_SA_INIT request and response among ${datagrams.length} datagrams`,
      );
    }
    await Deno.writeTextFile(`${outDir}/strongswan_ike_sa_init_request.hex`, toHex(request) + "\n");
    await Deno.writeTextFile(
      `${outDir}/strongswan_ike_sa_init_response.hex`,
      toHex(response) + "\n",
    );
    console.log(
      `wrote request (${request.length} bytes) and response (${response.length} bytes) to ${outDir}`,
    );
    const version = /strongSwan (\d+\.\d+\.\d+)/.exec(await left.logText())?.[1] ?? "unknown";
    console.log(`strongSwan version: ${version}`);
  }, { timeoutMs: 60_000 });
}

if (import.meta.main) {
  await capture(new URL("../testdata", import.meta.url).pathname);
}
