/**
 * The control protocol between the main thread and a data-plane worker (postMessage, never per
 * packet). Every main → worker message after `init` carries a sequence number `seq`; the main
 * thread also stores it in the worker's control word and writes the worker's eventfd, so a
 * worker blocked in `poll` wakes, yields to its event loop until it has applied `seq`, and
 * acknowledges it. Control therefore overtakes any further ESP batch.
 */
import type { EspEncryption, EspIntegrity, UdpEncapsulation } from "../esp/mod.ts";
import type { LogLevelName, Subsystem } from "../log/mod.ts";
import type { Endpoint } from "../net/mod.ts";

/** One realm as a worker sees it: its TUN queue and its shared counters. */
export interface WorkerRealm {
  id: number;
  name: string;
  /** The worker's queue of the realm's multi-queue TUN device. */
  tunFd: number;
  mtu: number;
  counters: SharedArrayBuffer;
  /**
   * The queue was opened with offloads (IFF_VNET_HDR, TSO): reads are split (GsoSplitter),
   * writes coalesced (GroCoalescer), every packet behind a `virtio_net_hdr`.
   */
  offload: boolean;
}

/** What a worker needs to build its own copy of an ESP SA (own EVP contexts). */
export interface WorkerSaParams {
  spi: number;
  direction: "in" | "out";
  encryption: EspEncryption;
  integrity: EspIntegrity;
  encryptionKey: Uint8Array;
  integrityKey: Uint8Array;
  replayWindow?: number;
  encapsulation: UdpEncapsulation | null;
  peerAddress: string;
  /** Sequence number slot and counters (shared_state.ts). */
  shared: SharedArrayBuffer;
}

/** main → worker. */
export type ControlMessage =
  | {
    type: "init";
    index: number;
    workers: number;
    /** The worker's member of the UDP (NAT-T port) SO_REUSEPORT group. */
    udpFd: number;
    /** The worker's raw ESP socket, -1 when ESP never runs raw. */
    rawFd: number;
    /** Written by the main thread to wake the worker's poll. */
    wakeFd: number;
    /** Int32Array word 0: the last `seq` the main thread posted. */
    control: SharedArrayBuffer;
    realms: WorkerRealm[];
    logLevel: LogLevelName;
    /**
     * The pool's worker counters (shared_state.ts: WORKER_COUNTERS and the offload counters,
     * slice `index`).
     */
    counters: SharedArrayBuffer;
    /** This start's heartbeat for the pool's watchdog (shared_state.ts WorkerProgress). */
    progress: SharedArrayBuffer;
  }
  | { type: "addRealm"; seq: number; realm: WorkerRealm }
  | { type: "removeRealm"; seq: number; id: number }
  | { type: "addInbound"; seq: number; realm: number; sa: WorkerSaParams; prefixes: string[] }
  /** `active` false: installed, but carries traffic only after `activateOutbound` (a rekey). */
  | {
    type: "addOutbound";
    seq: number;
    realm: number;
    sa: WorkerSaParams;
    prefixes: string[];
    active: boolean;
  }
  | { type: "activateOutbound"; seq: number; spi: number }
  | { type: "removeInbound"; seq: number; spi: number }
  | { type: "removeOutbound"; seq: number; spi: number }
  | {
    type: "setPath";
    seq: number;
    spi: number;
    direction: "in" | "out";
    encapsulation: UdpEncapsulation | null;
    peerAddress: string;
  }
  | { type: "stop"; seq: number }
  /**
   * Tests and debug only: the worker throws an uncaught exception (a crash). Sent by
   * `DataPlanePool.crashWorkerForTest` and the pool's CRASH_TEST_ENV switch, never built from
   * outside input.
   */
  | { type: "crashForTest"; seq: number }
  /**
   * Tests and debug only: the worker's thread blocks (no loop iteration, no heartbeat) until the
   * pool's watchdog retires it — a hang. Sent by `DataPlanePool.hangWorkerForTest` only.
   */
  | { type: "hangForTest"; seq: number };

/** worker → main. */
export type WorkerMessage =
  | { type: "ready" }
  | { type: "ack"; seq: number; error?: string }
  | { type: "ike"; data: Uint8Array; from: Endpoint }
  | { type: "keepalive" }
  /** Authenticated ESP on inbound SA `spi` came from `from`, not from the SA's remote. */
  | { type: "remote"; spi: number; from: Endpoint }
  | { type: "noRoute"; realm: number }
  | {
    type: "log";
    level: LogLevelName;
    subsystem: Subsystem;
    tag: string | undefined;
    message: string;
  }
  | { type: "fatal"; message: string };
