/**
 * Rule handlers of the dispatcher: which worker handles a packet. Rules are plain data (a
 * record of functions) so that a plugin can replace or extend one; the pool and the kernel
 * programs it installs both follow them, so that a packet the kernel steers to worker i is one
 * that worker i holds the SA for.
 *
 *   inbound ESP   SPI % N                 (kernel: reuseport cBPF on UDP 4500, socket filter
 *                                          on each raw ESP socket)
 *   IKE on 4500   worker 0 → main thread  (non-ESP marker; NAT keepalives too)
 *   outbound      the TUN queue the kernel picked (its flow hash), so no rule is needed
 *   outbound SAs  every worker; inbound SAs only in their owner
 */
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
