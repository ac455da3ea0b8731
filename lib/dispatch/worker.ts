/**
 * One data-plane worker: a synchronous loop over its own TUN queues, its member of the UDP
 * (NAT-T) SO_REUSEPORT group and its raw ESP socket, in pipeline order:
 *
 *   0. control  the main thread posted control (control word ahead of `applied`): yield to the
 *               event loop until it is applied — before any further batch
 *   1. wait     blocking poll on [wake eventfd, UDP, raw, TUN queues] (timeout 0 while the
 *               last round filled a batch); only ready descriptors are read below
 *   2. inbound  recvmmsg a batch on UDP: RFC 3948 demux (IKE → main, keepalive → main, ESP →
 *               SA by SPI → decrypt in place → police → TUN write); the same for raw ESP after
 *               the IPv4 header. Offload queues: the batch's decrypted packets are coalesced
 *               (GRO) into as few TUN writes as possible
 *   3. outbound per realm: drain the TUN queue into a batch (read to EAGAIN, ≤ batch size)
 *               → offload queues: split TCP super packets into MSS segments (GSO)
 *               → outbound SA by destination → encrypt into the send batch (UDP or raw)
 *               → one sendmmsg per socket (more when a split fills the batch)
 *
 * Per-packet failures are counted (shared counters, read by the main thread) and dropped, never
 * thrown out of the loop. Each worker holds its own EspSa copies: inbound SAs it owns (its own
 * replay window), every outbound SA (its own EVP contexts, a shared sequence number). No
 * promise and no buffer per packet: batches, segment buffers and the coalescer's arena are
 * made once (typed-array views aside).
 */
import { LibcryptoProvider } from "../crypto/mod.ts";
import {
  ChecksumMemory,
  classifyUdpEncap,
  createInboundContext,
  deliverInboundEsp,
  EncapFailure,
  encapsulate,
  encapsulatedTextStart,
  encapsulateInPlace,
  ESP_HEADER_LENGTH,
  EspSa,
  espSpiOf,
  GroCoalescer,
  GsoSplitter,
  type InboundContext,
  type InboundEntry,
  InboundResult,
  ipVersionOf,
  parsePrefix,
  publishInboundTally,
  Sadb,
  type SegmentOutput,
  type TunToPeerCounterName,
  UdpEncapKind,
  useChecksumMemory,
} from "../esp/mod.ts";
import { type Counters, Logger } from "../log/mod.ts";
import {
  BatchSocket,
  formatIpv4Word,
  ipv4Word,
  MAX_SLOT_SIZE,
  PacketBatch,
  type PacketDevice,
  parseRawIpv4,
  PollSet,
  sockaddrOf,
  TunQueue,
  VNET_HDR_LENGTH,
} from "../net/mod.ts";
import { IpProtocol, libc } from "../sys/mod.ts";
import type { ControlMessage, WorkerMessage, WorkerRealm, WorkerSaParams } from "./messages.ts";
import {
  type OffloadCounters,
  sequenceSlotOf,
  type WorkerCounterName,
  workerCounters,
  workerOffloadCounters,
  WorkerPhase,
  type WorkerProgress,
  workerRealmCounters,
  workerSaCounters,
} from "./shared_state.ts";

/** Packets per system call (recvmmsg/sendmmsg, TUN drain). */
export const BATCH_SIZE = 64;
/**
 * Bytes per batch slot: any datagram, TUN packet or offload frame fits (pages are touched only
 * when used).
 */
const SLOT_SIZE = MAX_SLOT_SIZE;
/** Largest tunnel MTU (conf: `<tunnel mtu>` ≤ 9000) plus room for headers: one GSO segment. */
const MAX_SEGMENT_SIZE = 9000 + 64;
/**
 * Decrypted packets an offload queue collects before coalescing them into TUN frames: several
 * 64 KiB frames' worth (46 segments each at MTU 1438), so that frames are rarely cut short at
 * the end of a collection (with 64, frames averaged 26 segments instead of 46 and the TUN took
 * 1.7× the writes, each with the kernel's TCP receive work).
 */
const COALESCE_PACKETS = 4 * BATCH_SIZE;
/**
 * The worker's GRO coalescing arena, shared by every realm: COALESCE_PACKETS segments at the
 * largest MTU (2.3 MiB of packet memory; at MTU 1438 the first 0.5 MiB are touched).
 */
const COALESCE_ARENA_BYTES = COALESCE_PACKETS * (MAX_SEGMENT_SIZE + VNET_HDR_LENGTH);
/** Packet memory beyond its buffers: alignment padding (64 bytes per buffer at most). */
const PACKET_MEMORY_SLACK = 65536;
/** Upper bound of one blocking poll: a lost wake-up stalls control at most this long. */
export const POLL_TIMEOUT_MS = 500;
/** Least interval between two no-route reports of a realm to the main thread. */
const NO_ROUTE_REPORT_MS = 200;
const ERROR_BACKOFF_MS = 10;
/** A broken descriptor fails every round: its error is logged at most this often. */
const FAILURE_LOG_INTERVAL_MS = 5_000;

