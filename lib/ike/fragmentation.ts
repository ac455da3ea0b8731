/**
 * IKE fragmentation (RFC 7383): splitting a protected message into SKF fragments, and
 * reassembling fragments per message ID with limits.
 *
 * Sending (task manager): an IKE_AUTH or later message whose datagram would be larger than
 * the fragment size is split into pieces of its encoded inner payload chain; each piece is
 * padded, encrypted and integrity-protected on its own, all with the same message ID.
 *
 * Receiving (engine), per fragment:
 *   1. read Fragment Number / Total Fragments (1 ≤ number ≤ total ≤ MAX_FRAGMENTS)
 *   2. a fragment of a request we already answered: fragment 1 repeats our response, the
 *      rest are ignored (RFC 7383 §2.6.1)
 *   3. duplicates and stale totals are dropped before any crypto
 *   4. verify the ICV and decrypt (forged → dropped, counted by the engine)
 *   5. store the piece; above MAX_REASSEMBLED_BYTES the whole message is discarded
 *   6. all pieces present → concatenate in order and decode as one payload chain
 */
import type { Endpoint } from "../net/mod.ts";
import { DecodeError } from "../wire/mod.ts";
import { HeaderFlag, IKE_HEADER_LENGTH, PayloadType } from "./constants.ts";
import type { MessageProtection } from "./protection.ts";
import { decodeFragmentNumbers, decodePayloadChain, encodePayloadChain } from "./payloads/mod.ts";
import type { IkeHeader, OpaquePayload, Payload } from "./payloads/types.ts";

// Specification.
/** The largest Total Fragments the wire format allows. */
const MAX_WIRE_FRAGMENTS = 0xffff;
const IPV4_HEADER_LENGTH = 20;
const IPV6_HEADER_LENGTH = 40;
const UDP_HEADER_LENGTH = 8;
const NON_ESP_MARKER_LENGTH = 4;

// Implementation.
/**
 * Largest IP datagram of a fragment unless a realm or the engine says otherwise; strongSwan's
 * `charon.fragment_size` default too.
 */
export const DEFAULT_FRAGMENT_SIZE = 1280;
/** More fragments than this in one message are refused. */
export const MAX_FRAGMENTS = 64;
/** A reassembled payload chain may not exceed this. */
export const MAX_REASSEMBLED_BYTES = 64 * 1024;
/** A partial message that gets no new fragment for this long is forgotten. */
export const REASSEMBLY_IDLE_MS = 30_000;

/**
 * Bytes an IKE message may have so that its IP datagram fits in `fragmentSize`: IP (20 or
 * 40) and UDP headers, and the non-ESP marker when the message goes to or from the NAT-T
 * port. The fragment size counts the whole datagram, as strongSwan's `fragment_size` does.
 *
 * @example
 * ```ts
 * ikeMessageBudget(1280, { address: "198.51.100.2", port: 4500 }, true); // 1248
 * ```
 */
export function ikeMessageBudget(
  fragmentSize: number,
  remote: Endpoint,
  nonEspMarker: boolean,
): number {
  const ip = remote.address.includes(":") ? IPV6_HEADER_LENGTH : IPV4_HEADER_LENGTH;
  return fragmentSize - ip - UDP_HEADER_LENGTH - (nonEspMarker ? NON_ESP_MARKER_LENGTH : 0);
}

/**
 * Protects `payloads` as one SK message, or, when that message would exceed `budget` bytes,
 * as SKF fragments of at most `budget` bytes each (RFC 7383 §2.5). `budget` undefined means
 * no fragmentation. Pieces are filled greedily; the last one is shorter.
 *
 * @example
 * ```ts
 * const datagrams = sealMessage(sa.protection, header, message.payloads, 1248);
 * for (const d of datagrams) transport.send(d, sa.remote, sa.local.port);
 * ```
 */
export function sealMessage(
  protection: MessageProtection,
  header: Omit<IkeHeader, "length" | "nextPayload">,
  payloads: readonly Payload[],
  budget: number | undefined,
): Uint8Array[] {
  if (budget === undefined) return [protection.seal(header, payloads)];
  const { firstType, bytes } = encodePayloadChain(payloads);
  if (IKE_HEADER_LENGTH + protection.overhead(bytes.length) <= budget) {
    return [protection.seal(header, payloads)];
  }
  // A budget too small for any content still makes progress: fragments then exceed it.
  const piece = Math.max(
    protection.maxFragmentContent(budget),
    Math.ceil(bytes.length / MAX_WIRE_FRAGMENTS),
    1,
  );
  const total = Math.ceil(bytes.length / piece);
  const out: Uint8Array[] = [];
  for (let i = 0; i < total; i++) {
    out.push(protection.sealFragment(
      header,
      { number: i + 1, total, innerFirst: firstType },
      bytes.subarray(i * piece, Math.min((i + 1) * piece, bytes.length)),
    ));
  }
  return out;
}

/** What became of one received fragment. */
export type FragmentOutcome =
  /** The last missing piece: the message's decrypted payloads. */
  | { kind: "complete"; payloads: Payload[]; fragments: number; length: number }
  /** Verified and stored; more pieces are missing. */
  | { kind: "pending"; number: number; total: number }
  /** Verified fragment 1 of a request we already answered: send the response again. */
  | { kind: "repeat" }
  /** Not used; `forged` when its ICV did not verify. */
  | { kind: "dropped"; reason: string; forged: boolean };

interface PartialMessage {
  messageId: number;
  total: number;
  pieces: (Uint8Array | undefined)[];
  received: number;
  bytes: number;
  /** From fragment 1's generic header. */
  innerFirst: number;
  lastFragmentAt: number;
}

