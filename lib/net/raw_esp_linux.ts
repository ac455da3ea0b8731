/**
 * Raw ESP (IP protocol 50, RFC 4303 without RFC 3948 encapsulation) over a Linux raw IPv4
 * socket: `socket(AF_INET, SOCK_RAW | SOCK_NONBLOCK, IPPROTO_ESP)` through FFI. The kernel
 * adds the IPv4 header on send; on receive it hands over the whole packet, header included,
 * so {@link parseRawIpv4} strips it (IHL) and the source address comes from the header.
 *
 * Like the TUN device, reading is `tryReceive` until -1/null, then `waitReadable` (the
 * `nonblocking` FFI poll on the socket and an eventfd that {@link RawEspSocket.close} writes).
 * The {@link DatagramSocket} methods (`receive`, `send`) wrap the same calls with port 0.
 *
 * Needs CAP_NET_RAW and `--allow-ffi`; IPv4 only.
 */
import { Counters } from "../log/mod.ts";
import {
  AddressFamily,
  Errno,
  IpProtocol,
  lastErrno,
  libc,
  type LibcSymbols,
  SocketType,
  StructSize,
  SysError,
} from "../sys/mod.ts";
import { tryParseIpAddress } from "../wire/mod.ts";
import type { DatagramSocket, Endpoint, ReceivedDatagram } from "./datagram.ts";
import { PollWaiter } from "./_poll_waiter_linux.ts";

// --- specification ---------------------------------------------------------------------------

/** Smallest IPv4 header (IHL 5), RFC 791 §3.1. */
export const IPV4_MIN_HEADER_LENGTH = 20;
/** Offsets in the IPv4 header (RFC 791 §3.1). */
const IPV4_TOTAL_LENGTH_OFFSET = 2;
const IPV4_PROTOCOL_OFFSET = 9;
const IPV4_SOURCE_OFFSET = 12;

// --- implementation --------------------------------------------------------------------------

/**
 * Upper bound of one {@link RawEspSocket.waitReadable} poll. Close wakes the poll through the
 * eventfd; the timeout only bounds how long a lost wake-up could stall a reader.
 */
export const RAW_ESP_POLL_TIMEOUT_MS = 1000;

/** Why {@link parseRawIpv4} refused a packet (negative, so a header length is never one). */
export const RawIpv4Error = {
  /** Shorter than the header it announces, or than 20 bytes. */
  TooShort: -1,
  /** The version nibble is not 4. */
  NotIpv4: -2,
  /** IHL below 5. */
  BadHeaderLength: -3,
  /** Total length below the header length or beyond the bytes received (truncated). */
  BadTotalLength: -4,
  /** Not the protocol the socket is for. */
  WrongProtocol: -5,
} as const;
export type RawIpv4Error = typeof RawIpv4Error[keyof typeof RawIpv4Error];

/**
 * Checks the IPv4 header a raw socket delivered in front of the payload and returns the header
 * length (the payload's offset), or a negative {@link RawIpv4Error}. The payload ends at the
 * header's total length, which must lie within `packet`. Linux hands raw sockets the header as
 * on the wire (total length in network order, fragments already reassembled).
 *
 * @example
 * ```ts
 * const offset = parseRawIpv4(packet, 50);
 * if (offset >= 0) {
 *   const end = (packet[2]! << 8) | packet[3]!;
 *   handleEsp(packet.subarray(offset, end));
 * }
 * ```
 */
export function parseRawIpv4(packet: Uint8Array, protocol: number): number {
  if (packet.length < IPV4_MIN_HEADER_LENGTH) return RawIpv4Error.TooShort;
  const first = packet[0]!;
  if (first >> 4 !== 4) return RawIpv4Error.NotIpv4;
  const headerLength = (first & 0x0f) * 4;
  if (headerLength < IPV4_MIN_HEADER_LENGTH) return RawIpv4Error.BadHeaderLength;
  if (packet.length < headerLength) return RawIpv4Error.TooShort;
  const totalLength = (packet[IPV4_TOTAL_LENGTH_OFFSET]! << 8) |
    packet[IPV4_TOTAL_LENGTH_OFFSET + 1]!;
  if (totalLength < headerLength || totalLength > packet.length) {
    return RawIpv4Error.BadTotalLength;
  }
  if (packet[IPV4_PROTOCOL_OFFSET] !== protocol) return RawIpv4Error.WrongProtocol;
  return headerLength;
}

/**
 * Writes an IPv4 `struct sockaddr_in` (port 0 unless given) into `out` (16 bytes); returns
 * false when `address` is not an IPv4 literal.
 */
export function writeSockaddrIn(out: Uint8Array, address: string, port = 0): boolean {
  const bytes = tryParseIpAddress(address);
  if (bytes === undefined || bytes.length !== 4) return false;
  out.fill(0, 0, StructSize.sockaddr_in);
  out[0] = AddressFamily.AF_INET & 0xff; // sa_family_t, host order (little-endian here)
  out[1] = AddressFamily.AF_INET >> 8;
  out[2] = port >> 8; // sin_port, network order
  out[3] = port & 0xff;
  out.set(bytes, 4);
  return true;
}

