/**
 * The software half of GRO toward an offload TUN (`openTun({ offload: true })`): turns a batch
 * of IP packets (e.g. decrypted from one `recvmmsg`) into the fewest TUN writes. Consecutive
 * in-order TCP segments of one flow become one super packet (≤ 64 KiB) behind a vnet header
 * with GSO_TCPV4/GSO_TCPV6, which the kernel delivers as one skb; everything else is written
 * singly behind an all-zero header.
 *
 * Two passes, no allocation:
 *   1. group    per packet: classify → find the flow's open group (one per TCP 4-tuple) →
 *               append when it continues the group, else close that group and open a new one
 *   2. emit     per group, in order of its first packet: header + first packet + the payloads
 *               of the others into the arena; fix IP lengths, IPv4 header checksum, PSH, and
 *               put the pseudo-header sum in the TCP checksum field (NEEDS_CSUM)
 *
 * A segment joins a group when (the kernel's `tcp_gro_receive` rules, as wireguard-go applies
 * them): same addresses and ports, seq = the group's next seq, payload ≤ the first segment's
 * (gso_size) and the group's last segment was not shorter, no SYN/FIN/RST/URG/CWR, ACK set,
 * the same flags otherwise (PSH only on the last, it closes the group), the same ack number and
 * TCP options, compatible IP headers (IPv4: TOS, TTL, DF, options, not a fragment; IPv6:
 * version/class/flow label, hop limit, no extension header), and both checksums verify (a
 * NEEDS_CSUM frame would make the kernel skip verification: an invalid segment is written
 * singly so that the kernel drops it). Packets of one flow stay in order.
 */
import { Counters } from "../log/mod.ts";
import {
  clearVnetHdr,
  createVnetHdr,
  encodeVnetHdr,
  VNET_HDR_LENGTH,
  VNET_MAX_PACKET_LENGTH,
  VnetGsoType,
  type VnetHdr,
  VnetHdrFlag,
} from "../net/mod.ts";
import {
  foldSum,
  IP_PROTOCOL_TCP,
  pseudoHeaderAddressSum,
  readU16,
  readU32,
  setIpv4HeaderChecksum,
  sumWords,
  TCP_CHECKSUM_OFFSET,
  TCP_FLAGS_OFFSET,
  TcpFlag,
  writeU16,
} from "./_checksum.ts";
import { checksumMemory } from "./_checksum_wasm.ts";

/** Counter names of a {@link GroCoalescer}. */
export const GRO_COALESCE_COUNTERS = [
  /** Packets given to {@link GroCoalescer.coalesce}. */
  "packets",
  /** Frames produced. */
  "frames",
  /** Frames carrying a super packet (GSO_TCPV4/V6). */
  "superFrames",
  /** Packets merged into super frames. */
  "coalescedPackets",
  /** Frames with an all-zero header (one packet each). */
  "singles",
  /** TCP segments whose checksum did not verify (written singly, for the kernel to drop). */
  "checksumInvalid",
  /** Packets dropped because the batch did not fit the arena (see `maxPacketLength`). */
  "dropNoRoom",
] as const;

/** A counter name of {@link GRO_COALESCE_COUNTERS}. */
export type GroCoalesceCounterName = (typeof GRO_COALESCE_COUNTERS)[number];

/** Options of {@link GroCoalescer}. */
export interface GroCoalescerOptions {
  /** Most packets per {@link GroCoalescer.coalesce} call; default 64. */
  maxPackets?: number;
  /**
   * Longest packet expected; default 65535. The arena holds `maxPackets` frames of this size,
   * so a data path that never sees more than its MTU should pass it (64 × 64 KiB = 4 MiB).
   */
  maxPacketLength?: number;
  /** Verify TCP checksums before merging (default true; see the module comment). */
  verifyChecksums?: boolean;
  /**
   * Where to build the frames, at least `maxPackets × (maxPacketLength + VNET_HDR_LENGTH)`
   * bytes; default its own. A view into the thread's packet memory (`_checksum_wasm.ts`) lets
   * payloads be copied there without a view per packet.
   */
  arena?: Uint8Array;
  /** Counters to add to (e.g. a worker's, in shared memory); default its own. */
  counters?: Counters<GroCoalesceCounterName>;
}

