import assert from "node:assert/strict";
import { describeErrno, Errno, errnoName } from "../../lib/sys/errno.ts";
import { LibraryError, SysError } from "../../lib/sys/errors.ts";
import { strerror } from "../../lib/sys/libc.ts";

Deno.test("errno names print known values and UNKNOWN(n) otherwise", () => {
  assert.equal(errnoName(1), "EPERM");
  assert.equal(errnoName(11), "EAGAIN");
  assert.equal(errnoName(105), "ENOBUFS");
  assert.equal(errnoName(4095), "UNKNOWN(4095)");
  assert.equal(describeErrno(4095), "Unknown error 4095");
});

Deno.test("the static errno descriptions equal glibc's strerror texts", () => {
  for (const [name, value] of Object.entries(Errno)) {
    assert.equal(describeErrno(value), strerror(value), name);
  }
});

Deno.test("SysError names the action, the errno code and its description", () => {
  const e = new SysError("open", Errno.EPERM, "open /dev/net/tun");
  assert.ok(e instanceof Error);
  assert.equal(e.name, "SysError");
  assert.equal(e.message, "Cannot open /dev/net/tun: EPERM (Operation not permitted)");
  assert.equal(e.errno, 1);
  assert.equal(e.code, "EPERM");
  assert.equal(e.call, "open");
  assert.equal(new SysError("close", 9).message, "Cannot close: EBADF (Bad file descriptor)");
});

Deno.test("LibraryError appends OpenSSL's detail when there is one", () => {
  assert.equal(new LibraryError("Cannot load libcrypto").message, "Cannot load libcrypto");
  const e = new LibraryError("Cannot seal with AES-GCM: EVP_CipherInit_ex failed", "error:1");
  assert.equal(e.message, "Cannot seal with AES-GCM: EVP_CipherInit_ex failed (error:1)");
  assert.equal(e.detail, "error:1");
});
