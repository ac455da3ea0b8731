/**
 * Messages as tasks see them: an incoming message with its (decrypted) payloads and the
 * datagram it came in, and an outgoing message that tasks fill with payloads.
 */
import type { Endpoint } from "../net/mod.ts";
import { NOTIFY_ERROR_MAX, PayloadType, ProtocolId } from "./constants.ts";
import type { IkeHeader, NotifyPayload, Payload } from "./payloads/types.ts";

/** The payload value type(s) whose `type` can be `T` (the catch-all UnknownPayload excluded). */
type PayloadOf<T extends number> = Payload extends infer P
  ? P extends { type: infer K } ? (number extends K ? never : T extends K ? P : never) : never
  : never;

/** A received, decoded and (for protected exchanges) verified message. */
export class IncomingMessage {
  readonly header: IkeHeader;
  readonly payloads: readonly Payload[];
  /** The datagram as received (without the non-ESP marker). */
  readonly raw: Uint8Array;
  readonly from: Endpoint;
  /** Our port the datagram arrived on. */
  readonly localPort: number;

  constructor(
    header: IkeHeader,
    payloads: readonly Payload[],
    raw: Uint8Array,
    from: Endpoint,
    localPort: number,
  ) {
    this.header = header;
    this.payloads = payloads;
    this.raw = raw;
    this.from = from;
    this.localPort = localPort;
  }

  get exchangeType(): number {
    return this.header.exchangeType;
  }

  get messageId(): number {
    return this.header.messageId;
  }

  /** The first payload of `type`. */
  get<T extends number>(type: T): PayloadOf<T> | undefined {
    return this.payloads.find((p) => p.type === type) as PayloadOf<T> | undefined;
  }

  /** All payloads of `type`, in order. */
  all<T extends number>(type: T): PayloadOf<T>[] {
    return this.payloads.filter((p) => p.type === type) as PayloadOf<T>[];
  }

  /** All Notify payloads of a notify type. */
  notifies(notifyType: number): NotifyPayload[] {
    return this.all(PayloadType.Notify).filter((n) => n.notifyType === notifyType);
  }

  /** The first error Notify (type < 16384), if any. */
  errorNotify(): NotifyPayload | undefined {
    return this.all(PayloadType.Notify).find((n) => n.notifyType <= NOTIFY_ERROR_MAX);
  }
}

/** A message under construction. */
export class OutgoingMessage {
  readonly exchangeType: number;
  readonly isResponse: boolean;
  readonly payloads: Payload[] = [];

  constructor(exchangeType: number, isResponse: boolean) {
    this.exchangeType = exchangeType;
    this.isResponse = isResponse;
  }

  add(payload: Payload): void {
    this.payloads.push(payload);
  }

  /** Adds a Notify; no SPI and protocol 0 unless given (REKEY_SA names an ESP SPI). */
  notify(
    notifyType: number,
    data: Uint8Array = new Uint8Array(0),
    protocol = 0,
    spi: Uint8Array = new Uint8Array(0),
  ): void {
    this.add({ type: PayloadType.Notify, protocol, spi, notifyType, data });
  }

  /** Replaces everything with one error notify (RFC 7296 §2.21). */
  fail(notifyType: number, data: Uint8Array = new Uint8Array(0)): void {
    this.payloads.length = 0;
    this.notify(notifyType, data);
  }

  hasNotify(notifyType: number): boolean {
    return this.payloads.some((p) =>
      p.type === PayloadType.Notify && (p as NotifyPayload).notifyType === notifyType
    );
  }
}

/** Protocol for ESP notifies with an SPI. */
export const ESP_PROTOCOL = ProtocolId.Esp;