/** Per-packet classification. */
const Kind = {
  /** Not TCP (or a non-first fragment): written singly, no flow. */
  Other: 0,
  /** TCP but not mergeable (SYN, FIN, no payload, ...): written singly, closes its flow. */
  TcpSingle: 1,
  /** A mergeable TCP segment. */
  TcpCandidate: 2,
} as const;

const ChecksumState = { Unknown: 0, Valid: 1, Invalid: 2 } as const;

/** Flags that make a segment unmergeable; ACK must be set. */
const NO_MERGE_FLAGS = TcpFlag.SYN | TcpFlag.FIN | TcpFlag.RST | TcpFlag.URG | TcpFlag.CWR;

const NO_PACKETS: readonly Uint8Array[] = [];

/**
 * Coalesces batches of packets into frames for an offload TUN. One per data-path loop; the
 * frames of a call stay valid until the next call.
 *
 * @example
 * ```ts
 * const coalescer = new GroCoalescer({ maxPackets: 64, maxPacketLength: 1500 });
 * const frames = coalescer.coalesce(decrypted, count);
 * for (let i = 0; i < frames; i++) tun.write(coalescer.frame(i));
 * ```
 */
export class GroCoalescer {
  readonly counters: Counters<GroCoalesceCounterName>;
  /** Where the frames are built; frame i is `arena[frameOffsets[i], + frameLengths[i])`. */
  readonly arena: Uint8Array;
  readonly frameOffsets: Uint32Array;
  readonly frameLengths: Uint32Array;
  readonly maxPackets: number;
  readonly #verifyChecksums: boolean;
  readonly #hdr: VnetHdr = createVnetHdr();
  #frameCount = 0;
  /** The batch of the current call (a reference, cleared at the end of the call). */
  #packets: readonly Uint8Array[] = NO_PACKETS;

  // Per packet of the batch.
  readonly #kind: Uint8Array;
  readonly #ipHeaderLength: Uint8Array;
  readonly #tcpHeaderLength: Uint8Array;
  readonly #payloadLength: Uint32Array;
  readonly #seq: Uint32Array;
  readonly #checksum: Uint8Array;
  /** Next member of the packet's group, -1 at the end. */
  readonly #nextMember: Int32Array;

  // Per group (a frame to be).
  readonly #groupFirst: Int32Array;
  readonly #groupLast: Int32Array;
  readonly #groupMembers: Uint32Array;
  readonly #groupGsoSize: Uint32Array;
  /** IP length of the super packet being built. */
  readonly #groupLength: Uint32Array;
  readonly #groupNextSeq: Uint32Array;
  readonly #groupHash: Uint32Array;
  /** Open groups (mergeable), at most one per TCP 4-tuple. */
  readonly #open: Int32Array;
  #openCount = 0;

