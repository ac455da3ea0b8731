/**
 * The ESP data path, in pipeline order.
 *
 * Outbound ({@link runTunToPeer}):
 *   1. buffer   take an output buffer from the pool (an empty pool = wait: back-pressure)
 *   2. read     device.tryRead into the loop's read buffer; drain until -1, then waitReadable
 *   3. classify IPv4/IPv6 destination → longest-prefix match in the SADB → outbound SA
 *               (no SA: counted drop, `onNoRoute` for a later acquire)
 *   4. encrypt  encapsulate into the buffer after its headroom (SPI, seq, IV, ICV)
 *   5. send     hand (ESP bytes, SA remote, SA) to the sender; the buffer returns to the pool
 *               when the send settles
 *
 * Inbound ({@link runPeerToTun} → {@link handleInboundEsp}):
 *   1. receive  one datagram into the loop's buffer
 *   2. demux    RFC 3948: IKE (non-ESP marker) → onIke, keepalive → count, else ESP
 *   3. lookup   SPI → inbound SA (unknown: counted drop)
 *   4. decrypt  replay check, ICV, window update, decrypt in place, padding, next header
 *   5. police   inner source inside the SA's remote traffic selectors (RFC 4301 §5.2)
 *   6. deliver  device.write(inner packet)
 *
 * Per-packet failures are counted and dropped, never thrown out of a loop; logging of drops is
 * at debug level and rate-limited.
 */
import { Counters, Logger } from "../log/mod.ts";
import type { DatagramSocket, Endpoint } from "../net/mod.ts";
import type { PacketDevice } from "../net/mod.ts";
import { RateLimit } from "./_rate_limit.ts";
import { BufferPool, type PooledBuffer } from "./buffer_pool.ts";
import {
  EncapFailure,
  ESP_HEADER_LENGTH,
  ESP_HEADROOM,
  ESP_MAX_OVERHEAD,
  EspDropReason,
  NextHeader,
} from "./constants.ts";
import { decapsulate } from "./decap.ts";
import { encapsulate } from "./encap.ts";
import { addressOffset, formatAddressBytes, ipVersionOf } from "./ip_prefix.ts";
import type { EspSa } from "./sa.ts";
import { type InboundEntry, Sadb } from "./sadb.ts";
import { classifyUdpEncap, espSpiOf, stripNonEspMarker, UdpEncapKind } from "./udp_encap.ts";

/** Counter names of the outbound loop. */
export const TUN_TO_PEER_COUNTERS = [
  "rxPackets",
  "rxBytes",
  "txPackets",
  "txBytes",
  "dropMalformed",
  "dropNoRoute",
  "dropTooBig",
  "dropSequenceExhausted",
  "dropEncap",
  "readErrors",
  "txErrors",
] as const;
export type TunToPeerCounterName = typeof TUN_TO_PEER_COUNTERS[number];

/** Counter names of the inbound path. */
export const PEER_TO_TUN_COUNTERS = [
  "rxPackets",
  "rxBytes",
  "txPackets",
  "txBytes",
  "rxIke",
  "rxKeepalive",
  "dropInvalid",
  "dropUnknownSpi",
  "dropReplay",
  "dropAuth",
  "dropMalformed",
  "dropPadding",
  "dropDummy",
  "dropWrongSpi",
  "dropNoRoom",
  "dropNextHeader",
  "dropSelector",
  "dropDeviceFull",
  "receiveErrors",
] as const;
export type PeerToTunCounterName = typeof PEER_TO_TUN_COUNTERS[number];

/** Creates the counter group of {@link runTunToPeer}. */
export function createTunToPeerCounters(): Counters<TunToPeerCounterName> {
  return new Counters(TUN_TO_PEER_COUNTERS);
}

/** Creates the counter group of {@link handleInboundEsp} / {@link runPeerToTun}. */
export function createPeerToTunCounters(): Counters<PeerToTunCounterName> {
  return new Counters(PEER_TO_TUN_COUNTERS);
}

