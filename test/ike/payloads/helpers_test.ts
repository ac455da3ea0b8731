// Guards the hand-written assertions the other tests rely on.
import { assert, AssertionError, assertThrowsError, deepEqual } from "./_helpers.ts";

Deno.test("test helpers: deepEqual tells different bytes, keys and nesting apart", () => {
  assert.ok(deepEqual({ a: new Uint8Array([1, 2]) }, { a: new Uint8Array([1, 2]) }));
  assert.ok(!deepEqual(new Uint8Array([1, 2]), new Uint8Array([1, 3])));
  assert.ok(!deepEqual(new Uint8Array([1]), [1]));
  assert.ok(!deepEqual({ a: 1 }, { a: 1, b: 2 }));
  assert.ok(deepEqual({ a: 1, b: undefined }, { a: 1 }));
  assert.ok(!deepEqual([{ x: [1] }], [{ x: [2] }]));
  assert.ok(!deepEqual(0, "0"));
});

Deno.test("test helpers: assertThrowsError fails when nothing or the wrong class is thrown", () => {
  let failed = false;
  try {
    assertThrowsError(() => 1, RangeError, "x");
  } catch (e) {
    failed = e instanceof AssertionError;
  }
  assert.ok(failed);
  failed = false;
  try {
    assertThrowsError(
      () => {
        throw new TypeError("x");
      },
      RangeError,
      "x",
    );
  } catch (e) {
    failed = e instanceof AssertionError;
  }
  assert.ok(failed);
});