  /** Throws `RangeError` for a `maxPackets` < 1 or a `maxPacketLength` outside 20..65535. */
  constructor(options: GroCoalescerOptions = {}) {
    this.counters = options.counters ?? new Counters(GRO_COALESCE_COUNTERS);
    const maxPackets = options.maxPackets ?? 64;
    const maxPacketLength = options.maxPacketLength ?? VNET_MAX_PACKET_LENGTH;
    if (!Number.isInteger(maxPackets) || maxPackets < 1) {
      throw new RangeError(`Cannot create GRO coalescer: maxPackets ${maxPackets} is not ≥ 1`);
    }
    if (
      !Number.isInteger(maxPacketLength) || maxPacketLength < 20 ||
      maxPacketLength > VNET_MAX_PACKET_LENGTH
    ) {
      throw new RangeError(
        `Cannot create GRO coalescer: maxPacketLength ${maxPacketLength} is not in 20..65535`,
      );
    }
    this.maxPackets = maxPackets;
    this.#verifyChecksums = options.verifyChecksums ?? true;
    const arenaLength = maxPackets * (maxPacketLength + VNET_HDR_LENGTH);
    if (options.arena !== undefined && options.arena.length < arenaLength) {
      throw new RangeError(
        `Cannot create GRO coalescer: the arena has ${options.arena.length} bytes, ` +
          `${arenaLength} needed`,
      );
    }
    this.arena = options.arena ?? new Uint8Array(arenaLength);
    this.frameOffsets = new Uint32Array(maxPackets);
    this.frameLengths = new Uint32Array(maxPackets);
    this.#kind = new Uint8Array(maxPackets);
    this.#ipHeaderLength = new Uint8Array(maxPackets);
    this.#tcpHeaderLength = new Uint8Array(maxPackets);
    this.#payloadLength = new Uint32Array(maxPackets);
    this.#seq = new Uint32Array(maxPackets);
    this.#checksum = new Uint8Array(maxPackets);
    this.#nextMember = new Int32Array(maxPackets);
    this.#groupFirst = new Int32Array(maxPackets);
    this.#groupLast = new Int32Array(maxPackets);
    this.#groupMembers = new Uint32Array(maxPackets);
    this.#groupGsoSize = new Uint32Array(maxPackets);
    this.#groupLength = new Uint32Array(maxPackets);
    this.#groupNextSeq = new Uint32Array(maxPackets);
    this.#groupHash = new Uint32Array(maxPackets);
    this.#open = new Int32Array(maxPackets);
  }

  /** Frames produced by the last {@link coalesce}. */
  get frameCount(): number {
    return this.#frameCount;
  }

  /** Frame `i` of the last {@link coalesce}: a view into the arena (allocates the view). */
  frame(i: number): Uint8Array {
    const offset = this.frameOffsets[i]!;
    return this.arena.subarray(offset, offset + this.frameLengths[i]!);
  }

