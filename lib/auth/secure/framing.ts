/**
 * Frames of the secure-process IPC: the only bytes that cross the pipes between the main and
 * the secure process.
 *
 * ```
 *   0                   1                   2                   3
 *   0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  |                     Body length (octets)                      |
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 *  ~          Body: one JSON value in UTF-8 (byte arrays base64)   ~
 *  +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ```
 *
 * The length is big-endian and counts the body only. A body longer than
 * {@link MAX_FRAME_LENGTH} is never buffered: the decoder reports it and skips exactly that many
 * octets, so the stream stays in step. Bytes left over when the stream ends are a truncated
 * frame. Parsing the JSON against a schema is protocol.ts's job; this file only cuts frames.
 */

/** Octets of the length prefix. */
export const FRAME_HEADER_LENGTH = 4;
/**
 * Largest body accepted (1 MiB): a certificate chain of a few dozen certificates in base64
 * fits many times over; anything larger is refused, never buffered.
 */
export const MAX_FRAME_LENGTH = 1024 * 1024;

/** Why a frame could not be taken from the stream. */
export type FrameProblem = "oversized" | "empty" | "truncated";

/** A framing problem; `length` is the declared body length where one was read. */
export class FrameError extends RangeError {
  readonly problem: FrameProblem;
  readonly length: number | undefined;
  constructor(problem: FrameProblem, message: string, length?: number) {
    super(message);
    this.name = "FrameError";
    this.problem = problem;
    this.length = length;
  }
}

const encoder = new TextEncoder();

/**
 * One frame holding `body` (already JSON text). Throws {@link FrameError} when the UTF-8 body
 * exceeds `maxLength`.
 *
 * @example
 * ```ts
 * const frame = encodeFrame('{"id":1,"type":"hasPsk","args":{"realmId":1,"peerId":"fqdn:a"}}');
 * frame.subarray(0, 4); // the body length, big-endian
 * ```
 */
export function encodeFrame(body: string, maxLength: number = MAX_FRAME_LENGTH): Uint8Array {
  return frameOfBody(encoder.encode(body), maxLength);
}

/**
 * One frame around a body that is already UTF-8 JSON (relaying a frame unchanged). Throws
 * {@link FrameError} above `maxLength`.
 */
export function frameOfBody(body: Uint8Array, maxLength: number = MAX_FRAME_LENGTH): Uint8Array {
  if (body.length > maxLength) {
    throw new FrameError(
      "oversized",
      `Cannot send a frame of ${body.length} octets: the limit is ${maxLength}`,
      body.length,
    );
  }
  const frame = new Uint8Array(FRAME_HEADER_LENGTH + body.length);
  new DataView(frame.buffer).setUint32(0, body.length);
  frame.set(body, FRAME_HEADER_LENGTH);
  return frame;
}

/** What {@link FrameDecoder.push} yields: a whole body, or a problem with the stream. */
export type DecodedFrame = { body: Uint8Array } | { error: FrameError };

/**
 * Cuts a byte stream into frame bodies. Feed it chunks as they arrive; call {@link end} when
 * the stream closes.
 *
 * @example
 * ```ts
 * const decoder = new FrameDecoder();
 * for await (const chunk of stdout) {
 *   for (const frame of decoder.push(chunk)) {
 *     if ("body" in frame) handle(frame.body); else log.warn(frame.error.message);
 *   }
 * }
 * const last = decoder.end(); // a FrameError when a frame was cut off
 * ```
 */
export class FrameDecoder {
  readonly maxLength: number;
  #buffer = new Uint8Array(0);
  /** Octets of an oversized body still to be thrown away. */
  #skipping = 0;

  constructor(maxLength: number = MAX_FRAME_LENGTH) {
    this.maxLength = maxLength;
  }

  /** Octets held for an incomplete frame. */
  get buffered(): number {
    return this.#buffer.length;
  }

  /** Adds `chunk` and returns every frame (or problem) completed by it, in stream order. */
  push(chunk: Uint8Array): DecodedFrame[] {
    let data = chunk;
    if (this.#skipping > 0) {
      const skip = Math.min(this.#skipping, data.length);
      this.#skipping -= skip;
      data = data.subarray(skip);
      if (data.length === 0) return [];
    }
    let buffer: Uint8Array;
    if (this.#buffer.length === 0) {
      buffer = data;
    } else {
      buffer = new Uint8Array(this.#buffer.length + data.length);
      buffer.set(this.#buffer);
      buffer.set(data, this.#buffer.length);
    }
    const out: DecodedFrame[] = [];
    let offset = 0;
    while (buffer.length - offset >= FRAME_HEADER_LENGTH) {
      const view = new DataView(buffer.buffer, buffer.byteOffset + offset, FRAME_HEADER_LENGTH);
      const length = view.getUint32(0);
      if (length === 0) {
        out.push({ error: new FrameError("empty", "Cannot read frame: the body is empty", 0) });
        offset += FRAME_HEADER_LENGTH;
        continue;
      }
      if (length > this.maxLength) {
        out.push({
          error: new FrameError(
            "oversized",
            `Cannot read frame: its body of ${length} octets exceeds the limit of ${this.maxLength}`,
            length,
          ),
        });
        offset += FRAME_HEADER_LENGTH;
        const available = Math.min(length, buffer.length - offset);
        offset += available;
        this.#skipping = length - available;
        if (this.#skipping > 0) break;
        continue;
      }
      if (buffer.length - offset - FRAME_HEADER_LENGTH < length) break;
      const start = offset + FRAME_HEADER_LENGTH;
      // A copy: the chunk's buffer may be reused by the reader.
      out.push({ body: buffer.slice(start, start + length) });
      offset = start + length;
    }
    this.#buffer = offset >= buffer.length ? new Uint8Array(0) : buffer.slice(offset);
    return out;
  }

  /** The stream ended: a {@link FrameError} when a frame was cut off, else undefined. */
  end(): FrameError | undefined {
    const buffer = this.#buffer;
    const skipping = this.#skipping;
    this.#buffer = new Uint8Array(0);
    this.#skipping = 0;
    if (skipping > 0) {
      return new FrameError(
        "truncated",
        `Cannot read frame: the stream ended ${skipping} octets before the end of an oversized frame`,
      );
    }
    if (buffer.length === 0) return undefined;
    if (buffer.length < FRAME_HEADER_LENGTH) {
      return new FrameError(
        "truncated",
        `Cannot read frame: the stream ended inside its ${FRAME_HEADER_LENGTH}-octet length (${buffer.length} octets)`,
      );
    }
    const length = new DataView(buffer.buffer, buffer.byteOffset, FRAME_HEADER_LENGTH).getUint32(0);
    return new FrameError(
      "truncated",
      `Cannot read frame: the stream ended after ${
        buffer.length - FRAME_HEADER_LENGTH
      } of ${length} body octets`,
      length,
    );
  }
}
