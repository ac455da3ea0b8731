/**
 * Batched datagram and TUN I/O over FFI for the worker data plane (lib/dispatch):
 *
 *   - {@link PacketBatch}: a preallocated arena of `count` packet slots with their
 *     `struct mmsghdr`, `struct iovec` and `struct sockaddr_in` arrays. Every pointer is computed
 *     once, at construction; per packet only lengths and addresses are written.
 *   - {@link BatchSocket}: a non-blocking UDP or raw ESP socket; `recvmmsg`/`sendmmsg` of a whole
 *     batch, `sendto` of one datagram (IKE, keepalives).
 *   - {@link TunQueue}: one queue of a (multi-queue) TUN device; `read` drained to EAGAIN into a
 *     batch, `write` per packet.
 *   - {@link PollSet}: a synchronous, blocking `poll` over a fixed list of descriptors.
 *   - classic BPF: {@link encodeSockFilter}, {@link attachSocketFilter},
 *     {@link attachReuseportProgram}.
 *
 * Fast-path rules (LAB-FACTS): 64-bit arguments are BigInts made once, results are `i32`, no
 * `Deno.UnsafePointer.of()` per call, no `nonblocking` FFI symbols. Objects here are plain
 * descriptors wrapped by number, so a worker can wrap a descriptor the main thread opened
 * (descriptors are process-wide). IPv4 only.
 */
import {
  AddressFamily,
  Errno,
  IpProtocol,
  lastErrno,
  libc,
  type LibcSymbols,
  MsgFlag,
  PollEvent,
  POLLFD_SIZE,
  SocketOption,
  SocketType,
  StructSize,
  SysError,
} from "../sys/mod.ts";
import type { Endpoint } from "./datagram.ts";
import { writeSockaddrIn } from "./raw_esp_linux.ts";

// --- struct layouts (64-bit Linux) -----------------------------------------------------------

const MSG_NAME = 0;
const MSG_NAMELEN = 8;
const MSG_IOV = 16;
const MSG_IOVLEN = 24;
const MSG_CONTROL = 32;
const MSG_CONTROLLEN = 40;
const MSG_LEN = 56;
const CMSG_LEVEL = 8;
const CMSG_TYPE = 12;
const CMSG_DATA = 16;
/** `CMSG_SPACE(sizeof(int))`: room for one UDP_SEGMENT (u16) or UDP_GRO (int) message. */
const CMSG_SPACE_INT = 24;
const IOV_BASE = 0;
const IOV_LEN = 8;
const SOCKADDR_IN = StructSize.sockaddr_in;

function pointerValue(buffer: Uint8Array): bigint {
  const pointer = Deno.UnsafePointer.of(buffer);
  if (pointer === null) throw new RangeError("Cannot build a packet batch: null buffer address");
  return BigInt(Deno.UnsafePointer.value(pointer));
}

/** Largest slot: a 64 KiB packet behind a `virtio_net_hdr` (offload TUN reads) fits. */
export const MAX_SLOT_SIZE = 65536 + 64;

/**
 * UDP GSO limits (linux/udp.h, net/ipv4/udp.c): at most UDP_MAX_SEGMENTS datagrams per send,
 * and the whole run in one IPv4 datagram's payload (65535 − 20 − 8).
 */
export const UDP_MAX_SEGMENTS = 64;
export const UDP_MAX_SEGMENTED_PAYLOAD = 65507;

/** Options of {@link PacketBatch}. */
export interface PacketBatchOptions {
  /** Number of packet slots (one system call moves up to this many packets); 1..1024. */
  count: number;
  /** Bytes per slot; 64..{@link MAX_SLOT_SIZE}. */
  slotSize: number;
  /**
   * Where the slots live (exactly `count × slotSize` bytes), e.g. a view of the workers'
   * checksum memory; default a new array. It must outlive the batch and never move.
   */
  data?: Uint8Array | undefined;
}

/**
 * `count` packet slots of `slotSize` bytes with their message headers. `slots[i]` is a view of
 * slot i, `lengths[i]` its packet length, `names` the `sockaddr_in` of each slot (source after
 * a receive, destination before a send).
 *
 * @example
 * ```ts
 * const batch = new PacketBatch({ count: 64, slotSize: 2048 });
 * const n = socket.receive(batch); // slots 0..n-1 hold datagrams
 * ```
 */