const ENCAP_COUNTER: Record<number, TunToPeerCounterName> = {
  [EncapFailure.TooBig]: "dropTooBig",
  [EncapFailure.SequenceExhausted]: "dropSequenceExhausted",
  [EncapFailure.UnknownNextHeader]: "dropMalformed",
  [EncapFailure.WrongSa]: "dropEncap",
};

interface RealmState {
  id: number;
  name: string;
  tun: TunQueue;
  /** Offload queue: reads split into segments, writes coalesced; null without offloads. */
  offload: RealmOffload | null;
  /** `deliverInboundEsp` writes through this. */
  device: PacketDevice;
  sadb: Sadb;
  outbound: Counters<TunToPeerCounterName>;
  inbound: InboundContext;
  lastNoRoute: number;
}

interface RealmOffload {
  splitter: GsoSplitter;
  /** The worker's split output (shared by its realms). */
  segments: SegmentOutput & { start: number };
  coalescer: GroCoalescer;
  /** Decrypted packets of the current inbound batch (views into its slots) to coalesce. */
  pending: Uint8Array[];
  pendingCount: number;
}

interface InboundRecord {
  realm: RealmState;
  sa: EspSa;
  /** The realm SADB's entry of `sa` (decryption goes straight to it). */
  entry: InboundEntry;
  /** Where the SA's UDP-encapsulated packets should come from (-1: raw ESP). */
  remoteWord: number;
  remotePort: number;
  /** The last new source reported to the main thread (reported once per change). */
  reportedWord: number;
  reportedPort: number;
}

interface OutboundRecord {
  realm: RealmState;
  sa: EspSa;
  prefixes: ReturnType<typeof parsePrefix>[];
  active: boolean;
  /** `sockaddr_in` of the SA's remote (port 0 for raw ESP). */
  sockaddr: Uint8Array;
  udp: boolean;
}

/** A UDP receive slot's datagram views for one segment size (see `#receiveViews`). */
interface ReceiveViews {
  size: number;
  datagrams: Uint8Array[];
  texts: Uint8Array[];
}

/** Where an AES-GCM SA's ciphertext starts in an ESP packet: header and 8-byte IV. */
const GCM_TEXT_START = ESP_HEADER_LENGTH + 8;
/**
 * Smallest GRO segment size whose views are kept per slot (smaller ones would mean hundreds of
 * views per slot, remade whenever the size changes): such datagrams get a view each.
 */
const MIN_VIEWED_SEGMENT = 1024;

type InitMessage = Extract<ControlMessage, { type: "init" }>;