/** Options of {@link openRawEspSocket}. */
export interface RawEspSocketOptions {
  /** Local IPv4 address to bind; "0.0.0.0" (default) receives ESP for every local address. */
  address?: string;
  /** Upper bound of one poll in {@link RawEspSocket.waitReadable}; default 1000 ms. */
  pollTimeoutMs?: number;
}

/** Counter names of a {@link RawEspSocket}. */
export const RAW_ESP_COUNTER_NAMES = [
  "rxPackets",
  /** Packets whose IPv4 header did not check out ({@link parseRawIpv4}). */
  "rxMalformed",
  "txPackets",
  /** Sends refused with EAGAIN/ENOBUFS (socket buffer full). */
  "txDropped",
  /** Sends refused otherwise (no route, message too long, bad address, closed socket). */
  "txErrors",
] as const;
export type RawEspCounterName = (typeof RAW_ESP_COUNTER_NAMES)[number];

/**
 * Opens a non-blocking raw IPv4 socket for IP protocol 50, bound to `options.address` unless
 * that is the wildcard. Throws `RangeError` for an address that is not IPv4 and
 * {@link SysError} when a system call fails, e.g. without CAP_NET_RAW:
 * `Cannot open a raw ESP socket (IP protocol 50): EPERM (Operation not permitted)`.
 *
 * @example
 * ```ts
 * const raw = openRawEspSocket({ address: "0.0.0.0" });
 * const buf = new Uint8Array(65535);
 * for (;;) {
 *   const got = raw.tryReceive(buf);
 *   if (got === null) await raw.waitReadable();
 *   else handleEsp(got.data, got.from.address);
 * }
 * ```
 */
export function openRawEspSocket(options: RawEspSocketOptions = {}): RawEspSocket {
  const address = options.address ?? "0.0.0.0";
  const sockaddr = new Uint8Array(StructSize.sockaddr_in);
  if (!writeSockaddrIn(sockaddr, address)) {
    throw new RangeError(
      `Cannot open a raw ESP socket on ${address}: raw ESP is implemented for IPv4 only`,
    );
  }
  const pollTimeoutMs = options.pollTimeoutMs ?? RAW_ESP_POLL_TIMEOUT_MS;
  if (!Number.isInteger(pollTimeoutMs) || pollTimeoutMs < 1) {
    throw new RangeError(
      `Cannot open a raw ESP socket: poll timeout ${pollTimeoutMs} is not a positive integer`,
    );
  }
  const c = libc();
  const fd = c.socket(
    AddressFamily.AF_INET,
    SocketType.SOCK_RAW | SocketType.SOCK_NONBLOCK | SocketType.SOCK_CLOEXEC,
    IpProtocol.IPPROTO_ESP,
  );
  if (fd < 0) {
    throw new SysError("socket", lastErrno(), "open a raw ESP socket (IP protocol 50)");
  }
  if (address !== "0.0.0.0" && c.bind(fd, sockaddr, StructSize.sockaddr_in) < 0) {
    const errno = lastErrno();
    c.close(fd);
    throw new SysError("bind", errno, `bind the raw ESP socket to ${address}`);
  }
  let waiter: PollWaiter;
  try {
    waiter = PollWaiter.open(fd, pollTimeoutMs, "the raw ESP socket");
  } catch (e) {
    c.close(fd);
    throw e;
  }
  return new RawEspSocket({ fd, waiter, address });
}

interface RawEspHandle {
  fd: number;
  waiter: PollWaiter;
  address: string;
}

const RESOLVED: Promise<void> = Promise.resolve();
/**
 * `BigInt(n)` per packet length, made once: `sendto` takes `size_t` as a BigInt (FFI fast
 * path), and packet lengths vary, so a one-entry cache would allocate on most sends.
 */
const SEND_LENGTHS: bigint[] = [];
const EMPTY = new Uint8Array(0);
const NO_SOURCE: Endpoint = Object.freeze({ address: "", port: 0 });

/**
 * An open raw ESP socket; create it with {@link openRawEspSocket}. Endpoints have port 0.
 * All methods must be called from the thread that opened it.
 */
export class RawEspSocket implements DatagramSocket {
  readonly local: Endpoint;
  readonly counters: Counters<RawEspCounterName> = new Counters(RAW_ESP_COUNTER_NAMES);
  readonly #fd: number;
  readonly #waiter: PollWaiter;
  readonly #c: LibcSymbols;
  /** The result of {@link tryReceive}, reused: valid until the next call. */
  readonly #received: ReceivedDatagram = { data: EMPTY, from: NO_SOURCE };
  /** The last source seen, as a u32 and as a frozen endpoint (strings only on change). */
  #sourceWord = -1;
  #source: Endpoint = NO_SOURCE;
  /** The destination of the last send and its `sockaddr_in`. */
  readonly #toSockaddr = new Uint8Array(StructSize.sockaddr_in);
  #toAddress = "";
  /** `BigInt` length of the last read buffer. */
  #readLength = -1;
  #readLengthBig = 0n;
  #lastSendErrno = 0;
  #closed = false;