export class PacketBatch {
  readonly count: number;
  readonly slotSize: number;
  /** All slots back to back. */
  readonly data: Uint8Array;
  /** One view per slot, made once. */
  readonly slots: readonly Uint8Array[];
  /** Packet length per slot. */
  readonly lengths: Int32Array;
  /** `struct sockaddr_in` per slot (16 bytes each). */
  readonly names: Uint8Array;
  /** `struct mmsghdr` per slot; what `recvmmsg`/`sendmmsg` get. */
  readonly headers: Uint8Array;
  /**
   * After a receive with segment sizes asked for (UDP_GRO on the socket): the segment size of
   * slot i's coalesced datagrams, 0 when the slot holds one plain datagram.
   */
  readonly segmentSizes: Int32Array;
  readonly #headerView: DataView;
  /** One receive `cmsghdr` area per slot (CMSG_SPACE_INT bytes). */
  readonly #receiveControl: DataView;
  /** GSO send messages: slot runs as one `mmsghdr` each, with a UDP_SEGMENT cmsg. */
  readonly #runHeaders: Uint8Array;
  readonly #runHeaderView: DataView;
  readonly #runHeaderTails: Uint8Array[];
  readonly #runControl: DataView;
  /** First slot and slot count of each run (see {@link buildSegmentRuns}). */
  readonly runFirst: Int32Array;
  readonly runSlots: Int32Array;
  /** `msg_name` and `msg_iov` of each slot, made once (no BigInt per run). */
  readonly #namePointers: bigint[] = [];
  readonly #iovPointers: bigint[] = [];
  readonly #iovecView: DataView;
  readonly #iovecs: Uint8Array;
  /** The header arrays from slot i on (for resuming a partial `sendmmsg`), made once. */
  readonly #headerTails: Uint8Array[];

