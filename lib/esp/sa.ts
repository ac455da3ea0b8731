/**
 * One ESP security association (RFC 4303 §3.3, §3.4): its crypto contexts (created once),
 * per-packet scratch buffers, the outbound sequence counter, the inbound replay window,
 * counters and lifetime accounting. {@link encapsulate} and {@link decapsulate} do the
 * per-packet work on it.
 */
import type {
  AeadContext,
  BoundAead,
  CbcContext,
  CryptoProvider,
  MacContext,
} from "../crypto/mod.ts";
import { EncrId, IntegId } from "../ike/mod.ts";
import { encryptionInfo, integrityInfo } from "../ike/mod.ts";
import type { EspSuite } from "../ike/mod.ts";
import { Counters } from "../log/mod.ts";
import type { Endpoint } from "../net/mod.ts";
import {
  AES_BLOCK_LENGTH,
  CBC_IV_LENGTH,
  CBC_IV_POOL_IVS,
  ESP_ALIGNMENT,
  ESP_SEQUENCE_MAX,
  ESP_SEQUENCE_REKEY_THRESHOLD,
  GCM_ICV_LENGTH,
  GCM_IV_LENGTH,
  GCM_SALT_LENGTH,
} from "./constants.ts";
import { REPLAY_WINDOW_DEFAULT, ReplayWindow } from "./replay_window.ts";

/** ESP encryption transforms this release implements. */
export type EspEncryption = "aes-gcm-16" | "aes-cbc";
/** ESP integrity transforms ("none" only with AES-GCM). */
export type EspIntegrity = "none" | "hmac-sha256-128" | "hmac-sha384-192" | "hmac-sha512-256";

/** The two ends of an RFC 3948 UDP-encapsulated SA. */
export interface UdpEncapsulation {
  local: Endpoint;
  remote: Endpoint;
}

/** Everything needed to create an {@link EspSa}; the IKE engine fills it after IKE_AUTH. */
export interface EspSaParams {
  /** u32 in host order; 256 and up (RFC 4303 §2.1 reserves 1..255, 0 is local use). */
  spi: number;
  direction: "in" | "out";
  encryption: EspEncryption;
  /** GCM: AES key followed by the 4-byte salt (RFC 4106 §8.1, 20 or 36 bytes); CBC: 16 or 32. */
  encryptionKey: Uint8Array;
  integrity: EspIntegrity;
  /** Required unless `integrity` is "none"; as long as the hash output (RFC 4868 §2.1.1). */
  integrityKey?: Uint8Array;
  /** Inbound only: window size, a multiple of 32 in 32..4096; 0 disables anti-replay. */
  replayWindow?: number;
  /** RFC 3948 UDP encapsulation; null = raw ESP (IP protocol 50). */
  encapsulation: UdpEncapsulation | null;
  /** Raw ESP only: the peer's IP address, handed to the sender with port 0. */
  peerAddress?: string;
  crypto: CryptoProvider;
  /** Optional lifetime limits, counted here; the IKE engine polls {@link EspSa.lifetimeExpired}. */
  lifetimeBytes?: number;
  lifetimePackets?: number;
  /**
   * Outbound: where the last sequence number sent lives, shared by the copies of this SA in
   * several threads (a SharedArrayBuffer slot); default a private counter. Inbound: where the
   * replay window publishes its highest sequence number, and resumes from when not 0
   * (see `ReplayWindow`).
   */
  sequence?: SequenceSlot;
  /** The SA's counters, e.g. backed by a SharedArrayBuffer slice; default private ones. */
  counters?: Counters<EspSaCounterName>;
}

/**
 * One u32 in a (shared) `Uint32Array`: the last sequence number sent on an outbound SA. Every
 * thread that encrypts for the SA claims numbers from it with a compare-and-swap, so numbers
 * stay unique across threads and the counter never wraps past 2^32-1.
 */
export interface SequenceSlot {
  words: Uint32Array;
  index: number;
}

/** Counter names of one SA; `bytes` counts inner (plaintext) packet bytes. */
export const ESP_SA_COUNTERS = [
  "packets",
  "bytes",
  "dropReplay",
  "dropAuth",
  "dropMalformed",
  "dropPadding",
  "dropDummy",
  "dropWrongSpi",
  "dropNoRoom",
  "dropTooBig",
  "dropSequenceExhausted",
] as const;
export type EspSaCounterName = typeof ESP_SA_COUNTERS[number];

/** The reused result of a successful {@link decapsulate}: valid until the next call. */
export interface DecapResult {
  /** The inner packet, a view into the ESP buffer (or the caller's `out`). */
  packet: Uint8Array;
  /** Next Header: 4 (IPv4), 41 (IPv6), 97 (EtherIP), ... */
  nextHeader: number;
}

