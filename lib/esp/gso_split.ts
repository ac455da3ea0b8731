/**
 * Splits what an offload TUN (`openTun({ offload: true })`) hands over into wire-sized packets,
 * the software half of TSO: a frame is a `virtio_net_hdr` plus an IP packet, and a TCP/IPv4 or
 * TCP/IPv6 frame with GSO may carry up to 64 KiB of payload that must leave as `gso_size`
 * (MSS) segments.
 *
 * Per segment i of n (payload bytes [i·MSS, min((i+1)·MSS, total)) of the super packet):
 *   1. headers  copy IP + TCP headers (options included)
 *   2. IP       IPv4: total length, id + i, header checksum; IPv6: payload length
 *   3. TCP      seq + i·MSS; FIN/PSH only on the last segment, CWR only on the first
 *   4. payload  copy
 *   5. csum     full TCP checksum (pseudo-header + header + payload): the kernel only left a
 *               partial pseudo-header sum (NEEDS_CSUM) at csum_start + csum_offset
 *
 * A frame without GSO is left in place; with NEEDS_CSUM (TCP or UDP sent through a device that
 * offers TUN_F_CSUM) its checksum is completed in place first. Malformed frames are counted
 * and refused, never thrown. The kernel's `hdr_len` is not trusted (it can cover the whole
 * first packet on the forwarding path): the header length is `csum_start` + the TCP data
 * offset, as wireguard-go does.
 */
import { Counters } from "../log/mod.ts";
import {
  createVnetHdr,
  decodeVnetHdr,
  VNET_HDR_LENGTH,
  VnetGsoType,
  type VnetHdr,
  VnetHdrFlag,
} from "../net/mod.ts";
import {
  copyAndSumWords,
  foldSum,
  IP_PROTOCOL_TCP,
  pseudoHeaderAddressSum,
  readU16,
  readU32,
  sumWords,
  TCP_CHECKSUM_OFFSET,
  TCP_FLAGS_OFFSET,
  TcpFlag,
  UDP_CHECKSUM_OFFSET,
  writeU16,
  writeU32,
} from "./_checksum.ts";
import { checksumMemory } from "./_checksum_wasm.ts";

/** Counter names of a {@link GsoSplitter}. */
export const GSO_SPLIT_COUNTERS = [
  /** Frames given to {@link GsoSplitter.split}. */
  "frames",
  /** Frames with GSO that were split. */
  "superPackets",
  /** Segments written by splits. */
  "segments",
  /** Frames without GSO left in place (result 0). */
  "passedThrough",
  /** Of those, frames whose NEEDS_CSUM checksum was completed. */
  "checksumsCompleted",
  /** Frames too short for a vnet header and an IP header. */
  "errorShortFrame",
  /** GSO types we do not split (UFO, USO, unknown) or a type that contradicts the IP version. */
  "errorGsoType",
  /** Header fields inconsistent with the packet (lengths, csum_start/offset, protocol). */
  "errorMalformed",
  /** No output buffer left, or one too small for a segment (the super packet is dropped). */
  "errorNoRoom",
] as const;

/** A counter name of {@link GSO_SPLIT_COUNTERS}. */
export type GsoSplitCounterName = (typeof GSO_SPLIT_COUNTERS)[number];

/**
 * Where {@link GsoSplitter.split} writes segments: `segments[start + i]` (from its index 0)
 * with its length in `lengths[start + i]`. Reuse one object per loop and move `start` to fill
 * one batch from several frames.
 */
export interface SegmentOutput {
  /** Output buffers, each large enough for one segment (IP + TCP headers + MSS). */
  readonly segments: readonly Uint8Array[];
  /** Segment lengths, parallel to `segments`. */
  readonly lengths: Uint32Array;
  /** First index to fill; default 0. */
  start?: number;
}

/** IPv4 header: offset of total length, identification and protocol. */
const IPV4_TOTAL_LENGTH = 2;
const IPV4_ID = 4;
const IPV4_PROTOCOL = 9;
const IPV4_CHECKSUM = 10;
/** IPv6 header: offset of payload length and next header; fixed header length. */
const IPV6_PAYLOAD_LENGTH = 4;
const IPV6_NEXT_HEADER = 6;
const IPV6_HEADER_LENGTH = 40;
const TCP_MIN_HEADER_LENGTH = 20;

const NO_FRAME = new Uint8Array(0);