  /** Throws `RangeError` for a count or slot size out of range. */
  constructor(options: PacketBatchOptions) {
    const { count, slotSize } = options;
    if (!Number.isInteger(count) || count < 1 || count > 1024) {
      throw new RangeError(`Cannot build a packet batch: count ${count} is not in 1..1024`);
    }
    if (!Number.isInteger(slotSize) || slotSize < 64 || slotSize > MAX_SLOT_SIZE) {
      throw new RangeError(
        `Cannot build a packet batch: slot size ${slotSize} is not in 64..${MAX_SLOT_SIZE}`,
      );
    }
    if (options.data !== undefined && options.data.length !== count * slotSize) {
      throw new RangeError(
        `Cannot build a packet batch: ${options.data.length} bytes of slots given, ` +
          `expected ${count} × ${slotSize}`,
      );
    }
    this.count = count;
    this.slotSize = slotSize;
    this.data = options.data ?? new Uint8Array(count * slotSize);
    this.lengths = new Int32Array(count);
    this.names = new Uint8Array(count * SOCKADDR_IN);
    this.headers = new Uint8Array(count * StructSize.mmsghdr);
    this.#iovecs = new Uint8Array(count * StructSize.iovec);
    this.#headerView = new DataView(this.headers.buffer);
    this.#iovecView = new DataView(this.#iovecs.buffer);
    this.segmentSizes = new Int32Array(count);
    const receiveControl = new Uint8Array(count * CMSG_SPACE_INT);
    this.#receiveControl = new DataView(receiveControl.buffer);
    this.#runHeaders = new Uint8Array(count * StructSize.mmsghdr);
    this.#runHeaderView = new DataView(this.#runHeaders.buffer);
    const runControl = new Uint8Array(count * CMSG_SPACE_INT);
    this.#runControl = new DataView(runControl.buffer);
    this.runFirst = new Int32Array(count);
    this.runSlots = new Int32Array(count);
    this.#runHeaderTails = [];
    const receiveControlBase = pointerValue(receiveControl);
    const runControlBase = pointerValue(runControl);
    const dataBase = pointerValue(this.data);
    const nameBase = pointerValue(this.names);
    const iovBase = pointerValue(this.#iovecs);
    const slots: Uint8Array[] = [];
    this.#headerTails = [];
    for (let i = 0; i < count; i++) {
      slots.push(this.data.subarray(i * slotSize, (i + 1) * slotSize));
      this.#headerTails.push(this.headers.subarray(i * StructSize.mmsghdr));
      const iov = i * StructSize.iovec;
      this.#iovecView.setBigUint64(iov + IOV_BASE, dataBase + BigInt(i * slotSize), true);
      this.#iovecView.setUint32(iov + IOV_LEN, slotSize, true);
      const h = i * StructSize.mmsghdr;
      this.#namePointers.push(nameBase + BigInt(i * SOCKADDR_IN));
      this.#iovPointers.push(iovBase + BigInt(iov));
      this.#headerView.setBigUint64(h + MSG_NAME, nameBase + BigInt(i * SOCKADDR_IN), true);
      this.#headerView.setUint32(h + MSG_NAMELEN, SOCKADDR_IN, true);
      this.#headerView.setBigUint64(h + MSG_IOV, iovBase + BigInt(iov), true);
      this.#headerView.setUint32(h + MSG_IOVLEN, 1, true);
      this.#headerView.setBigUint64(
        h + MSG_CONTROL,
        receiveControlBase + BigInt(i * CMSG_SPACE_INT),
        true,
      );
      // Run headers: the control pointer and the fixed cmsg header are written once.
      this.#runHeaderTails.push(this.#runHeaders.subarray(h));
      this.#runHeaderView.setBigUint64(
        h + MSG_CONTROL,
        runControlBase + BigInt(i * CMSG_SPACE_INT),
        true,
      );
      const c = i * CMSG_SPACE_INT;
      this.#runControl.setBigUint64(c, 18n, true); // CMSG_LEN(sizeof(u16))
      this.#runControl.setInt32(c + CMSG_LEVEL, SocketOption.SOL_UDP, true);
      this.#runControl.setInt32(c + CMSG_TYPE, SocketOption.UDP_SEGMENT, true);
    }
    this.slots = slots;
  }

  /** Sets the length of slot i's packet (what `sendmmsg` sends). */
  setLength(i: number, length: number): void {
    this.lengths[i] = length;
    this.#iovecView.setUint32(i * StructSize.iovec + IOV_LEN, length, true);
  }

  /** Copies a 16-byte `sockaddr_in` into slot i's address. */
  setName(i: number, sockaddr: Uint8Array): void {
    this.names.set(sockaddr, i * SOCKADDR_IN);
  }

  /** Source IPv4 address of slot i as a u32 (after a receive). */
  sourceWord(i: number): number {
    const n = this.names;
    const at = i * SOCKADDR_IN + 4;
    return ((n[at]! << 24) | (n[at + 1]! << 16) | (n[at + 2]! << 8) | n[at + 3]!) >>> 0;
  }

  /** Source port of slot i (after a receive). */
  sourcePort(i: number): number {
    const at = i * SOCKADDR_IN + 2;
    return (this.names[at]! << 8) | this.names[at + 1]!;
  }

  /**
   * @internal Prepares slots 0..n-1 for a receive: full-size buffers, room for an address, and
   * with `control` room for a UDP_GRO segment size.
   */
  resetForReceive(n: number, control = false): void {
    const hv = this.#headerView;
    const iv = this.#iovecView;
    for (let i = 0; i < n; i++) {
      hv.setUint32(i * StructSize.mmsghdr + MSG_NAMELEN, SOCKADDR_IN, true);
      iv.setUint32(i * StructSize.iovec + IOV_LEN, this.slotSize, true);
      if (control) hv.setUint32(i * StructSize.mmsghdr + MSG_CONTROLLEN, CMSG_SPACE_INT, true);
    }
  }

  /**
   * @internal Reads the received lengths of slots 0..n-1 into {@link lengths}; with `control`
   * also their UDP_GRO segment sizes into {@link segmentSizes} (and clears the control length,
   * so that a later send carries none).
   */
  takeReceivedLengths(n: number, control = false): void {
    const hv = this.#headerView;
    for (let i = 0; i < n; i++) {
      const h = i * StructSize.mmsghdr;
      this.lengths[i] = hv.getUint32(h + MSG_LEN, true);
      if (!control) continue;
      let size = 0;
      if (hv.getUint32(h + MSG_CONTROLLEN, true) >= CMSG_DATA + 4) {
        const cv = this.#receiveControl;
        const c = i * CMSG_SPACE_INT;
        if (
          cv.getInt32(c + CMSG_LEVEL, true) === SocketOption.SOL_UDP &&
          cv.getInt32(c + CMSG_TYPE, true) === SocketOption.UDP_GRO
        ) size = cv.getInt32(c + CMSG_DATA, true);
      }
      this.segmentSizes[i] = size;
      hv.setUint32(h + MSG_CONTROLLEN, 0, true);
    }
  }

  /**
   * @internal Groups slots 0..count-1 into GSO runs: consecutive datagrams to the same address
   * with the run's first length (the last one may be shorter), within the kernel's limits. A
   * run of one is a plain message. Returns the number of run messages; {@link runFirst} and
   * {@link runSlots} say which slots each covers.
   */
  buildSegmentRuns(count: number): number {
    const hv = this.#runHeaderView;
    const names = this.names;
    const lengths = this.lengths;
    let runs = 0;
    let i = 0;
    while (i < count) {
      const size = lengths[i]!;
      const at = i * SOCKADDR_IN;
      let total = size;
      let j = i + 1;
      while (j < count && j - i < UDP_MAX_SEGMENTS) {
        const length = lengths[j]!;
        if (length > size || total + length > UDP_MAX_SEGMENTED_PAYLOAD) break;
        const other = j * SOCKADDR_IN;
        let same = true;
        for (let k = 0; k < 8; k++) { // family, port, address
          if (names[at + k] !== names[other + k]) {
            same = false;
            break;
          }
        }
        if (!same) break;
        total += length;
        j++;
        if (length < size) break; // a shorter datagram ends the run
      }
      const h = runs * StructSize.mmsghdr;
      const slots = j - i;
      // msg_name and msg_iov of slot i; the run's iovecs are adjacent in the iovec array.
      hv.setBigUint64(h + MSG_NAME, this.#namePointers[i]!, true);
      hv.setUint32(h + MSG_NAMELEN, SOCKADDR_IN, true);
      hv.setBigUint64(h + MSG_IOV, this.#iovPointers[i]!, true);
      hv.setUint32(h + MSG_IOVLEN, slots, true);
      if (slots > 1) {
        this.#runControl.setUint16(runs * CMSG_SPACE_INT + CMSG_DATA, size, true);
        hv.setUint32(h + MSG_CONTROLLEN, CMSG_SPACE_INT, true);
      } else {
        hv.setUint32(h + MSG_CONTROLLEN, 0, true);
      }
      this.runFirst[runs] = i;
      this.runSlots[runs] = slots;
      runs++;
      i = j;
    }
    return runs;
  }

  /** @internal The run header array from run j on. */
  runHeadersFrom(j: number): Uint8Array {
    return this.#runHeaderTails[j]!;
  }

  /** @internal The header array from slot i on. */
  headersFrom(i: number): Uint8Array {
    return this.#headerTails[i]!;
  }
}

/** An IPv4 address in text form as a u32 (as in `sockaddr_in`), or -1 when it is not one. */
export function ipv4Word(address: string): number {
  const parts = address.split(".");
  if (parts.length !== 4) return -1;
  let word = 0;
  for (const part of parts) {
    const n = Number(part);
    if (!Number.isInteger(n) || n < 0 || n > 255 || part === "") return -1;
    word = word * 256 + n;
  }
  return word;
}

/** Text form of a u32 IPv4 address. */
export function formatIpv4Word(word: number): string {
  return `${word >>> 24}.${(word >>> 16) & 0xff}.${(word >>> 8) & 0xff}.${word & 0xff}`;
}

/** A `sockaddr_in` for `endpoint` (port 0 for raw sockets); throws for non-IPv4. */
export function sockaddrOf(endpoint: Endpoint): Uint8Array {
  const out = new Uint8Array(SOCKADDR_IN);
  if (!writeSockaddrIn(out, endpoint.address, endpoint.port)) {
    throw new RangeError(`Cannot address ${endpoint.address}: batched I/O is IPv4 only`);
  }
  return out;
}

/** Counters of one {@link BatchSocket}, plain fields for the hot path. */
export interface BatchSocketStats {
  rxPackets: number;
  txPackets: number;
  /** Datagrams given up on EAGAIN/ENOBUFS (socket buffer full). */
  txDropped: number;
  /** Datagrams refused otherwise (no route, too big, ...). */
  txErrors: number;
  /** UDP GSO: messages of more than one datagram sent, and the datagrams they carried. */
  txSegmentedMessages: number;
  txSegmentedDatagrams: number;
  /** UDP GSO refused by the kernel (EIO/EINVAL): segmentation is then off for the socket. */
  txSegmentationFailures: number;
  /** UDP GRO: received buffers holding more than one datagram, and the datagrams in them. */
  rxCoalescedBuffers: number;
  rxCoalescedDatagrams: number;
}

/**
 * A non-blocking datagram socket (UDP or raw ESP) for batched I/O. Wrap a descriptor with
 * `new BatchSocket(fd)` (e.g. in a worker); open one with {@link openBatchUdpSocket} or
 * {@link openBatchRawEspSocket}.
 */
export class BatchSocket {
  readonly fd: number;
  readonly stats: BatchSocketStats = {
    rxPackets: 0,
    txPackets: 0,
    txDropped: 0,
    txErrors: 0,
    txSegmentedMessages: 0,
    txSegmentedDatagrams: 0,
    txSegmentationFailures: 0,
    rxCoalescedBuffers: 0,
    rxCoalescedDatagrams: 0,
  };
  readonly #c: LibcSymbols;
  #sendLengths: bigint[] = [];
  #gro = false;
  #segmentation = true;

  constructor(fd: number) {
    this.fd = fd;
    this.#c = libc();
  }

  /**
   * Receives up to `batch.count` datagrams without blocking; returns how many (0 when nothing
   * is queued). Slot i holds datagram i (`lengths[i]`, source in `names`). Throws
   * {@link SysError} when the socket is broken.
   */
  receive(batch: PacketBatch, max: number = batch.count): number {
    const gro = this.#gro;
    batch.resetForReceive(max, gro);
    const n = this.#c.recvmmsg(this.fd, batch.headers, max, MsgFlag.MSG_DONTWAIT, 0n);
    if (n < 0) {
      const errno = lastErrno();
      if (errno === Errno.EAGAIN || errno === Errno.EINTR) return 0;
      throw new SysError("recvmmsg", errno, `receive on socket ${this.fd}`);
    }
    batch.takeReceivedLengths(n, gro);
    if (gro) {
      let datagrams = n;
      const sizes = batch.segmentSizes;
      for (let i = 0; i < n; i++) {
        const size = sizes[i]!;
        if (size > 0 && batch.lengths[i]! > size) {
          const count = Math.ceil(batch.lengths[i]! / size);
          this.stats.rxCoalescedBuffers++;
          this.stats.rxCoalescedDatagrams += count;
          datagrams += count - 1;
        }
      }
      this.stats.rxPackets += datagrams;
      return n;
    }
    this.stats.rxPackets += n;
    return n;
  }

  /**
   * Asks for UDP GRO (`UDP_GRO`, Linux ≥ 5.0): {@link receive} may then fill a slot with
   * several datagrams of one sender, all of `batch.segmentSizes[i]` bytes but the last (which
   * may be shorter); the caller splits them. False when the kernel refuses the option.
   */
  enableGro(): boolean {
    const v = new Uint8Array(4);
    new DataView(v.buffer).setInt32(0, 1, true);
    if (this.#c.setsockopt(this.fd, SocketOption.SOL_UDP, SocketOption.UDP_GRO, v, 4) < 0) {
      return false;
    }
    this.#gro = true;
    return true;
  }

  /** True after {@link enableGro} succeeded. */
  get gro(): boolean {
    return this.#gro;
  }

  /** False once the kernel refused a UDP GSO send on this socket. */
  get segmentation(): boolean {
    return this.#segmentation;
  }

  /**
   * Like {@link send}, but consecutive datagrams to one address with equal lengths (the last
   * may be shorter) go out as one UDP GSO message (`UDP_SEGMENT`): the kernel builds the
   * datagrams, each an ordinary UDP datagram on the wire. When the kernel refuses segmentation
   * (EIO: no checksum offload on the route; EINVAL) it is counted and turned off for this
   * socket, and the rest goes out with {@link send}. Returns the number of datagrams sent.
   */
  sendSegmented(batch: PacketBatch, count: number): number {
    if (!this.#segmentation) return this.send(batch, count);
    const runs = batch.buildSegmentRuns(count);
    const runSlots = batch.runSlots;
    let at = 0;
    let sent = 0;
    while (at < runs) {
      const n = this.#c.sendmmsg(this.fd, batch.runHeadersFrom(at), runs - at, 0);
      if (n > 0) {
        for (let j = at; j < at + n; j++) {
          const slots = runSlots[j]!;
          sent += slots;
          if (slots > 1) {
            this.stats.txSegmentedMessages++;
            this.stats.txSegmentedDatagrams += slots;
          }
        }
        at += n;
        continue;
      }
      const errno = n < 0 ? lastErrno() : Errno.EAGAIN;
      if (errno === Errno.EINTR) continue;
      if (errno === Errno.EAGAIN || errno === Errno.ENOBUFS) {
        let left = 0;
        for (let j = at; j < runs; j++) left += runSlots[j]!;
        this.stats.txDropped += left;
        break;
      }
      if (runSlots[at]! > 1 && (errno === Errno.EIO || errno === Errno.EINVAL)) {
        // Segmentation refused: the rest as plain datagrams (send() counts them).
        this.stats.txSegmentationFailures++;
        this.#segmentation = false;
        const first = batch.runFirst[at]!;
        this.stats.txPackets += sent;
        return sent + this.#sendFrom(batch, first, count);
      }
      this.stats.txErrors += runSlots[at]!;
      at++;
    }
    this.stats.txPackets += sent;
    return sent;
  }

  /**
   * Sends slots 0..count-1 (lengths set with {@link PacketBatch.setLength}, destinations with
   * {@link PacketBatch.setName}) with as few `sendmmsg` calls as the kernel allows. A datagram
   * the kernel refuses is counted and skipped; returns how many were sent.
   */
  send(batch: PacketBatch, count: number): number {
    return this.#sendFrom(batch, 0, count);
  }

  #sendFrom(batch: PacketBatch, from: number, count: number): number {
    let at = from;
    let sent = 0;
    while (at < count) {
      const n = this.#c.sendmmsg(this.fd, batch.headersFrom(at), count - at, 0);
      if (n > 0) {
        at += n;
        sent += n;
        continue;
      }
      const errno = n < 0 ? lastErrno() : Errno.EAGAIN;
      if (errno === Errno.EINTR) continue;
      // UDP semantics: a full buffer drops the rest of the batch; any other error the one.
      if (errno === Errno.EAGAIN || errno === Errno.ENOBUFS) {
        this.stats.txDropped += count - at;
        break;
      }
      this.stats.txErrors++;
      at++;
    }
    this.stats.txPackets += sent;
    return sent;
  }

  /** Sends one datagram to a 16-byte `sockaddr_in`; false when the kernel refused it. */
  sendTo(data: Uint8Array, sockaddr: Uint8Array): boolean {
    const length = this.#sendLengths[data.length] ??= BigInt(data.length);
    const n = this.#c.sendto(this.fd, data, length, 0, sockaddr, SOCKADDR_IN);
    if (n === data.length) {
      this.stats.txPackets++;
      return true;
    }
    const errno = n < 0 ? lastErrno() : Errno.EMSGSIZE;
    if (errno === Errno.EAGAIN || errno === Errno.ENOBUFS) this.stats.txDropped++;
    else this.stats.txErrors++;
    return false;
  }

  /** Closes the descriptor (only its owner: normally the thread that opened it). */
  close(): void {
    this.#c.close(this.fd);
  }
}

/** Options of {@link openBatchUdpSocket}. */
export interface BatchUdpSocketOptions {
  /** IPv4 address to bind ("0.0.0.0" for every address). */
  address: string;
  port: number;
  /** Join a SO_REUSEPORT group (every member must set it, under the same user). */
  reusePort?: boolean;
  /** SO_RCVBUF / SO_SNDBUF in bytes (the kernel doubles and caps them); default left alone. */
  bufferBytes?: number;
}

function setIntOption(fd: number, level: number, name: number, value: number, what: string) {
  const v = new Uint8Array(4);
  new DataView(v.buffer).setInt32(0, value, true);
  if (libc().setsockopt(fd, level, name, v, 4) < 0) {
    const errno = lastErrno();
    throw new SysError("setsockopt", errno, what);
  }
}

/**
 * Opens a non-blocking IPv4 UDP socket bound to `options`. Throws {@link SysError} (port in
 * use, address not local) or `RangeError` (not IPv4).
 *
 * @example
 * ```ts
 * const socket = openBatchUdpSocket({ address: "127.0.0.1", port: 0 });
 * ```
 */
export function openBatchUdpSocket(options: BatchUdpSocketOptions): BatchSocket {
  const sockaddr = sockaddrOf({ address: options.address, port: options.port });
  const c = libc();
  const fd = c.socket(
    AddressFamily.AF_INET,
    SocketType.SOCK_DGRAM | SocketType.SOCK_NONBLOCK | SocketType.SOCK_CLOEXEC,
    IpProtocol.IPPROTO_UDP,
  );
  const where = `${options.address}:${options.port}`;
  if (fd < 0) throw new SysError("socket", lastErrno(), `open a UDP socket for ${where}`);
  try {
    if (options.reusePort === true) {
      setIntOption(fd, SocketOption.SOL_SOCKET, SocketOption.SO_REUSEPORT, 1, `reuse ${where}`);
    }
    if (options.bufferBytes !== undefined) {
      for (const name of [SocketOption.SO_RCVBUF, SocketOption.SO_SNDBUF]) {
        setIntOption(fd, SocketOption.SOL_SOCKET, name, options.bufferBytes, "size buffers");
      }
    }
    if (c.bind(fd, sockaddr, SOCKADDR_IN) < 0) {
      throw new SysError("bind", lastErrno(), `bind a UDP socket to ${where}`);
    }
  } catch (e) {
    c.close(fd);
    throw e;
  }
  return new BatchSocket(fd);
}

/** The port a socket is bound to (`getsockname`). */
export function boundPort(fd: number): number {
  const sockaddr = new Uint8Array(SOCKADDR_IN);
  const length = new Uint8Array(4);
  new DataView(length.buffer).setUint32(0, SOCKADDR_IN, true);
  if (libc().getsockname(fd, sockaddr, length) < 0) {
    throw new SysError("getsockname", lastErrno(), `read the address of socket ${fd}`);
  }
  return (sockaddr[2]! << 8) | sockaddr[3]!;
}

/**
 * Opens a non-blocking raw IPv4 socket for IP protocol 50 (CAP_NET_RAW), bound to `address`
 * unless it is "0.0.0.0", with SO_RCVBUF/SO_SNDBUF of `bufferBytes` when given. Received
 * packets start with the IPv4 header.
 */
export function openBatchRawEspSocket(address: string, bufferBytes?: number): BatchSocket {
  const sockaddr = sockaddrOf({ address, port: 0 });
  const c = libc();
  const fd = c.socket(
    AddressFamily.AF_INET,
    SocketType.SOCK_RAW | SocketType.SOCK_NONBLOCK | SocketType.SOCK_CLOEXEC,
    IpProtocol.IPPROTO_ESP,
  );
  if (fd < 0) throw new SysError("socket", lastErrno(), "open a raw ESP socket (IP protocol 50)");
  try {
    if (bufferBytes !== undefined) {
      for (const name of [SocketOption.SO_RCVBUF, SocketOption.SO_SNDBUF]) {
        setIntOption(fd, SocketOption.SOL_SOCKET, name, bufferBytes, "size buffers");
      }
    }
    if (address !== "0.0.0.0" && c.bind(fd, sockaddr, SOCKADDR_IN) < 0) {
      throw new SysError("bind", lastErrno(), `bind the raw ESP socket to ${address}`);
    }
  } catch (e) {
    c.close(fd);
    throw e;
  }
  return new BatchSocket(fd);
}

// --- classic BPF -----------------------------------------------------------------------------

/** One classic BPF instruction (`struct sock_filter`). */
export interface SockFilter {
  code: number;
  jt: number;
  jf: number;
  k: number;
}

/** Classic BPF opcodes (linux/filter.h, linux/bpf_common.h) used by the dispatch rules. */
export const Bpf = {
  /** A = packet length. */
  LD_LEN: 0x80,
  /** A = u32 at [k] (big-endian). */
  LD_W_ABS: 0x20,
  /** A = u32 at [X + k]. */
  LD_W_IND: 0x40,
  /** X = 4 * (u8 at [k] & 0xf): the IPv4 header length. */
  LDX_B_MSH: 0xb1,
  /** A = A % k (unsigned). */
  ALU_MOD_K: 0x94,
  /** pc += (A == k) ? jt : jf. */
  JEQ_K: 0x15,
  /** pc += (A >= k) ? jt : jf. */
  JGE_K: 0x35,
  /** return k. */
  RET_K: 0x06,
  /** return A. */
  RET_A: 0x16,
} as const;

/** `struct sock_filter[]` bytes for `program`. */
export function encodeSockFilter(program: readonly SockFilter[]): Uint8Array {
  const out = new Uint8Array(program.length * StructSize.sock_filter);
  const view = new DataView(out.buffer);
  program.forEach((insn, i) => {
    const at = i * StructSize.sock_filter;
    view.setUint16(at, insn.code, true);
    view.setUint8(at + 2, insn.jt);
    view.setUint8(at + 3, insn.jf);
    view.setUint32(at + 4, insn.k >>> 0, true);
  });
  return out;
}

function attachProgram(fd: number, option: number, program: readonly SockFilter[], what: string) {
  const filter = encodeSockFilter(program);
  const fprog = new Uint8Array(StructSize.sock_fprog);
  const view = new DataView(fprog.buffer);
  view.setUint16(0, program.length, true);
  view.setBigUint64(8, pointerValue(filter), true);
  if (libc().setsockopt(fd, SocketOption.SOL_SOCKET, option, fprog, fprog.length) < 0) {
    throw new SysError("setsockopt", lastErrno(), what);
  }
}

/** SO_ATTACH_FILTER: the socket keeps only packets for which `program` returns non-zero. */
export function attachSocketFilter(fd: number, program: readonly SockFilter[]): void {
  attachProgram(fd, SocketOption.SO_ATTACH_FILTER, program, `attach a filter to socket ${fd}`);
}

/**
 * SO_ATTACH_REUSEPORT_CBPF on a member of a SO_REUSEPORT group: `program` returns the index (in
 * bind order) of the member that gets the datagram; an index beyond the group falls back to the
 * kernel's hash. For UDP the program sees the UDP payload at offset 0.
 */
export function attachReuseportProgram(fd: number, program: readonly SockFilter[]): void {
  attachProgram(
    fd,
    SocketOption.SO_ATTACH_REUSEPORT_CBPF,
    program,
    `attach a reuseport program to socket ${fd}`,
  );
}

// --- TUN queues and poll -------------------------------------------------------------------

/**
 * One queue of a TUN device for batched use: {@link readBatch} drains to EAGAIN (or a full
 * batch), {@link write} sends one packet to the kernel. Wraps a non-blocking descriptor.
 */
export class TunQueue {
  readonly fd: number;
  rxPackets = 0;
  txPackets = 0;
  /** Writes refused with EAGAIN/ENOBUFS. */
  txDropped = 0;
  /** Writes refused otherwise. */
  txErrors = 0;
  readonly #c: LibcSymbols;
  #slotLength = -1;
  #slotLengthBig = 0n;
  #writeLengths: bigint[] = [];

  constructor(fd: number) {
    this.fd = fd;
    this.#c = libc();
  }

  /**
   * Reads packets into slots `from`..`batch.count - 1` until EAGAIN or the batch is full;
   * returns the number read (their lengths in `batch.lengths`). Throws {@link SysError} when
   * the queue is broken.
   */
  readBatch(batch: PacketBatch, from = 0, max: number = batch.count - from): number {
    if (batch.slotSize !== this.#slotLength) {
      this.#slotLength = batch.slotSize;
      this.#slotLengthBig = BigInt(batch.slotSize);
    }
    const slots = batch.slots;
    const lengths = batch.lengths;
    let n = 0;
    while (n < max) {
      const i = from + n;
      const got = this.#c.read(this.fd, slots[i]!, this.#slotLengthBig);
      if (got < 0) {
        const errno = lastErrno();
        if (errno === Errno.EAGAIN || errno === Errno.EINTR) break;
        throw new SysError("read", errno, `read from TUN queue ${this.fd}`);
      }
      lengths[i] = got;
      n++;
    }
    this.rxPackets += n;
    return n;
  }

  /** Writes one packet; false when the kernel refused it (counted). */
  write(packet: Uint8Array): boolean {
    const length = this.#writeLengths[packet.length] ??= BigInt(packet.length);
    const n = this.#c.write(this.fd, packet, length);
    if (n === packet.length) {
      this.txPackets++;
      return true;
    }
    const errno = n < 0 ? lastErrno() : Errno.EIO;
    if (errno === Errno.EAGAIN || errno === Errno.ENOBUFS) this.txDropped++;
    else this.txErrors++;
    return false;
  }
}

/**
 * A fixed set of descriptors polled for POLLIN with the synchronous `poll` (the calling thread
 * blocks; meant for workers). {@link wait} returns the number ready; {@link ready} tells which.
 */
export class PollSet {
  readonly #fds: Uint8Array;
  readonly #view: DataView;
  readonly #count: number;
  readonly #countBig: bigint;
  readonly #c: LibcSymbols;

  constructor(fds: readonly number[]) {
    this.#count = fds.length;
    this.#countBig = BigInt(fds.length);
    this.#fds = new Uint8Array(Math.max(1, fds.length) * POLLFD_SIZE);
    this.#view = new DataView(this.#fds.buffer);
    fds.forEach((fd, i) => {
      this.#view.setInt32(i * POLLFD_SIZE, fd, true);
      this.#view.setInt16(i * POLLFD_SIZE + 4, PollEvent.POLLIN, true);
    });
    this.#c = libc();
  }

  /** Blocks up to `timeoutMs` (0 = just look); returns the number of ready descriptors. */
  wait(timeoutMs: number): number {
    const n = this.#c.poll(this.#fds, this.#countBig, timeoutMs);
    if (n < 0) {
      const errno = lastErrno();
      if (errno === Errno.EINTR) return 0;
      throw new SysError("poll", errno, "wait for packets");
    }
    return n;
  }

  /** True when descriptor i reported any event in the last {@link wait}. */
  ready(i: number): boolean {
    return i < this.#count && this.#view.getInt16(i * POLLFD_SIZE + 6, true) !== 0;
  }
}
