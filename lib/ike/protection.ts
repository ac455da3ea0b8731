/**
 * SK payload protection (RFC 7296 §3.14; RFC 5282 for AES-GCM). One instance per IKE SA and
 * direction pair; crypto contexts are created once from the SA's keys.
 *
 * Wire layout of a protected message:
 *   IKE header (28) | SK generic header (4) | IV | ciphertext(payloads | pad | pad length) | ICV
 * AEAD: nonce = salt(4) | IV(8), AAD = IKE header .. SK generic header.
 * CBC:  ICV = truncated HMAC over everything before the ICV.
 *
 * An IKE fragment (RFC 7383 §2.5) is protected the same way, with the SKF payload in place of
 * SK and its Fragment Number | Total Fragments (4) between the generic header and the IV, so
 * that they are covered too. Each fragment has its own IV, padding and ICV.
 */
import type { AeadContext, CbcContext, CryptoProvider, MacContext } from "../crypto/mod.ts";
import { bytesEqual, ByteWriter, DecodeError } from "../wire/mod.ts";
import type { EncryptionInfo, IntegrityInfo } from "./algorithms.ts";
import { GENERIC_PAYLOAD_HEADER_LENGTH, IKE_HEADER_LENGTH, PayloadType } from "./constants.ts";
import {
  decodePayloadChain,
  encodeFragmentNumbers,
  encodeHeader,
  encodePayloadChain,
  FRAGMENT_FIELDS_LENGTH,
  type FragmentNumbers,
} from "./payloads/mod.ts";
import type { EncryptedPayload, IkeHeader, OpaquePayload, Payload } from "./payloads/types.ts";

/** The ICV of a protected message did not verify: drop it silently (RFC 7296 §2.21). */
export class IntegrityError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "IntegrityError";
  }
}

interface DirectionKeys {
  encryptionKey: Uint8Array;
  integrityKey: Uint8Array;
}

class Direction {
  readonly aead: AeadContext | undefined;
  readonly cbc: CbcContext | undefined;
  readonly mac: MacContext | undefined;
  readonly salt: Uint8Array;

  constructor(
    provider: CryptoProvider,
    encryption: EncryptionInfo,
    integrity: IntegrityInfo | undefined,
    keys: DirectionKeys,
  ) {
    const keyLength = encryption.keyMaterialLength - encryption.saltLength;
    const key = keys.encryptionKey.subarray(0, keyLength);
    this.salt = keys.encryptionKey.slice(keyLength);
    if (encryption.aead) {
      this.aead = provider.createAead(key);
    } else {
      this.cbc = provider.createCbc(key);
      if (!integrity) {
        throw new RangeError("Cannot protect IKE SA: CBC needs an integrity algorithm");
      }
      this.mac = provider.createMac(integrity.hash, keys.integrityKey);
    }
  }

  dispose(): void {
    this.aead?.dispose();
    this.cbc?.dispose();
    this.mac?.dispose();
  }
}

export interface ProtectionOptions {
  encryption: EncryptionInfo;
  integrity: IntegrityInfo | undefined;
  outbound: DirectionKeys;
  inbound: DirectionKeys;
}

/** Seals and opens SK payloads for one IKE SA. */
export class MessageProtection {
  readonly #provider: CryptoProvider;
  readonly #encryption: EncryptionInfo;
  readonly #icvLength: number;
  readonly #out: Direction;
  readonly #in: Direction;
  /** AES-GCM explicit IVs: a counter, so an IV never repeats under one key. */
  #ivCounter = 0n;

  constructor(provider: CryptoProvider, options: ProtectionOptions) {
    this.#provider = provider;
    this.#encryption = options.encryption;
    this.#icvLength = options.encryption.aead
      ? options.encryption.icvLength
      : options.integrity?.icvLength ?? 0;
    this.#out = new Direction(provider, options.encryption, options.integrity, options.outbound);
    this.#in = new Direction(provider, options.encryption, options.integrity, options.inbound);
  }

  /** Bytes the SK wrapping adds around `n` bytes of inner payloads. */
  overhead(innerLength: number): number {
    return GENERIC_PAYLOAD_HEADER_LENGTH + this.#encryption.ivLength +
      this.#paddedLength(innerLength) + this.#icvLength;
  }

