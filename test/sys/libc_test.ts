import assert from "node:assert/strict";
import {
  AddressFamily,
  cString,
  Errno,
  EventFdFlag,
  FcntlCommand,
  lastErrno,
  lastError,
  libc,
  OpenFlag,
  PollEvent,
  SocketOption,
  SocketType,
  SysError,
} from "../../lib/sys/mod.ts";

Deno.test("cString appends a NUL and rejects embedded NULs", () => {
  assert.deepEqual([...cString("ab")], [0x61, 0x62, 0]);
  assert.throws(() => cString("a\0b"), TypeError);
});

Deno.test("a failing open reports ENOENT through lastErrno and lastError", () => {
  const c = libc();
  const fd = c.open(cString("/nonexistent/rockhopper"), OpenFlag.O_RDONLY, 0);
  assert.equal(fd, -1);
  assert.equal(lastErrno(), Errno.ENOENT);
  c.open(cString("/nonexistent/rockhopper"), OpenFlag.O_RDONLY, 0);
  const e = lastError("open", "open /nonexistent/rockhopper");
  assert.ok(e instanceof SysError);
  assert.equal(e.code, "ENOENT");
  assert.equal(
    e.message,
    "Cannot open /nonexistent/rockhopper: ENOENT (No such file or directory)",
  );
});

Deno.test("read and write move bytes through an eventfd and report EAGAIN when empty", () => {
  const c = libc();
  const fd = c.eventfd(0, EventFdFlag.EFD_NONBLOCK | EventFdFlag.EFD_CLOEXEC);
  assert.ok(fd >= 0);
  try {
    const value = new Uint8Array(8);
    assert.equal(c.read(fd, value, 8n), -1);
    assert.equal(lastErrno(), Errno.EAGAIN);
    value[0] = 3;
    assert.equal(c.write(fd, value, 8n), 8);
    value[0] = 4;
    assert.equal(c.write(fd, value, 8n), 8);
    const out = new Uint8Array(8);
    assert.equal(c.read(fd, out, 8n), 8);
    assert.equal(out[0], 7); // eventfd sums what was written
    assert.equal(c.fcntl(fd, FcntlCommand.F_GETFL, 0) & OpenFlag.O_NONBLOCK, OpenFlag.O_NONBLOCK);
    assert.equal(c.fcntl(fd, FcntlCommand.F_GETFD, 0) & FcntlCommand.FD_CLOEXEC, 1);
  } finally {
    assert.equal(c.close(fd), 0);
  }
  assert.equal(c.close(fd), -1);
  assert.equal(lastErrno(), Errno.EBADF);
});

Deno.test("sync poll sees readiness; the nonblocking poll resolves on a write", async () => {
  const c = libc();
  const fd = c.eventfd(0, EventFdFlag.EFD_NONBLOCK | EventFdFlag.EFD_CLOEXEC);
  try {
    const pollFd = new Uint8Array(8);
    const view = new DataView(pollFd.buffer);
    view.setInt32(0, fd, true);
    view.setInt16(4, PollEvent.POLLIN, true);
    assert.equal(c.poll(pollFd, 1n, 0), 0);

    const started = performance.now();
    const waiting = c.pollWait(pollFd, 1n, 5000);
    setTimeout(() => c.write(fd, Uint8Array.of(1, 0, 0, 0, 0, 0, 0, 0), 8n), 50);
    assert.equal(await waiting, 1);
    assert.ok(performance.now() - started < 2000, "woken by the write, not the timeout");
    assert.equal(view.getInt16(6, true) & PollEvent.POLLIN, PollEvent.POLLIN);
    assert.equal(c.poll(pollFd, 1n, 0), 1);
  } finally {
    c.close(fd);
  }
});

Deno.test("UDP over loopback through socket, bind, getsockname, sendto and recvfrom", () => {
  const c = libc();
  const fd = c.socket(AddressFamily.AF_INET, SocketType.SOCK_DGRAM | SocketType.SOCK_NONBLOCK, 0);
  assert.ok(fd >= 0);
  try {
    const one = Uint8Array.of(1, 0, 0, 0);
    assert.equal(c.setsockopt(fd, SocketOption.SOL_SOCKET, SocketOption.SO_REUSEADDR, one, 4), 0);
    // struct sockaddr_in { sa_family u16 LE, port u16 BE, addr 4 bytes, zero[8] }: 127.0.0.1:0
    const address = new Uint8Array(16);
    const view = new DataView(address.buffer);
    view.setUint16(0, AddressFamily.AF_INET, true);
    address.set([127, 0, 0, 1], 4);
    assert.equal(c.bind(fd, address, 16), 0);
    const length = Uint8Array.of(16, 0, 0, 0);
    assert.equal(c.getsockname(fd, address, length), 0);
    assert.ok(view.getUint16(2) > 0, "kernel picked a port");

    const payload = new TextEncoder().encode("rockhopper");
    assert.equal(c.sendto(fd, payload, BigInt(payload.length), 0, address, 16), payload.length);
    const buf = new Uint8Array(64);
    const from = new Uint8Array(16);
    const fromLength = Uint8Array.of(16, 0, 0, 0);
    const n = c.recvfrom(fd, buf, 64n, 0, from, fromLength);
    assert.equal(n, payload.length);
    assert.equal(new TextDecoder().decode(buf.subarray(0, n)), "rockhopper");
    assert.deepEqual([...from.subarray(0, 8)], [...address.subarray(0, 8)]);
    assert.equal(c.recvfrom(fd, buf, 64n, 0, from, fromLength), -1);
    assert.equal(lastErrno(), Errno.EAGAIN);
  } finally {
    c.close(fd);
  }
});

Deno.test("getuid equals geteuid in a process that never changed ids", () => {
  const c = libc();
  assert.equal(typeof c.getuid(), "number");
  assert.equal(c.getuid(), c.geteuid());
});
