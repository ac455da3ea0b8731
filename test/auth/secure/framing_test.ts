/** Frames of the secure-process IPC: lengths, truncation, oversized frames, resynchronisation. */
import { assert, assertEquals, assertThrows } from "../../_assert.ts";
import {
  type DecodedFrame,
  encodeFrame,
  FrameDecoder,
  FrameError,
  MAX_FRAME_LENGTH,
} from "../../../lib/auth/secure/mod.ts";

const text = (frame: DecodedFrame) => {
  assert("body" in frame, "error" in frame ? frame.error.message : "");
  return new TextDecoder().decode(frame.body);
};

function header(length: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, length);
  return out;
}

Deno.test("encodeFrame writes a big-endian body length before the UTF-8 body", () => {
  const frame = encodeFrame('{"a":"ü"}');
  assertEquals([...frame.subarray(0, 4)], [0, 0, 0, 10]);
  assertEquals(new TextDecoder().decode(frame.subarray(4)), '{"a":"ü"}');
});

Deno.test("decodes several frames from one chunk and a frame fed one octet at a time", () => {
  const decoder = new FrameDecoder();
  const both = new Uint8Array([...encodeFrame('{"n":1}'), ...encodeFrame('{"n":2}')]);
  assertEquals(decoder.push(both).map(text), ['{"n":1}', '{"n":2}']);
  const frame = encodeFrame('{"n":3}');
  const out: DecodedFrame[] = [];
  for (const octet of frame) out.push(...decoder.push(new Uint8Array([octet])));
  assertEquals(out.map(text), ['{"n":3}']);
  assertEquals(decoder.buffered, 0);
  assertEquals(decoder.end(), undefined);
});

Deno.test("a stream that ends inside the length prefix is a truncated frame", () => {
  const decoder = new FrameDecoder();
  assertEquals(decoder.push(new Uint8Array([0, 0])), []);
  const error = decoder.end();
  assert(error instanceof FrameError);
  assertEquals(error.problem, "truncated");
  assert(error.message.includes("inside its 4-octet length (2 octets)"), error.message);
});

Deno.test("a stream that ends inside the body is a truncated frame naming both lengths", () => {
  const decoder = new FrameDecoder();
  const frame = encodeFrame('{"long":"body"}');
  assertEquals(decoder.push(frame.subarray(0, 9)), []);
  const error = decoder.end();
  assertEquals(error?.problem, "truncated");
  assertEquals(error?.length, 15);
  assert(error!.message.includes("after 5 of 15 body octets"), error!.message);
});

Deno.test("an oversized frame is refused without buffering and the next frame still decodes", () => {
  const decoder = new FrameDecoder(16);
  const big = new Uint8Array(40).fill(0x41);
  // Header and the first part of the body in one chunk, the rest and a good frame later.
  const first = decoder.push(new Uint8Array([...header(40), ...big.subarray(0, 10)]));
  assertEquals(first.length, 1);
  const error = "error" in first[0]! ? first[0].error : undefined;
  assertEquals(error?.problem, "oversized");
  assertEquals(error?.length, 40);
  assert(error!.message.includes("40 octets exceeds the limit of 16"), error!.message);
  assertEquals(decoder.buffered, 0, "nothing of the oversized body is kept");
  const next = decoder.push(new Uint8Array([...big.subarray(10), ...encodeFrame('{"ok":1}')]));
  assertEquals(next.map(text), ['{"ok":1}']);
  assertEquals(decoder.end(), undefined);
});

Deno.test("a stream that ends inside an oversized frame is truncated", () => {
  const decoder = new FrameDecoder(8);
  decoder.push(new Uint8Array([...header(100), 1, 2, 3]));
  assertEquals(decoder.end()?.problem, "truncated");
});

Deno.test("an empty frame is reported and skipped", () => {
  const decoder = new FrameDecoder();
  const out = decoder.push(new Uint8Array([...header(0), ...encodeFrame("{}")]));
  assertEquals(out.length, 2);
  assert("error" in out[0]! && out[0].error.problem === "empty");
  assertEquals(text(out[1]!), "{}");
});

Deno.test("encodeFrame refuses a body above the limit", () => {
  assertThrows(() => encodeFrame("x".repeat(MAX_FRAME_LENGTH + 1)), FrameError, "the limit is");
  assertThrows(() => encodeFrame("123456789", 8), FrameError, "9 octets");
});