/**
 * Per-SA working state for encap.ts / decap.ts. Not part of the public API: fields may change.
 * Scratch buffers exist so the per-packet path allocates nothing but array views.
 */
export interface EspSaState {
  aead: AeadContext | null;
  /** `aead` bound to `nonce`, `aad` and `tag` where the provider offers it (the fast path). */
  boundAead: BoundAead | null;
  cbc: CbcContext | null;
  mac: MacContext | null;
  /** GCM nonce = salt (4) | explicit IV (8); the salt is written once. */
  nonce: Uint8Array;
  /** GCM AAD = SPI | sequence number (RFC 4106 §5, no ESN). */
  aad: Uint8Array;
  /** CBC: the IV of the current packet. */
  iv: Uint8Array;
  /** CBC: random IVs, consumed 16 bytes at a time and refilled in one batch. */
  ivPool: Uint8Array;
  ivPoolOffset: number;
  /** CBC: the computed ICV before comparison (inbound) or copy (outbound). */
  icv: Uint8Array;
  /** GCM: the tag, copied in or out (a 16-byte copy is cheaper than a view per packet). */
  tag: Uint8Array;
  /** CBC: the one-element parts list handed to the MAC. */
  macParts: Uint8Array[];
  result: DecapResult;
}

const INTEGRITY_IDS: Record<EspIntegrity, number> = {
  "none": IntegId.None,
  "hmac-sha256-128": IntegId.HmacSha2_256_128,
  "hmac-sha384-192": IntegId.HmacSha2_384_192,
  "hmac-sha512-256": IntegId.HmacSha2_512_256,
};

const EMPTY = new Uint8Array(0);

function fail(reason: string): never {
  throw new RangeError(`Cannot create ESP SA: ${reason}`);
}

/**
 * An ESP SA. Create one per direction; inbound SAs own a replay window, outbound SAs a
 * sequence counter. Call {@link dispose} when the SA is deleted.
 *
 * @example
 * ```ts
 * const out = new EspSa({
 *   spi: 0xc0ffee01, direction: "out", encryption: "aes-gcm-16", encryptionKey: key36,
 *   integrity: "none", encapsulation: null, peerAddress: "198.51.100.2", crypto,
 * });
 * const n = encapsulate(out, ipPacket, buffer);
 * ```
 */
export class EspSa {
  readonly spi: number;
  readonly direction: "in" | "out";
  readonly encryption: EspEncryption;
  readonly integrity: EspIntegrity;
  /** Explicit IV bytes in each packet: 8 (GCM) or 16 (CBC). */
  readonly ivLength: number;
  /** Padding granularity of the ciphertext: 4 (GCM) or 16 (CBC). */
  readonly blockSize: number;
  /** ICV bytes at the end of each packet. */
  readonly icvLength: number;
  /** Inbound with anti-replay enabled only. */
  readonly replayWindow: ReplayWindow | null;
  readonly counters: Counters<EspSaCounterName>;
  readonly lifetimeBytes: number;
  readonly lifetimePackets: number;
  /** Working state for encap.ts / decap.ts; not public API. */
  readonly state: EspSaState;
  readonly #crypto: CryptoProvider;
  #encapsulation: UdpEncapsulation | null;
  #remote: Endpoint;
  /** Private or shared last sequence number (see {@link SequenceSlot}). */
  readonly #sequenceWords: Uint32Array;
  readonly #sequenceIndex: number;
  readonly #sequenceShared: boolean;
  #disposed = false;

