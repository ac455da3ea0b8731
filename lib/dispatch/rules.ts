/**
 * Rule handlers of the dispatcher: which thread handles a packet, and how urgently. Rules are
 * plain data (records of functions) so that a plugin can replace or extend one; the pool and the
 * kernel programs it installs both follow them, so that a packet the kernel steers to worker i is
 * one that worker i holds the SA for.
 *
 *   inbound ESP   SPI % N                 (kernel: reuseport cBPF on UDP 4500, socket filter
 *                                          on each raw ESP socket)
 *   IKE on 4500   worker 0 → main thread  (non-ESP marker; NAT keepalives too)
 *   IKE on 500    main thread
 *   outbound      the TUN queue the kernel picked (its flow hash), so no rule is needed
 *   outbound SAs  every worker; inbound SAs only in their owner
 *
 * IKE runs on the main thread (the IKE worker) behind a priority scheduler (ike_queue.ts):
 * control work, then datagrams of known IKE SAs, then new IKE_SA_INIT requests, ranked by
 * {@link IkeRules.ikeClass}. ESP never passes through it: it runs in the data-plane workers,
 * whose loop applies control messages (SA installs and deletes) before each ESP batch.
 */
import { ExchangeType, HeaderFlag, IKE_HEADER_LENGTH } from "../ike/mod.ts";
import { Bpf, type SockFilter } from "../net/mod.ts";

/** The dispatcher's rule handlers. */
export interface DispatchRules {
  /** The worker (0..workers-1) that owns inbound SA `spi`. */
  inboundWorker(spi: number, workers: number): number;
  /**
   * Reuseport program for the UDP 4500 group of `workers` sockets (bound in worker order): it
   * sees the UDP payload at offset 0 and returns the worker index.
   */
  udpProgram(workers: number): SockFilter[];
  /**
   * Socket filter of worker `index`'s raw ESP socket: it sees the IPv4 header at offset 0 and
   * accepts (non-zero) only the SPIs that {@link inboundWorker} gives to `index`.
   */
  rawEspProgram(workers: number, index: number): SockFilter[];
}

/** Bytes kept of an accepted packet (a socket filter's "accept all"). */
const ACCEPT = 0x40000;

/** Default rules: SPI modulo the number of workers. */
export const DEFAULT_RULES: DispatchRules = {
  inboundWorker: (spi, workers) => (spi >>> 0) % workers,

  udpProgram: (workers) => [
    // Shorter than a marker or SPI (a NAT keepalive is one byte 0xff): socket 0.
    { code: Bpf.LD_LEN, jt: 0, jf: 0, k: 0 },
    { code: Bpf.JGE_K, jt: 0, jf: 4, k: 4 },
    { code: Bpf.LD_W_ABS, jt: 0, jf: 0, k: 0 },
    // Non-ESP marker (RFC 3948 §2.2): IKE goes to socket 0, whose worker hands it to main.
    { code: Bpf.JEQ_K, jt: 2, jf: 0, k: 0 },
    { code: Bpf.ALU_MOD_K, jt: 0, jf: 0, k: workers },
    { code: Bpf.RET_A, jt: 0, jf: 0, k: 0 },
    { code: Bpf.RET_K, jt: 0, jf: 0, k: 0 },
  ],

  rawEspProgram: (workers, index) => [
    { code: Bpf.LDX_B_MSH, jt: 0, jf: 0, k: 0 },
    // SPI after the IPv4 header; a packet too short for it makes the load fail: dropped.
    { code: Bpf.LD_W_IND, jt: 0, jf: 0, k: 0 },
    { code: Bpf.ALU_MOD_K, jt: 0, jf: 0, k: workers },
    { code: Bpf.JEQ_K, jt: 0, jf: 1, k: index },
    { code: Bpf.RET_K, jt: 0, jf: 0, k: ACCEPT },
    { code: Bpf.RET_K, jt: 0, jf: 0, k: 0 },
  ],
};

/**
 * Priority class of an IKE datagram on the main thread: `init` is a new IKE_SA_INIT request
 * (unauthenticated, the first thing a flood sends), `ike` anything else.
 */
export type IkeClass = "ike" | "init";

/** The IKE scheduler's rule handler, apart from {@link DispatchRules} so either can be replaced. */
export interface IkeRules {
  /** The class of IKE message `data` (no non-ESP marker), from its header alone. */
  ikeClass(data: Uint8Array): IkeClass;
}

/** IKE header fields the default rule reads (RFC 7296 §3.1). */
const RESPONDER_SPI_OFFSET = 8;
const EXCHANGE_TYPE_OFFSET = 18;
const FLAGS_OFFSET = 19;
const MESSAGE_ID_OFFSET = 20;

/**
 * Whether `data` starts with the header of a new IKE_SA_INIT request: exchange type 34, the
 * Response flag clear, a zero responder SPI and message ID 0. A retransmission of a request the
 * engine already holds a half-open SA for looks the same, and is one too.
 */
function isNewInitRequest(data: Uint8Array): boolean {
  if (data.length < IKE_HEADER_LENGTH) return false;
  if (data[EXCHANGE_TYPE_OFFSET] !== ExchangeType.IkeSaInit) return false;
  if ((data[FLAGS_OFFSET]! & HeaderFlag.Response) !== 0) return false;
  for (let i = RESPONDER_SPI_OFFSET; i < RESPONDER_SPI_OFFSET + 8; i++) {
    if (data[i] !== 0) return false;
  }
  for (let i = MESSAGE_ID_OFFSET; i < MESSAGE_ID_OFFSET + 4; i++) {
    if (data[i] !== 0) return false;
  }
  return true;
}

/**
 * Default IKE rule: new IKE_SA_INIT requests are `init`; everything else, including a datagram
 * too short to classify (the engine counts it as malformed), is `ike`.
 *
 * @example
 * ```ts
 * DEFAULT_IKE_RULES.ikeClass(initRequest); // "init"
 * DEFAULT_IKE_RULES.ikeClass(informational); // "ike"
 * ```
 */
export const DEFAULT_IKE_RULES: IkeRules = {
  ikeClass: (data) => isNewInitRequest(data) ? "init" : "ike",
};