/**
 * Sends one ESP packet. `datagram` is a view into a pooled buffer that stays untouched until
 * the returned promise settles (or until return, for a synchronous sender that copies).
 */
export type EspSender = (
  datagram: Uint8Array,
  remote: Endpoint,
  sa: EspSa,
) => void | Promise<unknown>;

/** Options of {@link runTunToPeer}. */
export interface TunToPeerOptions {
  /** Stops the loop. */
  signal?: AbortSignal;
  /** Called for a packet with no outbound SA (an acquire for on-demand tunnels later). */
  onNoRoute?: (destination: string, packet: Uint8Array) => void;
  /** Counters to add to; default a fresh group (then invisible to the caller). */
  counters?: Counters<TunToPeerCounterName>;
  /** Output buffers in flight; default 256. */
  poolSize?: number;
  /** Bytes per output buffer; default device MTU + ESP overhead + headroom. */
  bufferSize?: number;
  log?: Logger;
}

const READ_BUFFER_LENGTH = 65535;
const DEFAULT_POOL_SIZE = 256;
/** Packets handled back to back before the loop lets timers and I/O run. */
const YIELD_EVERY = 1024;
const ERROR_BACKOFF_MS = 10;
const DROP_LOG_PER_SECOND = 10;

const ENCAP_COUNTER: Record<number, TunToPeerCounterName> = {
  [EncapFailure.TooBig]: "dropTooBig",
  [EncapFailure.SequenceExhausted]: "dropSequenceExhausted",
  [EncapFailure.UnknownNextHeader]: "dropMalformed",
  [EncapFailure.WrongSa]: "dropEncap",
};

const DECAP_COUNTER: Record<number, PeerToTunCounterName> = {
  [EspDropReason.Malformed]: "dropMalformed",
  [EspDropReason.WrongSpi]: "dropWrongSpi",
  [EspDropReason.Replay]: "dropReplay",
  [EspDropReason.Auth]: "dropAuth",
  [EspDropReason.Padding]: "dropPadding",
  [EspDropReason.Dummy]: "dropDummy",
  [EspDropReason.NoRoom]: "dropNoRoom",
};

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function abortPromise(signal: AbortSignal | undefined): Promise<void> | null {
  if (!signal) return null;
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) =>
    signal.addEventListener("abort", () => resolve(), { once: true })
  );
}

function destinationText(packet: Uint8Array): string {
  const version = ipVersionOf(packet);
  if (version === 0) return "";
  const at = addressOffset(version, "destination");
  return formatAddressBytes(packet.subarray(at, at + (version === 4 ? 4 : 16)));
}

/**
 * The outbound loop: reads IP packets from `device`, encrypts each with the outbound SA its
 * destination maps to, and sends it with `sendEsp`. Resolves when the device closes or
 * `options.signal` aborts; never rejects for a per-packet failure.
 *
 * @example
 * ```ts
 * const counters = createTunToPeerCounters();
 * await runTunToPeer(tun, sadb, (d, to) => socket.send(d, to), { counters, signal });
 * ```
 */