/**
 * Splits offload-TUN frames into packets. One per data-path loop; not thread-safe (it keeps
 * the decoded header, the frame being split and counters).
 *
 * A super packet may need more segments than the output has room for (a small MSS: up to
 * ≈ 1,400 segments at MSS 48). Then {@link split} fills what fits and keeps the rest pending:
 * send the batch, then call {@link splitMore} until {@link pendingSegments} is 0 — the frame
 * must not be overwritten meanwhile. (Or cap the kernel: `ip link set dev X gso_max_segs N`.)
 *
 * @example
 * ```ts
 * const splitter = new GsoSplitter();
 * const output = {
 *   segments: Array.from({ length: 64 }, () => new Uint8Array(2048)),
 *   lengths: new Uint32Array(64),
 * };
 * const n = tun.tryRead(frame);
 * let count = splitter.split(frame.subarray(0, n), output);
 * if (count === 0) send(frame.subarray(VNET_HDR_LENGTH, n)); // not a super packet
 * while (count > 0) {
 *   for (let i = 0; i < count; i++) send(output.segments[i]!.subarray(0, output.lengths[i]));
 *   count = splitter.splitMore(output);
 * }
 * ```
 */
export class GsoSplitter {
  /** Its own counters, or the ones given (e.g. a worker's, in shared memory). */
  readonly counters: Counters<GsoSplitCounterName>;
  readonly #hdr: VnetHdr = createVnetHdr();
  // The super packet being split: its frame and what every segment needs.
  #frame: Uint8Array = NO_FRAME;
  #count = 0;
  #next = 0;
  #isIpv6 = false;
  #ipHeaderLength = 0;
  #headersLength = 0;
  #payloadLength = 0;
  #mss = 0;
  #addressSum = 0;
  #firstSeq = 0;
  #firstId = 0;
  /** IPv4: sum of the header without total length, identification and checksum. */
  #ipv4FixedSum = 0;

  constructor(options: { counters?: Counters<GsoSplitCounterName> } = {}) {
    this.counters = options.counters ?? new Counters(GSO_SPLIT_COUNTERS);
  }

  /** The vnet header of the last frame given to {@link split} (valid unless it was too short). */
  get header(): Readonly<VnetHdr> {
    return this.#hdr;
  }

  /**
   * How many segments {@link split} makes of `frame` when it is a well-formed TCP super packet
   * (vnet header + IP packet), else 0. Reads only the headers; allocates nothing.
   */
  segmentCount(frame: Uint8Array): number {
    const p = VNET_HDR_LENGTH;
    if (frame.length < p + 20) return 0;
    const gsoType = frame[1]! & ~VnetGsoType.ECN;
    const mss = frame[4]! | (frame[5]! << 8);
    if (mss === 0) return 0;
    let ipHeaderLength: number;
    let packetLength: number;
    if (gsoType === VnetGsoType.TCPV4 && frame[p]! >> 4 === 4) {
      ipHeaderLength = (frame[p]! & 0x0f) * 4;
      packetLength = readU16(frame, p + IPV4_TOTAL_LENGTH);
    } else if (gsoType === VnetGsoType.TCPV6 && frame[p]! >> 4 === 6) {
      ipHeaderLength = IPV6_HEADER_LENGTH;
      packetLength = IPV6_HEADER_LENGTH + readU16(frame, p + IPV6_PAYLOAD_LENGTH);
    } else {
      return 0;
    }
    if (packetLength > frame.length - p || ipHeaderLength + 13 > packetLength) return 0;
    const payload = packetLength - ipHeaderLength - (frame[p + ipHeaderLength + 12]! >> 4) * 4;
    return payload > 0 ? Math.ceil(payload / mss) : 0;
  }

  /** Segments of the last super packet not written yet (see {@link splitMore}). */
  get pendingSegments(): number {
    return this.#count - this.#next;
  }