/** Options of {@link FragmentReassembler}; defaults are the exported constants. */
export interface FragmentReassemblerOptions {
  maxFragments?: number;
  maxBytes?: number;
  idleMs?: number;
  /** Clock, for tests. */
  now?: () => number;
}

/**
 * Reassembles the fragmented messages of one IKE SA: at most one partial request and one
 * partial response (the exchange window is 1), each replaced by a newer verified message ID.
 *
 * @example
 * ```ts
 * const outcome = reassembler.add(header, skf, raw, sa.protection, { answered: false });
 * if (outcome.kind === "complete") handle(outcome.payloads);
 * ```
 */
export class FragmentReassembler {
  readonly #maxFragments: number;
  readonly #maxBytes: number;
  readonly #idleMs: number;
  readonly #now: () => number;
  /** [0] requests from the peer, [1] responses to our requests. */
  readonly #partial: [PartialMessage | undefined, PartialMessage | undefined] = [
    undefined,
    undefined,
  ];
  /** Per slot: the message ID given up for its size; its further fragments are ignored. */
  readonly #refused: [number | undefined, number | undefined] = [undefined, undefined];
  /** Per slot: the last message ID reassembled; late duplicates of it are ignored. */
  readonly #completed: [number | undefined, number | undefined] = [undefined, undefined];

  constructor(options: FragmentReassemblerOptions = {}) {
    this.#maxFragments = options.maxFragments ?? MAX_FRAGMENTS;
    this.#maxBytes = options.maxBytes ?? MAX_REASSEMBLED_BYTES;
    this.#idleMs = options.idleMs ?? REASSEMBLY_IDLE_MS;
    this.#now = options.now ?? Date.now;
  }

  /** Partial messages held (0–2), for tests and status. */
  get pending(): number {
    return this.#partial.filter((p) => p !== undefined).length;
  }

  /**
   * Takes one received SKF message: `raw` is the datagram, `skf` its last payload.
   * `answered` says the task manager has already answered this request's message ID.
   */
  add(
    header: IkeHeader,
    skf: OpaquePayload,
    raw: Uint8Array,
    protection: MessageProtection,
    options: { answered: boolean },
  ): FragmentOutcome {
    let numbers;
    try {
      numbers = decodeFragmentNumbers(skf.body);
    } catch (e) {
      return dropped((e as Error).message);
    }
    const { number, total } = numbers;
    if (total > this.#maxFragments) {
      return dropped(`${total} fragments exceed the limit of ${this.#maxFragments}`);
    }
    if (number === 1 && (skf.innerFirst ?? 0) === PayloadType.None) {
      return dropped("fragment 1 names no first payload");
    }
    const slot = (header.flags & HeaderFlag.Response) !== 0 ? 1 : 0;
    const now = this.#now();
    let partial = this.#partial[slot];
    if (partial && now - partial.lastFragmentAt > this.#idleMs) {
      partial = this.#partial[slot] = undefined;
    }
    if (this.#refused[slot] === header.messageId) {
      return dropped(
        `message ${header.messageId} was given up: larger than ${this.#maxBytes} bytes`,
      );
    }
    if (options.answered) {
      if (number !== 1) return dropped(`fragment ${number} of a request already answered`);
    } else if (this.#completed[slot] === header.messageId) {
      return dropped(`fragment ${number} of a message already reassembled`);
    } else if (partial?.messageId === header.messageId) {
      if (total < partial.total) {
        return dropped(`fragment ${number} of ${total}: this message has ${partial.total}`);
      }
      if (total === partial.total && partial.pieces[number - 1] !== undefined) {
        return dropped(`duplicate fragment ${number} of ${total}`);
      }
    }

    let piece: Uint8Array;
    try {
      piece = protection.openFragment(raw, skf);
    } catch (e) {
      return { kind: "dropped", reason: (e as Error).message, forged: !(e instanceof DecodeError) };
    }
    if (options.answered) return { kind: "repeat" };

    // A newer message, or the sender re-fragmented with more pieces (RFC 7383 §2.6): restart.
    if (partial?.messageId !== header.messageId || total > partial.total) {
      partial = {
        messageId: header.messageId,
        total,
        pieces: new Array(total).fill(undefined),
        received: 0,
        bytes: 0,
        innerFirst: PayloadType.None,
        lastFragmentAt: now,
      };
      this.#partial[slot] = partial;
    }
    partial.pieces[number - 1] = piece;
    partial.received++;
    partial.bytes += piece.length;
    partial.lastFragmentAt = now;
    if (number === 1) partial.innerFirst = skf.innerFirst ?? PayloadType.None;
    if (partial.bytes > this.#maxBytes) {
      this.#partial[slot] = undefined;
      this.#refused[slot] = header.messageId;
      return dropped(
        `message ${header.messageId} exceeds ${this.#maxBytes} bytes after ${partial.received} of ${total} fragments`,
      );
    }
    if (partial.received < total) return { kind: "pending", number, total };

    this.#partial[slot] = undefined;
    this.#completed[slot] = header.messageId;
    const chain = new Uint8Array(partial.bytes);
    let at = 0;
    for (const p of partial.pieces) {
      chain.set(p!, at);
      at += p!.length;
    }
    try {
      const payloads = decodePayloadChain(partial.innerFirst, chain);
      return { kind: "complete", payloads, fragments: total, length: chain.length };
    } catch (e) {
      return dropped(`reassembled message ${header.messageId}: ${(e as Error).message}`);
    }
  }
}

function dropped(reason: string): FragmentOutcome {
  return { kind: "dropped", reason, forged: false };
}