export async function runTunToPeer(
  device: PacketDevice,
  sadb: Sadb,
  sendEsp: EspSender,
  options: TunToPeerOptions = {},
): Promise<void> {
  const counters = options.counters ?? createTunToPeerCounters();
  const log = options.log ?? new Logger("esp", device.name);
  const limit = new RateLimit(DROP_LOG_PER_SECOND);
  const signal = options.signal;
  const aborted = abortPromise(signal);
  const pool = new BufferPool({
    count: options.poolSize ?? DEFAULT_POOL_SIZE,
    size: options.bufferSize ?? device.mtu + ESP_MAX_OVERHEAD + ESP_HEADROOM,
    headroom: ESP_HEADROOM,
    onError: (e) => {
      counters.add("txErrors");
      if (log.enabled("debug") && limit.allow()) log.debug(`send failed: ${String(e)}`);
    },
  });
  const readBuffer = new Uint8Array(READ_BUFFER_LENGTH);

  let out: PooledBuffer | undefined;
  let sinceYield = 0;
  while (!device.closed && !signal?.aborted) {
    // 1. buffer
    if (!out) out = pool.acquire();
    if (!out) {
      await (aborted ? Promise.race([pool.waitAvailable(), aborted]) : pool.waitAvailable());
      continue;
    }
    // 2. read
    let n: number;
    try {
      n = device.tryRead(readBuffer);
    } catch (e) {
      if (device.closed) break;
      counters.add("readErrors");
      if (log.enabled("debug") && limit.allow()) log.debug(`read failed: ${String(e)}`);
      await sleep(ERROR_BACKOFF_MS);
      continue;
    }
    if (n < 0) {
      sinceYield = 0;
      const readable = device.waitReadable();
      await (aborted ? Promise.race([readable, aborted]) : readable);
      continue;
    }
    if (++sinceYield >= YIELD_EVERY) {
      sinceYield = 0;
      await sleep(0);
    }
    counters.add("rxPackets");
    counters.add("rxBytes", n);
    const packet = readBuffer.subarray(0, n);

    // 3. classify
    if (ipVersionOf(packet) === 0) {
      counters.add("dropMalformed");
      continue;
    }
    const sa = sadb.lookupOutbound(packet);
    if (!sa) {
      counters.add("dropNoRoute");
      const logIt = log.enabled("debug") && limit.allow();
      if (options.onNoRoute || logIt) {
        const destination = destinationText(packet);
        if (logIt) log.debug(`no SA for ${destination}`);
        try {
          options.onNoRoute?.(destination, packet);
        } catch (e) {
          log.warn(`onNoRoute failed: ${String(e)}`);
        }
      }
      continue;
    }

    // 4. encrypt
    const length = encapsulate(sa, packet, out.payload);
    if (length < 0) {
      counters.add(ENCAP_COUNTER[length] ?? "dropEncap");
      continue;
    }

    // 5. send
    const buf = out;
    out = undefined;
    counters.add("txPackets");
    counters.add("txBytes", length);
    try {
      const sent = sendEsp(buf.payload.subarray(0, length), sa.remote, sa);
      if (sent) sent.then(buf.release, buf.fail);
      else buf.release();
    } catch (e) {
      buf.fail(e);
    }
  }
  if (out) out.release();
}

/** Shared state of {@link handleInboundEsp} calls: create once per inbound path. */
export interface InboundContext {
  counters: Counters<PeerToTunCounterName>;
  log: Logger;
  limit: RateLimit;
  /**
   * A batching caller's running sums of `rxPackets`/`rxBytes`/`txPackets`/`txBytes`, which
   * {@link deliverInboundEsp} then adds to instead of the counters (four lookups per packet
   * fewer); the caller moves them into the counters with {@link publishInboundTally}.
   */
  tally?: InboundTally;
}

/** See {@link InboundContext.tally}. */
export interface InboundTally {
  rxPackets: number;
  rxBytes: number;
  txPackets: number;
  txBytes: number;
}

/** Adds what `context.tally` summed to its counters and clears it (once per batch). */
export function publishInboundTally(context: InboundContext): void {
  const tally = context.tally;
  if (tally === undefined || tally.rxPackets === 0) return;
  const counters = context.counters;
  counters.add("rxPackets", tally.rxPackets);
  counters.add("rxBytes", tally.rxBytes);
  if (tally.txPackets > 0) {
    counters.add("txPackets", tally.txPackets);
    counters.add("txBytes", tally.txBytes);
  }
  tally.rxPackets =
    tally.rxBytes =
    tally.txPackets =
    tally.txBytes =
      0;
}

/** Creates the state for {@link handleInboundEsp}. */
export function createInboundContext(
  counters: Counters<PeerToTunCounterName> = createPeerToTunCounters(),
  log: Logger = new Logger("esp", "in"),
): InboundContext {
  return { counters, log, limit: new RateLimit(DROP_LOG_PER_SECOND) };
}

