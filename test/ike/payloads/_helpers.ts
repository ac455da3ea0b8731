/**
 * Test helpers for the payload codec tests. JSR (@std/assert) is unreachable and `node:assert`
 * needs @types/node, so a few small assertions live here.
 */
import { ByteReader, ByteWriter, fromHex } from "../../../lib/wire/mod.ts";
import {
  decodePayloadChain,
  encodePayloadChain,
  type Payload,
  payloadBodyLength,
} from "../../../lib/ike/payloads/mod.ts";

/** Thrown by the assertions below. */
export class AssertionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "AssertionError";
  }
}

function show(v: unknown): string {
  if (v instanceof Uint8Array) return `Uint8Array(${v.length})[${Array.from(v).join(",")}]`;
  if (Array.isArray(v)) return `[${v.map(show).join(", ")}]`;
  if (typeof v === "object" && v !== null) {
    return `{ ${Object.entries(v).map(([k, x]) => `${k}: ${show(x)}`).join(", ")} }`;
  }
  return typeof v === "string" ? JSON.stringify(v) : String(v);
}

/** Structural equality over primitives, arrays, Uint8Arrays and plain objects. */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (a instanceof Uint8Array || b instanceof Uint8Array) {
    if (!(a instanceof Uint8Array && b instanceof Uint8Array) || a.length !== b.length) {
      return false;
    }
    return a.every((x, i) => x === b[i]);
  }
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!(Array.isArray(a) && Array.isArray(b)) || a.length !== b.length) return false;
    return a.every((x, i) => deepEqual(x, b[i]));
  }
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  const ka = Object.keys(a).filter((k) => (a as Record<string, unknown>)[k] !== undefined);
  const kb = Object.keys(b).filter((k) => (b as Record<string, unknown>)[k] !== undefined);
  if (ka.length !== kb.length) return false;
  return ka.every((k) =>
    deepEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])
  );
}

/** Minimal assertions with the `node:assert` names. */
export interface Assert {
  ok(value: unknown, message?: string): asserts value;
  equal(actual: unknown, expected: unknown, message?: string): void;
  deepEqual(actual: unknown, expected: unknown, message?: string): void;
  match(text: string, pattern: RegExp): void;
  fail(message: string): never;
}

/** The assertions used by these tests. */
export const assert: Assert = {
  ok(value: unknown, message = "expected a truthy value"): asserts value {
    if (!value) throw new AssertionError(message);
  },
  equal(actual: unknown, expected: unknown, message?: string): void {
    if (!Object.is(actual, expected)) {
      throw new AssertionError(message ?? `expected ${show(expected)}, got ${show(actual)}`);
    }
  },
  deepEqual(actual: unknown, expected: unknown, message?: string): void {
    if (!deepEqual(actual, expected)) {
      throw new AssertionError(
        message ?? `values differ:\n  actual:   ${show(actual)}\n  expected: ${show(expected)}`,
      );
    }
  },
  match(text: string, pattern: RegExp): void {
    if (!pattern.test(text)) throw new AssertionError(`"${text}" does not match ${pattern}`);
  },
  fail(message: string): never {
    throw new AssertionError(message);
  },
};

/** Hex with spaces, newlines and `|` separators allowed. */
export function hex(text: string): Uint8Array {
  return fromHex(text.replace(/\|/g, ""));
}

/** A reader over `bytes`. */
export function reader(bytes: Uint8Array): ByteReader {
  return new ByteReader(bytes);
}

/** Runs `encode` into a fresh writer and returns the bytes. */
export function written(encode: (w: ByteWriter) => void): Uint8Array {
  const w = new ByteWriter(8);
  encode(w);
  return w.finish();
}

/**
 * Asserts that `fn` throws an instance of `errorClass` whose message contains (or matches)
 * `pattern`, and returns the error for further checks.
 */
export function assertThrowsError<E extends Error>(
  fn: () => unknown,
  // deno-lint-ignore no-explicit-any
  errorClass: abstract new (...args: any[]) => E,
  pattern: string | RegExp,
): E {
  let thrown: unknown;
  try {
    fn();
  } catch (e) {
    thrown = e;
  }
  if (thrown === undefined) assert.fail(`expected ${errorClass.name} but nothing was thrown`);
  if (!(thrown instanceof errorClass)) {
    assert.fail(`expected ${errorClass.name}, got ${String(thrown)}`);
  }
  if (typeof pattern === "string") {
    assert.ok(
      thrown.message.includes(pattern),
      `message "${thrown.message}" does not contain "${pattern}"`,
    );
  } else {
    assert.match(thrown.message, pattern);
  }
  return thrown;
}

/**
 * Encodes one payload as a chain, checks that the body length matches `payloadBodyLength`,
 * decodes it back and asserts deep equality.
 */
export function assertRoundTrip(payload: Payload): Uint8Array {
  const { firstType, bytes } = encodePayloadChain([payload]);
  assert.equal(firstType, payload.type);
  assert.equal(bytes.length, 4 + payloadBodyLength(payload));
  const decoded = decodePayloadChain(firstType, bytes);
  assert.deepEqual(decoded, [payload]);
  return bytes;
}