  /** @internal Use {@link openRawEspSocket}. */
  constructor(handle: RawEspHandle) {
    this.#fd = handle.fd;
    this.#waiter = handle.waiter;
    this.local = Object.freeze({ address: handle.address, port: 0 });
    this.#c = libc();
  }

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Reads one ESP packet into `buf` without blocking and returns it without its IPv4 header
   * (`data` is a view into `buf`, `from` the sender with port 0), or null when nothing is
   * queued. The returned object is reused: valid until the next call. Malformed packets are
   * counted (`rxMalformed`) and skipped. Throws {@link SysError} when the socket is closed or
   * broken.
   */
  tryReceive(buf: Uint8Array): ReceivedDatagram | null {
    if (this.#closed) {
      throw new SysError("read", Errno.EBADF, "read from the raw ESP socket: it is closed");
    }
    if (buf.length !== this.#readLength) {
      this.#readLength = buf.length;
      this.#readLengthBig = BigInt(buf.length);
    }
    for (;;) {
      const n = this.#c.read(this.#fd, buf, this.#readLengthBig);
      if (n < 0) {
        const errno = lastErrno();
        if (errno === Errno.EAGAIN || errno === Errno.EINTR) return null;
        throw new SysError("read", errno, "read from the raw ESP socket");
      }
      // Parsed in place (no view per packet); the total length must lie within the n bytes read.
      const offset = parseRawIpv4(buf, IpProtocol.IPPROTO_ESP);
      const end = (buf[IPV4_TOTAL_LENGTH_OFFSET]! << 8) | buf[IPV4_TOTAL_LENGTH_OFFSET + 1]!;
      if (offset < 0 || end > n) {
        this.counters.add("rxMalformed");
        continue;
      }
      this.counters.add("rxPackets");
      const received = this.#received;
      received.data = buf.subarray(offset, end);
      received.from = this.#sourceOf(buf);
      return received;
    }
  }

  /**
   * Resolves when a packet may be readable, the poll timed out, or the socket was closed.
   * Costs one worker-thread poll (17–30 µs): call it only after {@link tryReceive} returned null.
   */
  waitReadable(): Promise<void> {
    return this.#waiter.wait();
  }

  /** {@link DatagramSocket.receive}: waits for one packet (IPv4 header stripped, port 0). */
  async receive(buf: Uint8Array): Promise<ReceivedDatagram> {
    for (;;) {
      const got = this.tryReceive(buf);
      if (got !== null) return { data: got.data, from: got.from };
      await this.waitReadable();
    }
  }

  /**
   * Sends one ESP packet to `address` (the kernel adds the IPv4 header). Returns false when it
   * was dropped: EAGAIN/ENOBUFS count as `txDropped`, anything else as `txErrors`. Never throws.
   */
  trySend(data: Uint8Array, address: string): boolean {
    if (this.#closed) {
      this.#lastSendErrno = Errno.EBADF;
      this.counters.add("txErrors");
      return false;
    }
    if (address !== this.#toAddress) {
      if (!writeSockaddrIn(this.#toSockaddr, address)) {
        this.#toAddress = "";
        this.#lastSendErrno = Errno.EAFNOSUPPORT;
        this.counters.add("txErrors");
        return false;
      }
      this.#toAddress = address;
    }
    const n = this.#c.sendto(
      this.#fd,
      data,
      SEND_LENGTHS[data.length] ??= BigInt(data.length),
      0,
      this.#toSockaddr,
      StructSize.sockaddr_in,
    );
    if (n === data.length) {
      this.counters.add("txPackets");
      return true;
    }
    const errno = n < 0 ? lastErrno() : Errno.EMSGSIZE;
    this.#lastSendErrno = errno;
    this.counters.add(errno === Errno.EAGAIN || errno === Errno.ENOBUFS ? "txDropped" : "txErrors");
    return false;
  }

  /** {@link DatagramSocket.send}: {@link trySend} to `to.address` (the port is ignored). */
  send(data: Uint8Array, to: Endpoint): Promise<void> {
    if (this.trySend(data, to.address)) return RESOLVED;
    return Promise.reject(
      new SysError("sendto", this.#lastSendErrno, `send raw ESP to ${to.address}`),
    );
  }

  /** Closes the socket and wakes pending {@link waitReadable} calls. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#waiter.close();
    this.#c.close(this.#fd);
  }

  /** The packet's source as an endpoint; a new object only when the source changes. */
  #sourceOf(packet: Uint8Array): Endpoint {
    const a = packet[IPV4_SOURCE_OFFSET]!;
    const b = packet[IPV4_SOURCE_OFFSET + 1]!;
    const c = packet[IPV4_SOURCE_OFFSET + 2]!;
    const d = packet[IPV4_SOURCE_OFFSET + 3]!;
    const word = ((a << 24) | (b << 16) | (c << 8) | d) >>> 0;
    if (word !== this.#sourceWord) {
      this.#sourceWord = word;
      this.#source = Object.freeze({ address: `${a}.${b}.${c}.${d}`, port: 0 });
    }
    return this.#source;
  }
}