/** Outcome of {@link handleInboundEsp}: 0 = delivered, otherwise why it was dropped. */
export const InboundResult = {
  Delivered: 0,
  /** Shorter than an ESP header. */
  Malformed: 1,
  /** No inbound SA with this SPI. */
  UnknownSpi: 2,
  /** decapsulate() dropped it (reason counted on the SA and in the path counters). */
  Decap: 3,
  /** Next header is not IPv4/IPv6, or the inner packet does not match it. */
  NextHeader: 4,
  /** Inner source outside the SA's remote traffic selectors (RFC 4301 §5.2). */
  Selector: 5,
  /** The device refused the packet. */
  DeviceFull: 6,
} as const;
export type InboundResult = typeof InboundResult[keyof typeof InboundResult];

const contexts = new WeakMap<Sadb, InboundContext>();

/**
 * The context {@link handleInboundEsp} uses for `sadb` when the caller passes none: one per
 * SADB (i.e. per data path), created on first use, so its counters can be read here.
 */
export function inboundContextOf(sadb: Sadb): InboundContext {
  let context = contexts.get(sadb);
  if (!context) {
    context = createInboundContext();
    contexts.set(sadb, context);
  }
  return context;
}

/**
 * Decrypts one inbound ESP packet (raw, or UDP-encapsulated after the RFC 3948 demux) and
 * writes the inner packet to `device`. Decrypts in place: `datagram` is overwritten. Returns an
 * {@link InboundResult}; never throws. Without `context`, counts into
 * {@link inboundContextOf}(sadb).
 *
 * @example
 * ```ts
 * const ctx = createInboundContext();
 * handleInboundEsp(sadb, datagram, tun, ctx);
 * ```
 */
export function handleInboundEsp(
  sadb: Sadb,
  datagram: Uint8Array,
  device: PacketDevice,
  context: InboundContext = inboundContextOf(sadb),
): InboundResult {
  const counters = context.counters;
  // 3. lookup
  if (datagram.length < ESP_HEADER_LENGTH) {
    counters.add("rxPackets");
    counters.add("rxBytes", datagram.length);
    counters.add("dropMalformed");
    return InboundResult.Malformed;
  }
  const spi = espSpiOf(datagram);
  const entry = sadb.lookupInbound(spi);
  if (!entry) {
    counters.add("rxPackets");
    counters.add("rxBytes", datagram.length);
    counters.add("dropUnknownSpi");
    if (context.log.enabled("debug") && context.limit.allow()) {
      context.log.debug(`no inbound SA for SPI 0x${spi.toString(16).padStart(8, "0")}`);
    }
    return InboundResult.UnknownSpi;
  }
  return deliverInboundEsp(entry, datagram, device, context);
}

/**
 * Steps 4–6 of {@link handleInboundEsp} for a caller that already found the inbound SA's
 * entry (`datagram` is at least an ESP header long and carries `entry.sa.spi`): decrypts in
 * place, polices the inner source and writes the inner packet to `device`. Never throws.
 * `textView`: see {@link decapsulate}.
 */
