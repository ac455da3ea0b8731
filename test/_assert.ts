/**
 * Minimal assertions (JSR's @std/assert is unreachable here): node:assert/strict re-exported
 * with the names Deno tests usually use.
 */
import nodeAssert from "node:assert/strict";

export function assert(condition: unknown, message?: string): asserts condition {
  nodeAssert.ok(condition, message);
}

export function assertEquals<T>(actual: T, expected: T, message?: string): void {
  nodeAssert.deepStrictEqual(actual, expected, message);
}

export function assertNotEquals<T>(actual: T, expected: T, message?: string): void {
  nodeAssert.notDeepStrictEqual(actual, expected, message);
}

export function assertThrows(
  fn: () => unknown,
  errorClass?: new (...args: never[]) => Error,
  includes?: string,
): Error {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  if (caught === undefined) {
    throw new nodeAssert.AssertionError({ message: "Expected function to throw" });
  }
  if (errorClass && !(caught instanceof errorClass)) {
    throw new nodeAssert.AssertionError({
      message: `Expected ${errorClass.name}, got ${String(caught)}`,
    });
  }
  if (includes && !(caught as Error).message.includes(includes)) {
    throw new nodeAssert.AssertionError({
      message: `Expected message to include "${includes}", got "${(caught as Error).message}"`,
    });
  }
  return caught as Error;
}

export async function assertRejects(
  fn: () => Promise<unknown>,
  errorClass?: new (...args: never[]) => Error,
  includes?: string,
): Promise<Error> {
  let caught: unknown;
  try {
    await fn();
  } catch (e) {
    caught = e;
  }
  if (caught === undefined) {
    throw new nodeAssert.AssertionError({ message: "Expected promise to reject" });
  }
  if (errorClass && !(caught instanceof errorClass)) {
    throw new nodeAssert.AssertionError({
      message: `Expected ${errorClass.name}, got ${String(caught)}`,
    });
  }
  if (includes && !(caught as Error).message.includes(includes)) {
    throw new nodeAssert.AssertionError({
      message: `Expected message to include "${includes}", got "${(caught as Error).message}"`,
    });
  }
  return caught as Error;
}