  /**
   * Splits `frame` (vnet header + IP packet, exactly as read) into `output` (see
   * {@link SegmentOutput}); forgets a super packet still pending. Returns:
   * - n > 0: a super packet; its first n segments were written at `output.start`.. (more may
   *   be pending when the output had no room for all: {@link splitMore});
   * - 0: not a super packet: the packet is `frame.subarray(VNET_HDR_LENGTH)`, its checksum
   *   completed in place if the header asked for it (the frame is otherwise unchanged);
   * - -1: malformed, or no room for even one segment (counted in {@link counters}); drop it.
   *
   * Nothing is allocated but typed-array views (`subarray`) of the payload.
   */
  split(frame: Uint8Array, output: SegmentOutput): number {
    this.#frame = NO_FRAME;
    this.#count = this.#next = 0;
    this.counters.add("frames");
    if (frame.length < VNET_HDR_LENGTH + 20) return this.#fail("errorShortFrame");
    const hdr = decodeVnetHdr(frame, this.#hdr);
    const gsoType = hdr.gsoType & ~VnetGsoType.ECN;
    if (gsoType === VnetGsoType.NONE) {
      if ((hdr.flags & VnetHdrFlag.NEEDS_CSUM) !== 0) {
        if (!completeChecksum(frame, VNET_HDR_LENGTH, hdr)) return this.#fail("errorMalformed");
        this.counters.add("checksumsCompleted");
      }
      this.counters.add("passedThrough");
      return 0;
    }
    const p = VNET_HDR_LENGTH;
    const version = frame[p]! >> 4;
    let isIpv6: boolean;
    let ipHeaderLength: number;
    let packetLength: number;
    if (gsoType === VnetGsoType.TCPV4 && version === 4) {
      isIpv6 = false;
      ipHeaderLength = (frame[p]! & 0x0f) * 4;
      if (ipHeaderLength < 20 || frame[p + IPV4_PROTOCOL] !== IP_PROTOCOL_TCP) {
        return this.#fail("errorMalformed");
      }
      packetLength = readU16(frame, p + IPV4_TOTAL_LENGTH);
    } else if (gsoType === VnetGsoType.TCPV6 && version === 6) {
      isIpv6 = true;
      ipHeaderLength = IPV6_HEADER_LENGTH;
      // Extension headers would need a header walk; Linux TCP does not send them.
      if (frame[p + IPV6_NEXT_HEADER] !== IP_PROTOCOL_TCP) return this.#fail("errorMalformed");
      packetLength = IPV6_HEADER_LENGTH + readU16(frame, p + IPV6_PAYLOAD_LENGTH);
    } else {
      return this.#fail("errorGsoType");
    }
    if (
      packetLength > frame.length - p ||
      packetLength < ipHeaderLength + TCP_MIN_HEADER_LENGTH ||
      hdr.csumStart !== ipHeaderLength || hdr.csumOffset !== TCP_CHECKSUM_OFFSET ||
      hdr.gsoSize === 0
    ) {
      return this.#fail("errorMalformed");
    }
    const tcp = p + ipHeaderLength;
    const tcpHeaderLength = (frame[tcp + 12]! >> 4) * 4;
    const headersLength = ipHeaderLength + tcpHeaderLength;
    if (tcpHeaderLength < TCP_MIN_HEADER_LENGTH || headersLength >= packetLength) {
      return this.#fail("errorMalformed");
    }
    this.#isIpv6 = isIpv6;
    this.#ipHeaderLength = ipHeaderLength;
    this.#headersLength = headersLength;
    this.#mss = hdr.gsoSize;
    this.#payloadLength = packetLength - headersLength;
    this.#addressSum = pseudoHeaderAddressSum(frame, p, isIpv6, IP_PROTOCOL_TCP);
    this.#firstSeq = readU32(frame, tcp + 4);
    this.#firstId = isIpv6 ? 0 : readU16(frame, p + IPV4_ID);
    if (!isIpv6) {
      // Per segment only the length and ID change: its header checksum is this plus those two.
      // (+ 3 × 0xffff keeps it positive: one's complement sums are taken modulo 0xffff.)
      this.#ipv4FixedSum = sumWords(frame, p, p + ipHeaderLength) + 3 * 0xffff -
        readU16(frame, p + IPV4_TOTAL_LENGTH) - readU16(frame, p + IPV4_ID) -
        readU16(frame, p + IPV4_CHECKSUM);
    }
    this.#frame = frame;
    this.#count = Math.ceil(this.#payloadLength / this.#mss);
    this.counters.add("superPackets");
    return this.#emit(output);
  }

  /**
   * Writes further segments of the super packet of the last {@link split} into `output`
   * (from `output.start`); returns how many, 0 when none is pending, -1 when not even one
   * fits (then the rest of the super packet is dropped and counted).
   */
  splitMore(output: SegmentOutput): number {
    return this.#next < this.#count ? this.#emit(output) : 0;
  }

  /** Writes as many pending segments as `output` has room for. */
  #emit(output: SegmentOutput): number {
    const { segments, lengths } = output;
    const start = output.start ?? 0;
    const mss = this.#mss;
    const headersLength = this.#headersLength;
    const payloadLength = this.#payloadLength;
    const first = this.#next;
    const n = Math.min(this.#count - first, segments.length - start, lengths.length - start);
    for (let k = 0; k < n; k++) {
      const i = first + k;
      const segmentLength = headersLength + Math.min(mss, payloadLength - i * mss);
      if (segments[start + k]!.length < segmentLength) return this.#drop();
    }
    if (n <= 0) return this.#drop();

    const frame = this.#frame;
    const p = VNET_HDR_LENGTH;
    const ipHeaderLength = this.#ipHeaderLength;
    const checksumAt = ipHeaderLength + TCP_CHECKSUM_OFFSET;
    const last = this.#count - 1;
    // Packet memory (the workers'): copies and the payload sum without a view or `set` call.
    const memory = checksumMemory();
    const inMemory = memory !== null && memory.holds(frame);
    const headers = frame.subarray(p, p + headersLength);
    for (let k = 0; k < n; k++) {
      const i = first + k;
      const out = segments[start + k]!;
      const dataStart = p + headersLength + i * mss;
      const dataLength = Math.min(mss, payloadLength - i * mss);
      const segmentLength = headersLength + dataLength;
      if (inMemory && memory.holds(out)) memory.copy(out, 0, frame, p, headersLength);
      else out.set(headers, 0);
      if (this.#isIpv6) {
        writeU16(out, IPV6_PAYLOAD_LENGTH, segmentLength - IPV6_HEADER_LENGTH);
      } else {
        const id = (this.#firstId + i) & 0xffff;
        writeU16(out, IPV4_TOTAL_LENGTH, segmentLength);
        writeU16(out, IPV4_ID, id);
        writeU16(out, IPV4_CHECKSUM, ~foldSum(this.#ipv4FixedSum + segmentLength + id));
      }
      writeU32(out, ipHeaderLength + 4, this.#firstSeq + i * mss);
      let flags = out[ipHeaderLength + TCP_FLAGS_OFFSET]!;
      if (i < last) flags &= ~(TcpFlag.FIN | TcpFlag.PSH);
      if (i > 0) flags &= ~TcpFlag.CWR;
      out[ipHeaderLength + TCP_FLAGS_OFFSET] = flags;
      out[checksumAt] = 0;
      out[checksumAt + 1] = 0;
      // The payload starts a whole number of 32-bit words into the TCP header: the two sums add.
      const sum = this.#addressSum + (segmentLength - ipHeaderLength) +
        sumWords(out, ipHeaderLength, headersLength) +
        copyAndSumWords(memory, out, headersLength, frame, dataStart, dataLength);
      writeU16(out, checksumAt, ~foldSum(sum));
      lengths[start + k] = segmentLength;
    }
    this.#next = first + n;
    if (this.#next === this.#count) this.#frame = NO_FRAME;
    this.counters.add("segments", n);
    return n;
  }

  /** No room: the rest of the super packet is lost. */
  #drop(): number {
    this.#frame = NO_FRAME;
    this.#count = this.#next = 0;
    return this.#fail("errorNoRoom");
  }

  #fail(reason: GsoSplitCounterName): number {
    this.counters.add(reason);
    return -1;
  }
}

/**
 * Completes a CHECKSUM_PARTIAL packet at `bytes[start]` in place: the field at
 * `csumStart + csumOffset` holds the folded pseudo-header sum, to which the sum from
 * `csumStart` to the end of the IP packet is added. Returns false when the offsets do not fit
 * the packet. A UDP result of 0 is sent as 0xffff (RFC 768).
 */
function completeChecksum(bytes: Uint8Array, start: number, hdr: VnetHdr): boolean {
  const version = bytes[start]! >> 4;
  let packetLength: number;
  if (version === 4) packetLength = readU16(bytes, start + IPV4_TOTAL_LENGTH);
  else if (version === 6) packetLength = IPV6_HEADER_LENGTH + readU16(bytes, start + 4);
  else return false;
  const checksumAt = hdr.csumStart + hdr.csumOffset;
  if (
    packetLength > bytes.length - start || hdr.csumStart < 20 ||
    checksumAt + 2 > packetLength || (hdr.csumOffset & 1) !== 0
  ) {
    return false;
  }
  const at = start + checksumAt;
  const partial = readU16(bytes, at);
  bytes[at] = 0;
  bytes[at + 1] = 0;
  let checksum = ~foldSum(partial + sumWords(bytes, start + hdr.csumStart, start + packetLength)) &
    0xffff;
  if (checksum === 0 && hdr.csumOffset === UDP_CHECKSUM_OFFSET) checksum = 0xffff;
  writeU16(bytes, at, checksum);
  return true;
}