export function deliverInboundEsp(
  entry: InboundEntry,
  datagram: Uint8Array,
  device: PacketDevice,
  context: InboundContext,
  textView?: Uint8Array,
): InboundResult {
  const counters = context.counters;
  const tally = context.tally;
  if (tally !== undefined) {
    tally.rxPackets++;
    tally.rxBytes += datagram.length;
  } else {
    counters.add("rxPackets");
    counters.add("rxBytes", datagram.length);
  }
  // 4. decrypt
  const result = decapsulate(entry.sa, datagram, undefined, textView);
  if (typeof result === "number") {
    counters.add(DECAP_COUNTER[result] ?? "dropMalformed");
    if (
      result !== EspDropReason.Dummy && context.log.enabled("debug") && context.limit.allow()
    ) {
      context.log.debug(`dropped ESP on SPI 0x${entry.sa.spi.toString(16)}: reason ${result}`);
    }
    return InboundResult.Decap;
  }
  const inner = result.packet;
  const version = ipVersionOf(inner);
  const nh = result.nextHeader;
  if (
    !((nh === NextHeader.Ipv4 && version === 4) || (nh === NextHeader.Ipv6 && version === 6))
  ) {
    counters.add("dropNextHeader");
    return InboundResult.NextHeader;
  }
  // 5. police
  if (!Sadb.sourceAllowed(entry, inner)) {
    counters.add("dropSelector");
    if (context.log.enabled("debug") && context.limit.allow()) {
      context.log.debug(
        `inner source outside traffic selectors on SPI 0x${entry.sa.spi.toString(16)}`,
      );
    }
    return InboundResult.Selector;
  }
  // 6. deliver
  if (!device.write(inner)) {
    counters.add("dropDeviceFull");
    return InboundResult.DeviceFull;
  }
  if (tally !== undefined) {
    tally.txPackets++;
    tally.txBytes += inner.length;
  } else {
    counters.add("txPackets");
    counters.add("txBytes", inner.length);
  }
  return InboundResult.Delivered;
}

/** Options of {@link runPeerToTun}. */
export interface PeerToTunOptions {
  signal?: AbortSignal;
  /**
   * IKE messages that arrived on this socket behind the non-ESP marker; `message` is a view
   * into the receive buffer, valid only during the call.
   */
  onIke?: (message: Uint8Array, from: Endpoint) => void;
  counters?: Counters<PeerToTunCounterName>;
  log?: Logger;
}

/**
 * The inbound loop for a UDP-encapsulation socket (port 4500): demultiplexes each datagram
 * (RFC 3948) and feeds ESP to {@link handleInboundEsp}. Resolves when the socket closes or
 * `options.signal` aborts.
 *
 * @example
 * ```ts
 * await runPeerToTun(socket4500, sadb, tun, { onIke: (m, from) => ike.receive(m, from) });
 * ```
 */
export async function runPeerToTun(
  socket: DatagramSocket,
  sadb: Sadb,
  device: PacketDevice,
  options: PeerToTunOptions = {},
): Promise<void> {
  const context = createInboundContext(
    options.counters ?? createPeerToTunCounters(),
    options.log ?? new Logger("esp", socket.local.port.toString()),
  );
  const counters = context.counters;
  const signal = options.signal;
  const aborted = abortPromise(signal);
  const buf = new Uint8Array(READ_BUFFER_LENGTH);
  while (!socket.closed && !device.closed && !signal?.aborted) {
    // 1. receive
    let data: Uint8Array;
    let from: Endpoint;
    try {
      const receiving = socket.receive(buf);
      const received = aborted ? await Promise.race([receiving, aborted]) : await receiving;
      if (!received) {
        // Aborted: the pending receive settles when the owner closes the socket.
        receiving.catch(() => {});
        break;
      }
      data = received.data;
      from = received.from;
    } catch (e) {
      if (socket.closed) break;
      counters.add("receiveErrors");
      if (context.log.enabled("debug") && context.limit.allow()) {
        context.log.debug(`receive failed: ${String(e)}`);
      }
      await sleep(ERROR_BACKOFF_MS);
      continue;
    }
    // 2. demux
    switch (classifyUdpEncap(data)) {
      case UdpEncapKind.Esp:
        handleInboundEsp(sadb, data, device, context);
        break;
      case UdpEncapKind.Ike:
        counters.add("rxIke");
        try {
          options.onIke?.(stripNonEspMarker(data), from);
        } catch (e) {
          context.log.warn(`onIke failed: ${String(e)}`);
        }
        break;
      case UdpEncapKind.Keepalive:
        counters.add("rxKeepalive");
        break;
      default:
        counters.add("dropInvalid");
    }
  }
}