  /** Throws `RangeError` on an invalid SPI, key length or algorithm combination. */
  constructor(params: EspSaParams) {
    const { spi, encryption, integrity, encryptionKey, crypto } = params;
    if (!Number.isInteger(spi) || spi < 256 || spi > 0xffff_ffff) {
      fail(`SPI ${spi} is not in 256..2^32-1`);
    }
    this.spi = spi;
    this.direction = params.direction;
    this.encryption = encryption;
    this.integrity = integrity;

    let aead: AeadContext | null = null;
    let cbc: CbcContext | null = null;
    let mac: MacContext | null = null;
    const nonce = new Uint8Array(GCM_SALT_LENGTH + GCM_IV_LENGTH);
    if (encryption === "aes-gcm-16") {
      const info = encryptionInfo(EncrId.AesGcm16, (encryptionKey.length - GCM_SALT_LENGTH) * 8);
      if (!info) fail(`AES-GCM key material is ${encryptionKey.length} bytes, not 20 or 36`);
      if (integrity !== "none") fail(`AES-GCM is combined mode, integrity must be "none"`);
      const aesLength = encryptionKey.length - GCM_SALT_LENGTH;
      nonce.set(encryptionKey.subarray(aesLength));
      // An SA's key only ever seals (outbound) or opens (inbound): one EVP context, not two.
      aead = crypto.createAead(
        encryptionKey.subarray(0, aesLength),
        params.direction === "out" ? "seal" : "open",
      );
      this.ivLength = GCM_IV_LENGTH;
      this.blockSize = ESP_ALIGNMENT;
      this.icvLength = GCM_ICV_LENGTH;
    } else if (encryption === "aes-cbc") {
      if (!encryptionInfo(EncrId.AesCbc, encryptionKey.length * 8)) {
        fail(`AES-CBC key is ${encryptionKey.length} bytes, not 16 or 32`);
      }
      const integ = integrityInfo(INTEGRITY_IDS[integrity]);
      if (!integ) fail(`AES-CBC needs an integrity algorithm, got "${integrity}"`);
      const key = params.integrityKey;
      if (key?.length !== integ.keyLength) {
        fail(`${integrity} key is ${key?.length ?? 0} bytes, not ${integ.keyLength}`);
      }
      cbc = crypto.createCbc(encryptionKey);
      mac = crypto.createMac(integ.hash, key);
      this.ivLength = CBC_IV_LENGTH;
      this.blockSize = AES_BLOCK_LENGTH;
      this.icvLength = integ.icvLength;
    } else {
      fail(`unknown encryption "${encryption as string}"`);
    }

    const windowSize = params.replayWindow ?? REPLAY_WINDOW_DEFAULT;
    if (params.direction === "in" && windowSize !== 0) {
      // A shared slot of an inbound SA publishes the window's top (a restarted worker resumes).
      this.replayWindow = new ReplayWindow(windowSize, params.sequence);
    } else {
      this.replayWindow = null;
    }
    this.counters = params.counters ?? new Counters(ESP_SA_COUNTERS);
    this.#sequenceWords = params.sequence?.words ?? new Uint32Array(1);
    this.#sequenceIndex = params.sequence?.index ?? 0;
    this.#sequenceShared = params.sequence !== undefined;
    this.lifetimeBytes = params.lifetimeBytes ?? Infinity;
    this.lifetimePackets = params.lifetimePackets ?? Infinity;
    this.#encapsulation = params.encapsulation;
    this.#remote = remoteOf(params.encapsulation, params.peerAddress);

    const isCbc = cbc !== null;
    const ivPool = isCbc ? new Uint8Array(CBC_IV_POOL_IVS * CBC_IV_LENGTH) : EMPTY;
    const aad = new Uint8Array(8);
    const tag = new Uint8Array(isCbc ? 0 : GCM_ICV_LENGTH);
    this.state = {
      aead,
      boundAead: aead?.bind?.(nonce, aad, tag) ?? null,
      cbc,
      mac,
      nonce,
      aad,
      iv: new Uint8Array(CBC_IV_LENGTH),
      ivPool,
      ivPoolOffset: ivPool.length,
      icv: new Uint8Array(isCbc ? this.icvLength : 0),
      tag,
      macParts: [EMPTY],
      result: { packet: EMPTY, nextHeader: 0 },
    };
    this.#crypto = crypto;
  }

  /** RFC 3948 ends, or null for raw ESP. */
  get encapsulation(): UdpEncapsulation | null {
    return this.#encapsulation;
  }

  /** Where outbound packets go: the UDP remote, or `{peerAddress, port: 0}` for raw ESP. */
  get remote(): Endpoint {
    return this.#remote;
  }

  /**
   * Moves the SA to a new path (NAT mapping change, MOBIKE UPDATE_SA_ADDRESSES) without
   * touching keys or sequence numbers.
   */
  setPath(encapsulation: UdpEncapsulation | null, peerAddress?: string): void {
    this.#encapsulation = encapsulation;
    this.#remote = remoteOf(encapsulation, peerAddress ?? this.#remote.address);
  }

