/**
 * ESP constants: first what the RFCs fix, then what this implementation chooses, then the
 * result registries the data path returns instead of throwing.
 */

// --- Specification ---------------------------------------------------------------------------

/** SPI (4) + sequence number (4) (RFC 4303 §2). */
export const ESP_HEADER_LENGTH = 8;
/** Pad Length (1) + Next Header (1) trailer (RFC 4303 §2.4, §2.6). */
export const ESP_TRAILER_LENGTH = 2;
/** Explicit IV of AES-GCM ESP (RFC 4106 §3.1). */
export const GCM_IV_LENGTH = 8;
/** Salt at the end of the GCM key material (RFC 4106 §8.1). */
export const GCM_SALT_LENGTH = 4;
/** The 16-byte ICV of AES-GCM-16 (RFC 4106 §6). */
export const GCM_ICV_LENGTH = 16;
/** AES-CBC IV and block length (RFC 3602 §3). */
export const CBC_IV_LENGTH = 16;
export const AES_BLOCK_LENGTH = 16;
/** The ciphertext must end on a 4-byte boundary (RFC 4303 §2.4). */
export const ESP_ALIGNMENT = 4;
/** The largest sequence number an SA without ESN may send (RFC 4303 §3.3.3). */
export const ESP_SEQUENCE_MAX = 0xffff_ffff;
/** Pad Length is one byte (RFC 4303 §2.5). */
export const ESP_MAX_PAD_LENGTH = 255;

/** Next Header values the tunnel carries (IANA "Assigned Internet Protocol Numbers"). */
export const NextHeader = {
  /** IPv4 in tunnel mode (RFC 4303 §2.6). */
  Ipv4: 4,
  /** IPv6 in tunnel mode. */
  Ipv6: 41,
  /** Dummy packet for traffic flow confidentiality, discarded by the receiver (§2.6). */
  NoNext: 59,
  /** EtherIP (RFC 3378) for the L2 VPN. */
  EtherIp: 97,
} as const;

// --- Implementation --------------------------------------------------------------------------

/**
 * Most bytes ESP adds around an inner packet with any supported suite: header 8 + CBC IV 16 +
 * padding 15 + trailer 2 + ICV 32 (HMAC-SHA2-512-256).
 */
export const ESP_MAX_OVERHEAD = ESP_HEADER_LENGTH + CBC_IV_LENGTH + (AES_BLOCK_LENGTH - 1) +
  ESP_TRAILER_LENGTH + 32;
/**
 * Bytes the data path keeps free in front of each outbound ESP packet, so a sender can prepend
 * a UDP header (8) or the non-ESP marker without copying.
 */
export const ESP_HEADROOM = 8;
/** Sequence number from which an outbound SA asks for a rekey before running out. */
export const ESP_SEQUENCE_REKEY_THRESHOLD = 0xff00_0000;
/** CBC IVs drawn from the random source per refill of an SA's IV pool. */
export const CBC_IV_POOL_IVS = 256;

// --- Results -------------------------------------------------------------------------------

/**
 * Why {@link decapsulate} dropped a packet. Every reason is counted on the SA; none is thrown.
 */
export const EspDropReason = {
  /** Too short, or a length that is not a whole number of cipher blocks. */
  Malformed: 1,
  /** The SPI in the packet is not this SA's. */
  WrongSpi: 2,
  /** Duplicate or older than the replay window (RFC 4303 §3.4.3). */
  Replay: 3,
  /** The ICV did not verify (RFC 4303 §3.4.4). */
  Auth: 4,
  /** Pad Length overruns the payload or the padding bytes are not 1, 2, 3, ... (§2.4). */
  Padding: 5,
  /** Next Header 59: a TFC dummy packet, discarded silently (§2.6). */
  Dummy: 6,
  /** The output buffer is too small for the inner packet. */
  NoRoom: 7,
} as const;
export type EspDropReason = typeof EspDropReason[keyof typeof EspDropReason];

/** Why {@link encapsulate} produced no packet; always negative so a length can share the slot. */
export const EncapFailure = {
  /** The ESP packet would not fit into the output buffer. */
  TooBig: -1,
  /** The outbound sequence number space is used up; the SA must be rekeyed (RFC 4303 §3.3.3). */
  SequenceExhausted: -2,
  /** The packet is neither IPv4 nor IPv6 and no next header was given. */
  UnknownNextHeader: -3,
  /** The SA is inbound or disposed. */
  WrongSa: -4,
} as const;
export type EncapFailure = typeof EncapFailure[keyof typeof EncapFailure];