function macrotask(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

function queueDevice(
  name: string,
  mtu: number,
  tun: TunQueue,
  offload: RealmOffload | null,
): PacketDevice {
  return {
    name,
    mtu,
    closed: false,
    tryRead: () => -1,
    waitReadable: () => Promise.resolve(),
    write: offload === null ? (packet) => tun.write(packet) : (packet) => {
      // Written as coalesced frames once the inbound batch is done (flushOffload).
      if (offload.pendingCount === offload.pending.length) flushOffload(tun, offload);
      offload.pending[offload.pendingCount++] = packet;
      return true;
    },
    close: () => {},
  };
}

/** Adds a super packet's figures to a realm's TUN-to-peer counters. */
function countOutbound(
  counters: Counters<TunToPeerCounterName>,
  packets: number,
  bytes: number,
  sent: number,
  sentBytes: number,
): void {
  if (packets === 0) return;
  counters.add("rxPackets", packets);
  counters.add("rxBytes", bytes);
  if (sent === 0) return;
  counters.add("txPackets", sent);
  counters.add("txBytes", sentBytes);
}

/** Coalesces the packets an offload queue collected and writes the frames. */
function flushOffload(tun: TunQueue, offload: RealmOffload): void {
  const count = offload.pendingCount;
  if (count === 0) return;
  offload.pendingCount = 0;
  const coalescer = offload.coalescer;
  const frames = coalescer.coalesce(offload.pending, count);
  for (let i = 0; i < frames; i++) tun.write(coalescer.frame(i));
}

/**
 * The worker's state and loop; `post` sends to the main thread. Created by worker_entry.ts from
 * the `init` message.
 */
export class DataPlaneWorker {
  readonly index: number;
  readonly workers: number;
  readonly log: Logger;
  readonly #post: (message: WorkerMessage) => void;
  readonly #crypto = new LibcryptoProvider();
  readonly #control: Int32Array;
  readonly #wakeFd: number;
  readonly #wakeBuffer = new Uint8Array(8);
  readonly #udp: BatchSocket;
  readonly #raw: BatchSocket | null;
  readonly #realms = new Map<number, RealmState>();
  readonly #inbound = new Map<number, InboundRecord>();
  readonly #outbound = new Map<number, OutboundRecord>();
  readonly #outboundBySa = new Map<EspSa, OutboundRecord>();
  /** TUN reads (super packets are split from here: packet memory, like the send slots). */
  readonly #tunBatch: PacketBatch;
  readonly #udpSend: PacketBatch;
  readonly #rawSend: PacketBatch;
  readonly #udpReceive: PacketBatch;
  readonly #rawReceive: PacketBatch | null;
  /** GSO split output, shared by the realms (each outbound batch uses it up at once). */
  readonly #segments: SegmentOutput & { start: number };
  /**
   * Where every offload realm's coalescer builds its frames: flushOffload writes a realm's
   * frames to its TUN queue before any other realm coalesces, so one arena serves them all
   * (in packet memory, whatever the number of realms and however often they change).
   */
  readonly #coalesceArena: Uint8Array;
  /**
   * The `sockaddr` array last copied into each slot of the UDP and raw send batches (a path
   * change gives a record a new array): the 16 bytes are copied only when it changes.
   */
  readonly #udpSendNames: (Uint8Array | undefined)[] = [];
  readonly #rawSendNames: (Uint8Array | undefined)[] = [];
  /** {@link #receiveViews}, by UDP receive slot (GRO segments). */
  readonly #receiveViewCache: (ReceiveViews | undefined)[] = [];
  /** Each UDP receive slot's ESP text view for a slot that holds one datagram. */
  readonly #slotTexts: Uint8Array[];
  /** {@link #sendViews}, by send batch and ESP text offset. */
  readonly #sendViewCache = new Map<PacketBatch, Map<number, SegmentOutput & { start: number }>>();
  #poll!: PollSet;
  #pollRealms: RealmState[] = [];
  /** Packets queued in the send batches (see {@link #flush}). */
  #udpCount = 0;
  #rawCount = 0;
  #applied = 0;
  #lastFailureLog = 0;
  #stopping = false;
  #stopSeq = 0;
  /** Drops before a packet belongs to an SA (shared memory: they survive a restart). */
  readonly counters: Counters<WorkerCounterName>;
  /** GSO split, GRO coalesce and UDP offload counters (shared memory, like {@link counters}). */
  readonly offloadCounters: OffloadCounters;
  /** The UDP socket's offload figures already added to `offloadCounters.udp`. */
  readonly #udpPublished = {
    gsoMessages: 0,
    gsoDatagrams: 0,
    gsoRefused: 0,
    groBuffers: 0,
    groDatagrams: 0,
  };

  constructor(init: InitMessage, post: (message: WorkerMessage) => void) {
    this.index = init.index;
    this.workers = init.workers;
    this.log = new Logger("dispatch", `w${init.index}`);
    this.#post = post;
    this.#control = new Int32Array(init.control);
    this.counters = workerCounters(init.counters, init.index);
    this.offloadCounters = workerOffloadCounters(init.counters, init.index);
    this.#wakeFd = init.wakeFd;
    this.#udp = new BatchSocket(init.udpFd);
    this.#raw = init.rawFd >= 0 ? new BatchSocket(init.rawFd) : null;
    const slotBytes = BATCH_SIZE * SLOT_SIZE;
    const segmentBytes = BATCH_SIZE * MAX_SEGMENT_SIZE;
    // TUN reads, UDP receive and send batches (GSO segments are split into the send slots),
    // with raw ESP two more, and the split output of the fallback path.
    // Packet memory: where the buffers whose TCP checksums are summed live (received ESP,
    // decrypted in place, GSO segments, the coalescing arena), WebAssembly memory with the SIMD
    // checksum (lib/esp/_checksum_wasm.ts); null without WebAssembly (plain arrays, the
    // JavaScript checksum). Allocated once here, never grown.
    const memory = ChecksumMemory.create(
      slotBytes * (this.#raw ? 5 : 3) + segmentBytes + COALESCE_ARENA_BYTES + PACKET_MEMORY_SLACK,
    );
    useChecksumMemory(memory);
    const batch = () =>
      new PacketBatch({ count: BATCH_SIZE, slotSize: SLOT_SIZE, data: memory?.alloc(slotBytes) });
    this.#tunBatch = batch();
    this.#udpReceive = batch();
    this.#slotTexts = this.#udpReceive.slots.map((slot) => slot.subarray(GCM_TEXT_START));
    this.#udpSend = batch();
    this.#rawReceive = this.#raw ? batch() : null;
    this.#rawSend = this.#raw ? batch() : new PacketBatch({ count: 1, slotSize: 64 });
    this.#segments = {
      segments: Array.from(
        { length: BATCH_SIZE },
        () => memory?.alloc(MAX_SEGMENT_SIZE) ?? new Uint8Array(MAX_SEGMENT_SIZE),
      ),
      lengths: new Uint32Array(BATCH_SIZE),
      start: 0,
    };
    this.#coalesceArena = memory?.alloc(COALESCE_ARENA_BYTES) ??
      new Uint8Array(COALESCE_ARENA_BYTES);
    for (const realm of init.realms) this.#addRealm(realm);
    this.#rebuildPoll();
  }

  /** Applies one control message (in the order posted) and acknowledges it. */
  handle(message: ControlMessage): void {
    if (message.type === "init") return;
    let error: string | undefined;
    try {
      this.#apply(message);
    } catch (e) {
      error = (e as Error).message;
      this.log.warn(`Cannot apply ${message.type}: ${error}`);
    }
    this.#applied = message.seq;
    if (message.type === "stop") {
      this.#stopping = true;
      this.#stopSeq = message.seq;
      return; // acknowledged when the loop has left its last batch
    }
    this.#post(
      error === undefined ? { type: "ack", seq: message.seq } : {
        type: "ack",
        seq: message.seq,
        error,
      },
    );
  }

  #apply(message: Exclude<ControlMessage, { type: "init" }>): void {
    switch (message.type) {
      case "addRealm":
        this.#addRealm(message.realm);
        this.#rebuildPoll();
        return;
      case "removeRealm": {
        const realm = this.#realms.get(message.id);
        if (!realm) return;
        for (const [spi, record] of this.#inbound) {
          if (record.realm === realm) this.#removeInbound(spi);
        }
        for (const [spi, record] of this.#outbound) {
          if (record.realm === realm) this.#removeOutbound(spi);
        }
        this.#realms.delete(message.id);
        this.#rebuildPoll();
        return;
      }
      case "addInbound": {
        const realm = this.#realmOf(message.realm);
        const sa = this.#createSa(message.sa);
        const prefixes = message.prefixes.map(parsePrefix);
        let entry: InboundEntry;
        try {
          entry = realm.sadb.addInbound(sa, prefixes);
        } catch (e) {
          sa.dispose();
          throw e;
        }
        const remote = message.sa.encapsulation?.remote;
        this.#inbound.set(sa.spi, {
          realm,
          sa,
          entry,
          remoteWord: remote ? ipv4Word(remote.address) : -1,
          remotePort: remote?.port ?? 0,
          reportedWord: -1,
          reportedPort: 0,
        });
        return;
      }
      case "addOutbound": {
        const realm = this.#realmOf(message.realm);
        const sa = this.#createSa(message.sa);
        const record: OutboundRecord = {
          realm,
          sa,
          prefixes: message.prefixes.map(parsePrefix),
          active: false,
          sockaddr: new Uint8Array(16),
          udp: false,
        };
        this.#setOutboundPath(record, message.sa.encapsulation, message.sa.peerAddress);
        this.#outbound.set(sa.spi, record);
        this.#outboundBySa.set(sa, record);
        if (message.active) this.#activate(record);
        return;
      }
      case "activateOutbound": {
        const record = this.#outbound.get(message.spi);
        if (record && !record.active) this.#activate(record);
        return;
      }
      case "removeInbound":
        this.#removeInbound(message.spi);
        return;
      case "removeOutbound":
        this.#removeOutbound(message.spi);
        return;
      case "setPath": {
        if (message.direction === "out") {
          const record = this.#outbound.get(message.spi);
          if (!record) return;
          record.sa.setPath(message.encapsulation, message.peerAddress);
          this.#setOutboundPath(record, message.encapsulation, message.peerAddress);
          return;
        }
        const record = this.#inbound.get(message.spi);
        if (!record) return;
        record.sa.setPath(message.encapsulation, message.peerAddress);
        const remote = message.encapsulation?.remote;
        record.remoteWord = remote ? ipv4Word(remote.address) : -1;
        record.remotePort = remote?.port ?? 0;
        return;
      }
      case "stop":
        return;
    }
  }

  #realmOf(id: number): RealmState {
    const realm = this.#realms.get(id);
    if (!realm) throw new RangeError(`realm ${id} is not open in worker ${this.index}`);
    return realm;
  }

  #addRealm(realm: WorkerRealm): void {
    const counters = workerRealmCounters(realm.counters, this.index);
    const tun = new TunQueue(realm.tunFd);
    // Offloads also coalesce on the UDP socket (UDP GRO); inboundUdp splits what comes in.
    if (realm.offload && !this.#udp.gro && !this.#udp.enableGro()) {
      this.offloadCounters.udp.add("udpGroRefused");
      this.log.debug("UDP GRO refused by the kernel: datagrams arrive one by one");
    }
    const segmentSize = Math.max(2048, realm.mtu + 64);
    const offload: RealmOffload | null = realm.offload
      ? {
        splitter: new GsoSplitter({ counters: this.offloadCounters.split }),
        segments: this.#segments,
        coalescer: new GroCoalescer({
          maxPackets: COALESCE_PACKETS,
          maxPacketLength: segmentSize,
          counters: this.offloadCounters.coalesce,
          arena: this.#coalesceArena,
        }),
        pending: new Array<Uint8Array>(COALESCE_PACKETS),
        pendingCount: 0,
      }
      : null;
    this.#realms.set(realm.id, {
      id: realm.id,
      name: realm.name,
      tun,
      offload,
      device: queueDevice(realm.name, realm.mtu, tun, offload),
      sadb: new Sadb(),
      outbound: counters.outbound,
      inbound: {
        ...createInboundContext(counters.inbound, new Logger("esp", realm.name)),
        // Summed per packet, added to the shared counters once per batch (#flushInbound).
        tally: { rxPackets: 0, rxBytes: 0, txPackets: 0, txBytes: 0 },
      },
      lastNoRoute: 0,
    });
  }

  #createSa(params: WorkerSaParams): EspSa {
    return new EspSa({
      spi: params.spi,
      direction: params.direction,
      encryption: params.encryption,
      integrity: params.integrity,
      encryptionKey: params.encryptionKey,
      integrityKey: params.integrityKey,
      ...(params.replayWindow === undefined ? {} : { replayWindow: params.replayWindow }),
      encapsulation: params.encapsulation,
      peerAddress: params.peerAddress,
      crypto: this.#crypto,
      sequence: sequenceSlotOf(params.shared),
      counters: workerSaCounters(params.shared, this.index),
    });
  }

  #setOutboundPath(
    record: OutboundRecord,
    encapsulation: WorkerSaParams["encapsulation"],
    peerAddress: string,
  ): void {
    record.udp = encapsulation !== null;
    record.sockaddr = sockaddrOf(
      encapsulation ? encapsulation.remote : { address: peerAddress, port: 0 },
    );
  }

  #activate(record: OutboundRecord): void {
    record.active = true;
    record.realm.sadb.addOutbound(record.sa, record.prefixes);
  }

  #removeInbound(spi: number): void {
    const record = this.#inbound.get(spi);
    if (!record) return;
    this.#inbound.delete(spi);
    record.realm.sadb.removeInbound(spi);
    record.sa.dispose();
  }

  #removeOutbound(spi: number): void {
    const record = this.#outbound.get(spi);
    if (!record) return;
    this.#outbound.delete(spi);
    this.#outboundBySa.delete(record.sa);
    if (record.active) record.realm.sadb.removeOutbound(record.sa);
    record.sa.dispose();
  }

  #rebuildPoll(): void {
    const fds = [this.#wakeFd, this.#udp.fd];
    if (this.#raw) fds.push(this.#raw.fd);
    this.#pollRealms = [...this.#realms.values()];
    for (const realm of this.#pollRealms) fds.push(realm.tun.fd);
    this.#poll = new PollSet(fds);
  }

  /**
   * Runs until a `stop` message; then acknowledges it. Beats `progress` once per iteration (the
   * pool's watchdog) and returns at once, acknowledging nothing, when the pool retired it.
   */
  async run(progress: WorkerProgress): Promise<void> {
    const control = this.#control;
    let busy = false;
    while (!this.#stopping) {
      progress.beat();
      if (progress.retired) return; // replaced after a hang: touch nothing of the new worker's
      // 0. control first
      if (Atomics.load(control, 0) !== this.#applied) {
        await macrotask();
        continue;
      }
      // 1. wait (only when the last round emptied every source), and see who is ready
      if (!busy) progress.setPhase(WorkerPhase.Polling);
      const ready = this.#poll.wait(busy ? 0 : POLL_TIMEOUT_MS);
      if (!busy) {
        // A beat first: a watchdog that reads Busy then sees a count that moved after the poll.
        progress.beat();
        progress.setPhase(WorkerPhase.Busy);
      }
      if (ready === 0) {
        if (!busy) await macrotask(); // idle: let timers and messages run
        busy = false;
        continue;
      }
      if (this.#poll.ready(0)) {
        libc().read(this.#wakeFd, this.#wakeBuffer, 8n);
        continue; // the control word says what to apply
      }
      try {
        busy = this.#round();
      } catch (e) {
        const now = Date.now();
        if (now - this.#lastFailureLog >= FAILURE_LOG_INTERVAL_MS) {
          this.#lastFailureLog = now;
          this.log.warn(`data path failed: ${(e as Error).message}`);
        }
        busy = false;
        await new Promise((resolve) => setTimeout(resolve, ERROR_BACKOFF_MS));
      }
    }
    this.#post({ type: "ack", seq: this.#stopSeq });
  }

  /**
   * One round without the loop (tests): poll up to `timeoutMs`, then steps 2 and 3 for what is
   * ready. Returns true when a batch was full.
   */
  pump(timeoutMs = 0): boolean {
    if (this.#poll.wait(timeoutMs) === 0) return false;
    return this.#round();
  }

  /**
   * Steps 2 and 3 for the descriptors the last poll found ready; true when a batch was full
   * (more may be queued).
   */
  #round(): boolean {
    const poll = this.#poll;
    let busy = false;
    // 2. inbound first: decrypted data and ACKs reach the kernel before more is sent.
    if (poll.ready(1)) {
      if (this.#inboundUdp()) busy = true;
      this.#flushInbound();
    }
    let at = 2;
    if (this.#raw) {
      if (poll.ready(at)) {
        if (this.#inboundRaw(this.#raw, this.#rawReceive!)) busy = true;
        this.#flushInbound();
      }
      at++;
    }
    // 3. outbound
    const realms = this.#pollRealms;
    for (let i = 0; i < realms.length; i++) {
      if (poll.ready(at + i) && this.#outboundBatch(realms[i]!)) busy = true;
    }
    this.#publishUdpOffload();
    return busy;
  }

  /** Adds what the UDP socket's offload figures grew by since the last call to the counters. */
  #publishUdpOffload(): void {
    const stats = this.#udp.stats;
    const published = this.#udpPublished;
    const counters = this.offloadCounters.udp;
    if (stats.txSegmentedMessages !== published.gsoMessages) {
      counters.add("udpGsoMessages", stats.txSegmentedMessages - published.gsoMessages);
      counters.add("udpGsoDatagrams", stats.txSegmentedDatagrams - published.gsoDatagrams);
      published.gsoMessages = stats.txSegmentedMessages;
      published.gsoDatagrams = stats.txSegmentedDatagrams;
    }
    if (stats.txSegmentationFailures !== published.gsoRefused) {
      counters.add("udpGsoRefused", stats.txSegmentationFailures - published.gsoRefused);
      published.gsoRefused = stats.txSegmentationFailures;
    }
    if (stats.rxCoalescedBuffers !== published.groBuffers) {
      counters.add("udpGroBuffers", stats.rxCoalescedBuffers - published.groBuffers);
      counters.add("udpGroDatagrams", stats.rxCoalescedDatagrams - published.groDatagrams);
      published.groBuffers = stats.rxCoalescedBuffers;
      published.groDatagrams = stats.rxCoalescedDatagrams;
    }
  }

  /** Step 3 for one realm; true when the batch was full (more may be queued). */
  #outboundBatch(realm: RealmState): boolean {
    const batch = this.#tunBatch;
    const n = realm.tun.readBatch(batch);
    if (n === 0) return false;
    const offload = realm.offload;
    for (let i = 0; i < n; i++) {
      if (offload === null) {
        this.#encryptOne(realm, batch.slots[i]!.subarray(0, batch.lengths[i]!));
        continue;
      }
      this.#outboundFrame(realm, offload, batch.slots[i]!.subarray(0, batch.lengths[i]!));
    }
    this.#flush(realm);
    return n === batch.count;
  }

  /**
   * Step 3 for one offload frame (vnet header + packet). A TCP super packet is split straight
   * into the send slots of its SA, behind room for the ESP header, and encrypted there: one SA
   * lookup for all its segments and no copy. Anything else goes through {@link #encryptOne}.
   */
  #outboundFrame(realm: RealmState, offload: RealmOffload, frame: Uint8Array): void {
    const packet = frame.subarray(VNET_HDR_LENGTH);
    const sa = ipVersionOf(packet) === 0 ? undefined : realm.sadb.lookupOutbound(packet);
    const record = sa === undefined ? undefined : this.#outboundBySa.get(sa);
    if (sa === undefined || record === undefined || (!record.udp && this.#raw === null)) {
      this.#splitThenEncrypt(realm, offload, frame);
      return;
    }
    const udp = record.udp;
    const target = udp ? this.#udpSend : this.#rawSend;
    const output = this.#sendViews(target, encapsulatedTextStart(sa));
    // A super packet that fits a batch but not what is left of this one starts a new batch: it
    // leaves as one UDP GSO message, which the peer's GRO and coalescing keep whole (one TUN
    // frame there instead of two).
    const queued = udp ? this.#udpCount : this.#rawCount;
    const needed = offload.splitter.segmentCount(frame);
    if (queued === target.count || (needed <= target.count && queued + needed > target.count)) {
      this.#flush(realm);
    }
    output.start = udp ? this.#udpCount : this.#rawCount;
    let count = offload.splitter.split(frame, output);
    if (count === 0) {
      realm.outbound.add("rxPackets");
      realm.outbound.add("rxBytes", packet.length);
      this.#queue(realm, sa, record, packet);
      return;
    }
    if (count < 0) realm.outbound.add("dropMalformed");
    const counters = realm.outbound;
    const sockaddr = record.sockaddr;
    // Counted once per super packet (not per segment): the counters are the realm's, in shared
    // memory, and only read by the main thread.
    let segments = 0;
    let innerBytes = 0;
    let sent = 0;
    let sentBytes = 0;
    while (count > 0) {
      const first = output.start;
      const end = first + count;
      for (let slot = first; slot < end; slot++) {
        const inner = output.lengths[slot]!;
        segments++;
        innerBytes += inner;
        const length = encapsulateInPlace(
          sa,
          target.slots[slot]!,
          inner,
          undefined,
          output.segments[slot],
        );
        if (length < 0) {
          // The SA refuses (exhausted, removed): the rest of the super packet goes too.
          const lost = end - slot + offload.splitter.pendingSegments;
          counters.add(ENCAP_COUNTER[length] ?? "dropEncap", lost);
          if (udp) this.#udpCount = slot;
          else this.#rawCount = slot;
          countOutbound(counters, segments, innerBytes, sent, sentBytes);
          return;
        }
        target.setLength(slot, length);
        this.#setName(udp, slot, sockaddr);
        sent++;
        sentBytes += length;
      }
      if (udp) this.#udpCount = end;
      else this.#rawCount = end;
      if (end === target.count) this.#flush(realm);
      output.start = udp ? this.#udpCount : this.#rawCount;
      count = offload.splitter.splitMore(output);
    }
    countOutbound(counters, segments, innerBytes, sent, sentBytes);
  }

  /** The offload path without an SA (or socket): split, then {@link #encryptOne} counts each. */
  #splitThenEncrypt(realm: RealmState, offload: RealmOffload, frame: Uint8Array): void {
    const output = offload.segments;
    output.start = 0;
    let count = offload.splitter.split(frame, output);
    if (count === 0) {
      this.#encryptOne(realm, frame.subarray(VNET_HDR_LENGTH));
      return;
    }
    if (count < 0) realm.outbound.add("dropMalformed");
    while (count > 0) {
      for (let j = 0; j < count; j++) {
        this.#encryptOne(realm, output.segments[j]!.subarray(0, output.lengths[j]!));
      }
      count = offload.splitter.splitMore(output);
    }
  }

  /**
   * Split output over the slots of send batch `target`, each view starting `textStart` bytes
   * in (where {@link encapsulateInPlace} wants the inner packet); made once per batch and
   * offset.
   */
  #sendViews(target: PacketBatch, textStart: number): SegmentOutput & { start: number } {
    let byOffset = this.#sendViewCache.get(target);
    if (byOffset === undefined) {
      byOffset = new Map();
      this.#sendViewCache.set(target, byOffset);
    }
    let views = byOffset.get(textStart);
    if (views === undefined) {
      views = {
        segments: target.slots.map((slot) => slot.subarray(textStart)),
        lengths: new Uint32Array(target.count),
        start: 0,
      };
      byOffset.set(textStart, views);
    }
    return views;
  }

  /** Writes what the offload queues collected from an inbound batch (step 2's last part). */
  #flushInbound(): void {
    for (const realm of this.#pollRealms) {
      if (realm.offload !== null) flushOffload(realm.tun, realm.offload);
      publishInboundTally(realm.inbound);
    }
  }

  /** Looks up, encrypts and queues one inner packet into the UDP or raw send batch. */
  #encryptOne(realm: RealmState, packet: Uint8Array): void {
    const counters = realm.outbound;
    counters.add("rxPackets");
    counters.add("rxBytes", packet.length);
    if (ipVersionOf(packet) === 0) {
      counters.add("dropMalformed");
      return;
    }
    const sa = realm.sadb.lookupOutbound(packet);
    if (sa === undefined) {
      counters.add("dropNoRoute");
      this.#reportNoRoute(realm);
      return;
    }
    const record = this.#outboundBySa.get(sa)!;
    if (!record.udp && this.#raw === null) {
      counters.add("txErrors");
      return;
    }
    this.#queue(realm, sa, record, packet);
  }

  /** Encrypts `packet` for `sa` (already looked up) into the next slot of its send batch. */
  #queue(realm: RealmState, sa: EspSa, record: OutboundRecord, packet: Uint8Array): void {
    const counters = realm.outbound;
    const target = record.udp ? this.#udpSend : this.#rawSend;
    if ((record.udp ? this.#udpCount : this.#rawCount) === target.count) this.#flush(realm);
    const slot = record.udp ? this.#udpCount : this.#rawCount;
    const length = encapsulate(sa, packet, target.slots[slot]!);
    if (length < 0) {
      counters.add(ENCAP_COUNTER[length] ?? "dropEncap");
      return;
    }
    target.setLength(slot, length);
    this.#setName(record.udp, slot, record.sockaddr);
    if (record.udp) this.#udpCount++;
    else this.#rawCount++;
    counters.add("txPackets");
    counters.add("txBytes", length);
  }

  /**
   * Puts `sockaddr` into `slot` of the UDP or raw send batch, unless the slot holds that array's
   * bytes already (a path change gives a record a new array).
   */
  #setName(udp: boolean, slot: number, sockaddr: Uint8Array): void {
    const names = udp ? this.#udpSendNames : this.#rawSendNames;
    if (names[slot] === sockaddr) return;
    (udp ? this.#udpSend : this.#rawSend).setName(slot, sockaddr);
    names[slot] = sockaddr;
  }

  /** Sends what {@link #encryptOne} queued: one sendmmsg per socket. */
  #flush(realm: RealmState): void {
    const udpCount = this.#udpCount;
    const rawCount = this.#rawCount;
    this.#udpCount = 0;
    this.#rawCount = 0;
    if (udpCount > 0) {
      // Offloads: equal-size datagrams of a split super packet leave as one UDP GSO message.
      const sent = realm.offload !== null
        ? this.#udp.sendSegmented(this.#udpSend, udpCount)
        : this.#udp.send(this.#udpSend, udpCount);
      if (sent < udpCount) realm.outbound.add("txErrors", udpCount - sent);
    }
    if (rawCount > 0) {
      const sent = this.#raw!.send(this.#rawSend, rawCount);
      if (sent < rawCount) realm.outbound.add("txErrors", rawCount - sent);
    }
  }

  #reportNoRoute(realm: RealmState): void {
    const now = Date.now();
    if (now - realm.lastNoRoute < NO_ROUTE_REPORT_MS) return;
    realm.lastNoRoute = now;
    this.#post({ type: "noRoute", realm: realm.id });
  }

  /**
   * Step 2 on the UDP socket; true when the batch was full. A slot UDP GRO filled with several
   * datagrams (segment size in `segmentSizes`) is cut into them, each handled on its own.
   */
  #inboundUdp(): boolean {
    const batch = this.#udpReceive;
    const n = this.#udp.receive(batch);
    const gro = this.#udp.gro;
    for (let i = 0; i < n; i++) {
      const slot = batch.slots[i]!;
      const length = batch.lengths[i]!;
      const size = gro ? batch.segmentSizes[i]! : 0;
      if (size <= 0 || size >= length) {
        this.#inboundUdpDatagram(batch, i, slot.subarray(0, length), this.#slotTexts[i]);
        continue;
      }
      if (size < MIN_VIEWED_SEGMENT) {
        for (let at = 0; at < length; at += size) {
          const data = slot.subarray(at, Math.min(at + size, length));
          this.#inboundUdpDatagram(batch, i, data, undefined);
        }
        continue;
      }
      const views = this.#receiveViews(i, size);
      for (let at = 0, k = 0; at < length; at += size, k++) {
        const data = at + size <= length ? views.datagrams[k]! : slot.subarray(at, length);
        this.#inboundUdpDatagram(batch, i, data, views.texts[k]);
      }
    }
    return n === batch.count;
  }

  /**
   * Views of UDP receive slot `i` cut into datagrams of `size` bytes (UDP GRO), made again only
   * when the slot's segment size changes: each datagram, and its ESP text at the GCM offset
   * (header + 8-byte IV; decapsulate ignores a view at any other offset).
   */
  #receiveViews(i: number, size: number): ReceiveViews {
    let views = this.#receiveViewCache[i];
    if (views !== undefined && views.size === size) return views;
    const slot = this.#udpReceive.slots[i]!;
    const datagrams: Uint8Array[] = [];
    const texts: Uint8Array[] = [];
    for (let at = 0; at + size <= slot.length; at += size) {
      datagrams.push(slot.subarray(at, at + size));
      texts.push(slot.subarray(at + GCM_TEXT_START));
    }
    views = { size, datagrams, texts };
    this.#receiveViewCache[i] = views;
    return views;
  }

  /** One datagram of slot i of the UDP batch: RFC 3948 demux, ESP decrypted in place. */
  #inboundUdpDatagram(
    batch: PacketBatch,
    i: number,
    data: Uint8Array,
    textView: Uint8Array | undefined,
  ): void {
    switch (classifyUdpEncap(data)) {
      case UdpEncapKind.Esp: {
        const spi = espSpiOf(data);
        const record = this.#inbound.get(spi);
        if (record === undefined) {
          this.counters.add("dropUnknownSpi");
          return;
        }
        const result = deliverInboundEsp(
          record.entry,
          data,
          record.realm.device,
          record.realm.inbound,
          textView,
        );
        // Only authenticated packets may move the SA (RFC 3948 §2.2, RFC 7296 §2.23).
        if (
          result !== InboundResult.Malformed && result !== InboundResult.UnknownSpi &&
          result !== InboundResult.Decap && record.remoteWord >= 0
        ) {
          const word = batch.sourceWord(i);
          const port = batch.sourcePort(i);
          if (
            (word !== record.remoteWord || port !== record.remotePort) &&
            (word !== record.reportedWord || port !== record.reportedPort)
          ) {
            record.reportedWord = word;
            record.reportedPort = port;
            this.#post({ type: "remote", spi, from: { address: formatIpv4Word(word), port } });
          }
        }
        return;
      }
      case UdpEncapKind.Ike:
        this.#post({
          type: "ike",
          data: data.slice(4),
          from: { address: formatIpv4Word(batch.sourceWord(i)), port: batch.sourcePort(i) },
        });
        return;
      case UdpEncapKind.Keepalive:
        this.#post({ type: "keepalive" });
        return;
      default:
        this.counters.add("dropInvalid");
        return;
    }
  }

  /** Step 2 on the raw ESP socket; true when the batch was full. */
  #inboundRaw(socket: BatchSocket, batch: PacketBatch): boolean {
    const n = socket.receive(batch);
    for (let i = 0; i < n; i++) {
      const slot = batch.slots[i]!;
      const received = batch.lengths[i]!;
      const offset = parseRawIpv4(slot, IpProtocol.IPPROTO_ESP);
      const end = (slot[2]! << 8) | slot[3]!;
      if (offset < 0 || end > received || end - offset < ESP_HEADER_LENGTH) {
        this.counters.add("dropMalformed");
        continue;
      }
      const data = slot.subarray(offset, end);
      const record = this.#inbound.get(espSpiOf(data));
      if (record === undefined) {
        this.counters.add("dropUnknownSpi");
        continue;
      }
      deliverInboundEsp(record.entry, data, record.realm.device, record.realm.inbound);
    }
    return n === batch.count;
  }
}