  #paddedLength(innerLength: number): number {
    const block = this.#encryption.aead ? 1 : this.#encryption.blockSize;
    const withPadLength = innerLength + 1;
    return Math.ceil(withPadLength / block) * block;
  }

  /**
   * The most plaintext one fragment can carry when its whole IKE message (header to ICV) may
   * be `messageLength` bytes long; 0 when not even one byte fits.
   */
  maxFragmentContent(messageLength: number): number {
    const enc = this.#encryption;
    const room = messageLength - IKE_HEADER_LENGTH - GENERIC_PAYLOAD_HEADER_LENGTH -
      FRAGMENT_FIELDS_LENGTH - enc.ivLength - this.#icvLength;
    const block = enc.aead ? 1 : enc.blockSize;
    return Math.max(0, Math.floor(room / block) * block - 1);
  }

  /** Encodes `payloads` inside an SK payload and returns the whole protected message. */
  seal(
    header: Omit<IkeHeader, "length" | "nextPayload">,
    payloads: readonly Payload[],
  ): Uint8Array {
    const { firstType, bytes: inner } = encodePayloadChain(payloads);
    return this.#seal(header, PayloadType.Encrypted, firstType, undefined, inner);
  }

  /**
   * Protects one piece of an encoded payload chain as an SKF message (RFC 7383 §2.5). The
   * generic header names `innerFirst` in fragment 1 and 0 in the others.
   */
  sealFragment(
    header: Omit<IkeHeader, "length" | "nextPayload">,
    fragment: FragmentNumbers & { innerFirst: number },
    content: Uint8Array,
  ): Uint8Array {
    return this.#seal(
      header,
      PayloadType.EncryptedFragment,
      fragment.number === 1 ? fragment.innerFirst : PayloadType.None,
      fragment,
      content,
    );
  }

  #seal(
    header: Omit<IkeHeader, "length" | "nextPayload">,
    payloadType: number,
    nextPayload: number,
    fragment: FragmentNumbers | undefined,
    inner: Uint8Array,
  ): Uint8Array {
    const enc = this.#encryption;
    const fieldsLength = fragment ? FRAGMENT_FIELDS_LENGTH : 0;
    const plainLength = this.#paddedLength(inner.length);
    const skLength = GENERIC_PAYLOAD_HEADER_LENGTH + fieldsLength + enc.ivLength + plainLength +
      this.#icvLength;
    const total = IKE_HEADER_LENGTH + skLength;

    const w = new ByteWriter(total);
    encodeHeader({ ...header, nextPayload: payloadType, length: total }, w);
    w.u8(nextPayload).u8(0).u16(skLength);
    const out = new Uint8Array(total);
    out.set(w.finish());
    const ivStart = IKE_HEADER_LENGTH + GENERIC_PAYLOAD_HEADER_LENGTH + fieldsLength;
    if (fragment) encodeFragmentNumbers(fragment, out, ivStart - FRAGMENT_FIELDS_LENGTH);
    const textStart = ivStart + enc.ivLength;
    const iv = out.subarray(ivStart, textStart);
    const text = out.subarray(textStart, textStart + plainLength);
    text.set(inner);
    text[plainLength - 1] = plainLength - inner.length - 1; // pad length; pad bytes stay zero
    const icv = out.subarray(total - this.#icvLength);

    if (this.#out.aead) {
      this.#ivCounter++;
      new DataView(iv.buffer, iv.byteOffset, 8).setBigUint64(0, this.#ivCounter);
      const nonce = new Uint8Array(12);
      nonce.set(this.#out.salt);
      nonce.set(iv, 4);
      this.#out.aead.seal(nonce, out.subarray(0, ivStart), text, icv);
    } else {
      this.#provider.randomBytes(iv);
      this.#out.cbc!.encrypt(iv.slice(), text);
      this.#out.mac!.compute([out.subarray(0, total - this.#icvLength)], icv);
    }
    return out;
  }

  /**
   * Verifies and decrypts the SK payload of `raw` (the whole message, whose last payload is
   * `sk`) and decodes the inner payloads. Throws {@link IntegrityError} when the ICV fails and
   * `DecodeError` when the plaintext is malformed.
   */
  open(raw: Uint8Array, sk: EncryptedPayload): Payload[] {
    const inner = this.#open(raw, sk.body.length, 0, "SK");
    return decodePayloadChain(sk.innerFirst, inner);
  }

  /**
   * Verifies and decrypts one fragment: `raw` is the whole message, its last payload `skf`.
   * Returns this fragment's share of the payload chain (a copy). Throws
   * {@link IntegrityError} when the ICV fails and `DecodeError` when the fragment is malformed.
   */
  openFragment(raw: Uint8Array, skf: OpaquePayload): Uint8Array {
    return this.#open(raw, skf.body.length, FRAGMENT_FIELDS_LENGTH, "SKF");
  }

  #open(raw: Uint8Array, bodyLength: number, fieldsLength: number, what: string): Uint8Array {
    const enc = this.#encryption;
    const skStart = raw.length - GENERIC_PAYLOAD_HEADER_LENGTH - bodyLength;
    const ivStart = skStart + GENERIC_PAYLOAD_HEADER_LENGTH + fieldsLength;
    const minimum = fieldsLength + enc.ivLength + this.#icvLength + 1;
    if (skStart < IKE_HEADER_LENGTH || bodyLength < minimum) {
      throw new DecodeError(
        `Cannot open ${what} payload: ${bodyLength} bytes is shorter than IV + ICV`,
        skStart,
      );
    }
    const body = raw.slice(ivStart); // decrypt a copy; `raw` stays intact for retransmit caches
    const iv = body.subarray(0, enc.ivLength);
    const text = body.subarray(enc.ivLength, body.length - this.#icvLength);
    const icv = body.subarray(body.length - this.#icvLength);

    if (this.#in.aead) {
      const nonce = new Uint8Array(12);
      nonce.set(this.#in.salt);
      nonce.set(iv, 4);
      if (!this.#in.aead.open(nonce, raw.subarray(0, ivStart), text, icv)) {
        throw new IntegrityError(`Cannot open ${what} payload: AES-GCM tag does not verify`);
      }
    } else {
      const expected = new Uint8Array(this.#icvLength);
      this.#in.mac!.compute([raw.subarray(0, raw.length - this.#icvLength)], expected);
      if (!bytesEqual(expected, icv)) {
        throw new IntegrityError(
          `Cannot open ${what} payload: integrity checksum does not verify`,
        );
      }
      if (text.length % enc.blockSize !== 0) {
        throw new DecodeError(
          `Cannot open ${what} payload: ciphertext of ${text.length} bytes is not a multiple of ${enc.blockSize}`,
          ivStart,
        );
      }
      this.#in.cbc!.decrypt(iv.slice(), text);
    }
    const padLength = text[text.length - 1]!;
    if (padLength + 1 > text.length) {
      throw new DecodeError(
        `Cannot open ${what} payload: pad length ${padLength} overruns`,
        ivStart,
      );
    }
    return text.slice(0, text.length - 1 - padLength);
  }

  dispose(): void {
    this.#out.dispose();
    this.#in.dispose();
  }
}