  /** The last sequence number sent (0 before the first packet). */
  get lastSequence(): number {
    return this.#sequenceShared
      ? Atomics.load(this.#sequenceWords, this.#sequenceIndex)
      : this.#sequenceWords[this.#sequenceIndex]!;
  }

  /**
   * Claims the next outbound sequence number, or returns 0 once 2^32-1 has been sent: the
   * counter never cycles (RFC 4303 §3.3.3), the SA must be replaced.
   */
  nextSequence(): number {
    const words = this.#sequenceWords;
    const i = this.#sequenceIndex;
    if (!this.#sequenceShared) {
      const last = words[i]!;
      if (last >= ESP_SEQUENCE_MAX) return 0;
      words[i] = last + 1;
      return last + 1;
    }
    for (;;) {
      const last = Atomics.load(words, i);
      if (last >= ESP_SEQUENCE_MAX) return 0;
      if (Atomics.compareExchange(words, i, last, last + 1) === last) return last + 1;
    }
  }

  /**
   * Sets the last sequence number sent, as if that many packets had gone out. For tests of
   * counter exhaustion; the data path never calls it.
   */
  skipSequenceTo(lastSent: number): void {
    if (!Number.isInteger(lastSent) || lastSent < 0 || lastSent > ESP_SEQUENCE_MAX) {
      throw new RangeError(`Cannot skip sequence number: ${lastSent} is not in 0..2^32-1`);
    }
    Atomics.store(this.#sequenceWords, this.#sequenceIndex, lastSent);
  }

  /** True when no further packet can be sent on this outbound SA. */
  get sequenceExhausted(): boolean {
    return this.lastSequence >= ESP_SEQUENCE_MAX;
  }

  /**
   * True when the IKE engine should rekey now: the sequence counter is close to or at its end,
   * or a lifetime limit is reached.
   */
  get rekeyNeeded(): boolean {
    return this.lastSequence >= ESP_SEQUENCE_REKEY_THRESHOLD || this.lifetimeExpired;
  }

  /** True when `lifetimeBytes` or `lifetimePackets` has been reached. */
  get lifetimeExpired(): boolean {
    return this.counters.get("packets") >= this.lifetimePackets ||
      this.counters.get("bytes") >= this.lifetimeBytes;
  }

  /** Copies the next random CBC IV into `state.iv`, refilling the pool in one batch. */
  takeCbcIv(): Uint8Array {
    const s = this.state;
    if (s.ivPoolOffset + CBC_IV_LENGTH > s.ivPool.length) {
      this.#crypto.randomBytes(s.ivPool);
      s.ivPoolOffset = 0;
    }
    const iv = s.iv;
    const pool = s.ivPool;
    const at = s.ivPoolOffset;
    for (let i = 0; i < CBC_IV_LENGTH; i++) iv[i] = pool[at + i]!;
    // Never hand out the same pool bytes twice.
    pool.fill(0, at, at + CBC_IV_LENGTH);
    s.ivPoolOffset = at + CBC_IV_LENGTH;
    return iv;
  }

  /** True after {@link dispose}. */
  get disposed(): boolean {
    return this.#disposed;
  }

  /** Frees the crypto contexts and wipes scratch that held key-derived data. Idempotent. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    const s = this.state;
    s.aead?.dispose();
    s.cbc?.dispose();
    s.mac?.dispose();
    s.aead = null;
    s.boundAead = null;
    s.cbc = null;
    s.mac = null;
    s.nonce.fill(0);
    s.ivPool.fill(0);
    s.icv.fill(0);
  }
}

function remoteOf(encapsulation: UdpEncapsulation | null, peerAddress?: string): Endpoint {
  if (encapsulation) return encapsulation.remote;
  return { address: peerAddress ?? "", port: 0 };
}

/** Key lengths and SA algorithm names for a built-in ESP suite. */
export interface EspSuiteTransforms {
  encryption: EspEncryption;
  integrity: EspIntegrity;
  /** Bytes of KEYMAT for the encryption key, salt included for GCM (RFC 7296 §2.17). */
  encryptionKeyLength: number;
  /** Bytes of KEYMAT for the integrity key (0 for GCM). */
  integrityKeyLength: number;
}

/**
 * Maps a negotiated {@link EspSuite} to {@link EspSaParams} algorithm fields and the KEYMAT
 * lengths to derive. Throws `RangeError` for a suite this data path cannot run.
 *
 * @example
 * ```ts
 * espSuiteTransforms(ESP_SUITES.get("aes256gcm16")!); // { encryption: "aes-gcm-16", ..., 36, 0 }
 * ```
 */
export function espSuiteTransforms(suite: EspSuite): EspSuiteTransforms {
  const encr = encryptionInfo(suite.encrId, suite.encrKeyBits);
  if (!encr) throw new RangeError(`Cannot run ESP suite "${suite.name}": unsupported encryption`);
  if (encr.aead) {
    if (suite.encrId !== EncrId.AesGcm16 || suite.integId !== IntegId.None) {
      throw new RangeError(`Cannot run ESP suite "${suite.name}": unsupported AEAD combination`);
    }
    return {
      encryption: "aes-gcm-16",
      integrity: "none",
      encryptionKeyLength: encr.keyMaterialLength,
      integrityKeyLength: 0,
    };
  }
  const integ = integrityInfo(suite.integId);
  const name = (Object.keys(INTEGRITY_IDS) as EspIntegrity[]).find((n) =>
    INTEGRITY_IDS[n] === suite.integId
  );
  if (!integ || !name || name === "none") {
    throw new RangeError(`Cannot run ESP suite "${suite.name}": unsupported integrity`);
  }
  return {
    encryption: "aes-cbc",
    integrity: name,
    encryptionKeyLength: encr.keyMaterialLength,
    integrityKeyLength: integ.keyLength,
  };
}