  /**
   * Builds the frames for `packets[0, count)` (IP packets, not modified) and returns how many
   * there are; write them in order with {@link frame}. Throws `RangeError` when `count`
   * exceeds `maxPackets` (a caller bug); per-packet problems are counted, never thrown.
   */
  coalesce(packets: readonly Uint8Array[], count: number = packets.length): number {
    if (count > this.maxPackets || count > packets.length) {
      throw new RangeError(
        `Cannot coalesce ${count} packets: at most ${
          Math.min(this.maxPackets, packets.length)
        } fit`,
      );
    }
    this.#packets = packets;
    this.#openCount = 0;
    this.counters.add("packets", count);
    const groups = this.#group(count);
    this.#emit(groups);
    this.#packets = NO_PACKETS;
    this.counters.add("frames", this.#frameCount);
    return this.#frameCount;
  }

  /** Pass 1: assigns every packet to a group; returns the number of groups. */
  #group(count: number): number {
    let groups = 0;
    let budget = 0;
    for (let i = 0; i < count; i++) {
      const packet = this.#packets[i]!;
      // Frames never take more than the packets plus one header each: this keeps the arena safe.
      if (budget + packet.length + VNET_HDR_LENGTH > this.arena.length) {
        this.counters.add("dropNoRoom");
        continue;
      }
      budget += packet.length + VNET_HDR_LENGTH;
      this.#nextMember[i] = -1;
      this.#checksum[i] = ChecksumState.Unknown;
      const kind = this.#classify(packet, i);
      if (kind === Kind.Other) {
        this.#newGroup(groups++, i, 0, false);
        continue;
      }
      const hash = flowHash(packet, this.#ipHeaderLength[i]!);
      const open = this.#findOpen(packet, i, hash);
      const g = open < 0 ? -1 : this.#open[open]!;
      if (kind === Kind.TcpCandidate && g >= 0 && this.#canAppend(g, packet, i)) {
        this.#append(g, i, open);
        continue;
      }
      if (open >= 0) this.#closeAt(open);
      const mergeable = kind === Kind.TcpCandidate &&
        (packet[this.#ipHeaderLength[i]! + TCP_FLAGS_OFFSET]! & TcpFlag.PSH) === 0;
      this.#newGroup(groups++, i, hash, mergeable);
    }
    return groups;
  }

  /** Parses what grouping needs into the per-packet arrays. */
  #classify(packet: Uint8Array, i: number): number {
    const length = packet.length;
    if (length < 20) return Kind.Other;
    const version = packet[0]! >> 4;
    let ipHeaderLength: number;
    let lengthMatches: boolean;
    if (version === 4) {
      ipHeaderLength = (packet[0]! & 0x0f) * 4;
      if (ipHeaderLength < 20 || packet[9] !== IP_PROTOCOL_TCP) return Kind.Other;
      // A non-first fragment has no TCP header; a first fragment (MF) is not mergeable.
      if ((readU16(packet, 6) & 0x1fff) !== 0) return Kind.Other;
      lengthMatches = readU16(packet, 2) === length && (packet[6]! & 0x20) === 0;
    } else if (version === 6) {
      ipHeaderLength = 40;
      if (length < 40 || packet[6] !== IP_PROTOCOL_TCP) return Kind.Other;
      lengthMatches = readU16(packet, 4) + 40 === length;
    } else {
      return Kind.Other;
    }
    if (length < ipHeaderLength + 20) return Kind.Other;
    this.#ipHeaderLength[i] = ipHeaderLength;
    const tcpHeaderLength = (packet[ipHeaderLength + 12]! >> 4) * 4;
    const flags = packet[ipHeaderLength + TCP_FLAGS_OFFSET]!;
    if (
      !lengthMatches || tcpHeaderLength < 20 || ipHeaderLength + tcpHeaderLength >= length ||
      (flags & NO_MERGE_FLAGS) !== 0 || (flags & TcpFlag.ACK) === 0
    ) {
      return Kind.TcpSingle;
    }
    this.#tcpHeaderLength[i] = tcpHeaderLength;
    this.#payloadLength[i] = length - ipHeaderLength - tcpHeaderLength;
    this.#seq[i] = readU32(packet, ipHeaderLength + 4);
    return Kind.TcpCandidate;
  }

  /** Index into the open list of the group with the same 4-tuple as packet `i`, or -1. */
  #findOpen(packet: Uint8Array, i: number, hash: number): number {
    const ipHeaderLength = this.#ipHeaderLength[i]!;
    for (let k = 0; k < this.#openCount; k++) {
      const g = this.#open[k]!;
      if (this.#groupHash[g] !== hash) continue;
      const first = this.#groupFirst[g]!;
      const other = this.#packets[first]!;
      if (
        (other[0]! >> 4) === (packet[0]! >> 4) &&
        sameAddresses(packet, other) &&
        readU32(packet, ipHeaderLength) === readU32(other, this.#ipHeaderLength[first]!)
      ) {
        return k;
      }
    }
    return -1;
  }

  /** Whether candidate `i` continues open group `g` of the same 4-tuple. */
  #canAppend(g: number, packet: Uint8Array, i: number): boolean {
    const first = this.#groupFirst[g]!;
    const head = this.#packets[first]!;
    const ipHeaderLength = this.#ipHeaderLength[i]!;
    const tcpHeaderLength = this.#tcpHeaderLength[i]!;
    const payload = this.#payloadLength[i]!;
    if (
      this.#seq[i] !== this.#groupNextSeq[g] ||
      payload > this.#groupGsoSize[g]! ||
      this.#groupLength[g]! + payload > VNET_MAX_PACKET_LENGTH ||
      ipHeaderLength !== this.#ipHeaderLength[first] ||
      tcpHeaderLength !== this.#tcpHeaderLength[first] ||
      !ipHeadersCompatible(packet, head, ipHeaderLength)
    ) {
      return false;
    }
    const tcp = ipHeaderLength;
    // Same ack number; same flags but PSH; same window is not required (kernel GRO neither).
    if (readU32(packet, tcp + 8) !== readU32(head, tcp + 8)) return false;
    if (((packet[tcp + TCP_FLAGS_OFFSET]! ^ head[tcp + TCP_FLAGS_OFFSET]!) & ~TcpFlag.PSH) !== 0) {
      return false;
    }
    for (let k = tcp + 20; k < tcp + tcpHeaderLength; k++) {
      if (packet[k] !== head[k]) return false;
    }
    if (this.#verifyChecksums) {
      if (!this.#checksumValid(first) || !this.#checksumValid(i)) return false;
    }
    return true;
  }

  /** Verifies (once) the TCP checksum of packet `i`; counts invalid ones. */
  #checksumValid(i: number): boolean {
    const state = this.#checksum[i];
    if (state !== ChecksumState.Unknown) return state === ChecksumState.Valid;
    const packet = this.#packets[i]!;
    const ipHeaderLength = this.#ipHeaderLength[i]!;
    const isIpv6 = packet[0]! >> 4 === 6;
    const sum = pseudoHeaderAddressSum(packet, 0, isIpv6, IP_PROTOCOL_TCP) +
      (packet.length - ipHeaderLength) + sumWords(packet, ipHeaderLength, packet.length);
    const valid = foldSum(sum) === 0xffff;
    this.#checksum[i] = valid ? ChecksumState.Valid : ChecksumState.Invalid;
    if (!valid) this.counters.add("checksumInvalid");
    return valid;
  }

  #newGroup(g: number, i: number, hash: number, mergeable: boolean): void {
    this.#groupFirst[g] = i;
    this.#groupLast[g] = i;
    this.#groupMembers[g] = 1;
    this.#groupLength[g] = this.#packets[i]!.length;
    if (!mergeable) return;
    this.#groupGsoSize[g] = this.#payloadLength[i]!;
    this.#groupNextSeq[g] = this.#seq[i]! + this.#payloadLength[i]!;
    this.#groupHash[g] = hash;
    this.#open[this.#openCount++] = g;
  }

  #append(g: number, i: number, open: number): void {
    const payload = this.#payloadLength[i]!;
    this.#nextMember[this.#groupLast[g]!] = i;
    this.#groupLast[g] = i;
    this.#groupMembers[g]!++;
    this.#groupLength[g]! += payload;
    this.#groupNextSeq[g] = this.#groupNextSeq[g]! + payload;
    const psh = (this.#packets[i]![this.#ipHeaderLength[i]! + TCP_FLAGS_OFFSET]! & TcpFlag.PSH) !==
      0;
    // Nothing may follow a short segment or a PSH.
    if (psh || payload < this.#groupGsoSize[g]!) this.#closeAt(open);
  }

  #closeAt(open: number): void {
    this.#open[open] = this.#open[--this.#openCount]!;
  }

  /** Pass 2: writes the frames of `groups` groups into the arena. */
  #emit(groups: number): void {
    let offset = 0;
    const memory = checksumMemory();
    const inMemory = memory !== null && memory.holds(this.arena);
    for (let g = 0; g < groups; g++) {
      const first = this.#groupFirst[g]!;
      const head = this.#packets[first]!;
      this.frameOffsets[g] = offset;
      const packetStart = offset + VNET_HDR_LENGTH;
      this.arena.set(head, packetStart);
      if (this.#groupMembers[g] === 1) {
        clearVnetHdr(this.arena, offset);
        this.frameLengths[g] = VNET_HDR_LENGTH + head.length;
        offset += VNET_HDR_LENGTH + head.length;
        this.counters.add("singles");
        continue;
      }
      const ipHeaderLength = this.#ipHeaderLength[first]!;
      const headersLength = ipHeaderLength + this.#tcpHeaderLength[first]!;
      let end = packetStart + head.length;
      for (let m = this.#nextMember[first]!; m >= 0; m = this.#nextMember[m]!) {
        const packet = this.#packets[m]!;
        const payload = packet.length - headersLength;
        if (inMemory && memory.holds(packet)) {
          memory.copy(this.arena, end, packet, headersLength, payload);
        } else {
          this.arena.set(packet.subarray(headersLength), end);
        }
        end += payload;
      }
      const packetLength = end - packetStart;
      const isIpv6 = head[0]! >> 4 === 6;
      const arena = this.arena;
      if (isIpv6) {
        writeU16(arena, packetStart + 4, packetLength - 40);
      } else {
        writeU16(arena, packetStart + 2, packetLength);
        setIpv4HeaderChecksum(arena, packetStart, ipHeaderLength);
      }
      const last = this.#packets[this.#groupLast[g]!]!;
      arena[packetStart + ipHeaderLength + TCP_FLAGS_OFFSET]! |= last[
        ipHeaderLength +
        TCP_FLAGS_OFFSET
      ]! & TcpFlag.PSH;
      // CHECKSUM_PARTIAL: the field holds the folded pseudo-header sum, not complemented.
      const partial = foldSum(
        pseudoHeaderAddressSum(arena, packetStart, isIpv6, IP_PROTOCOL_TCP) +
          (packetLength - ipHeaderLength),
      );
      writeU16(arena, packetStart + ipHeaderLength + TCP_CHECKSUM_OFFSET, partial);
      const hdr = this.#hdr;
      hdr.flags = VnetHdrFlag.NEEDS_CSUM;
      hdr.gsoType = isIpv6 ? VnetGsoType.TCPV6 : VnetGsoType.TCPV4;
      hdr.hdrLen = headersLength;
      hdr.gsoSize = this.#groupGsoSize[g]!;
      hdr.csumStart = ipHeaderLength;
      hdr.csumOffset = TCP_CHECKSUM_OFFSET;
      encodeVnetHdr(hdr, arena.subarray(offset, packetStart));
      this.frameLengths[g] = VNET_HDR_LENGTH + packetLength;
      offset = end;
      this.counters.add("superFrames");
      this.counters.add("coalescedPackets", this.#groupMembers[g]!);
    }
    this.#frameCount = groups;
  }
}

/** A cheap 32-bit mix of the 4-tuple (ports and the last 4 bytes of each address). */
function flowHash(packet: Uint8Array, ipHeaderLength: number): number {
  const v6 = packet[0]! >> 4 === 6;
  const source = readU32(packet, v6 ? 20 : 12);
  const destination = readU32(packet, v6 ? 36 : 16);
  const ports = readU32(packet, ipHeaderLength);
  return (Math.imul(source ^ Math.imul(destination, 0x9e3779b1), 0x85ebca6b) ^ ports) >>> 0;
}

/** Same source and destination address (same IP version assumed). */
function sameAddresses(a: Uint8Array, b: Uint8Array): boolean {
  const start = a[0]! >> 4 === 6 ? 8 : 12;
  const end = start === 8 ? 40 : 20;
  for (let k = start; k < end; k++) if (a[k] !== b[k]) return false;
  return true;
}

/** IP header fields that must agree for a merge (addresses were compared already). */
function ipHeadersCompatible(a: Uint8Array, b: Uint8Array, ipHeaderLength: number): boolean {
  if (a[0]! >> 4 === 6) {
    // Version, traffic class, flow label; hop limit.
    return readU32(a, 0) === readU32(b, 0) && a[7] === b[7];
  }
  // TOS, DF (and the reserved bit), TTL, options.
  if (a[1] !== b[1] || (a[6]! & 0xc0) !== (b[6]! & 0xc0) || a[8] !== b[8]) return false;
  for (let k = 20; k < ipHeaderLength; k++) if (a[k] !== b[k]) return false;
  return true;
}
