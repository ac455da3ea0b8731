/** TUN device checks that need no root; the real device is exercised in test/netns/. */
import assert from "node:assert/strict";
import { IFREQ_SIZE, TunFlag, TunIoctl, TunOffload } from "../../lib/net/tun_constants.ts";
import { openTun } from "../../lib/net/tun_linux.ts";

Deno.test("the TUN ioctl constants match the Linux ABI encoding", () => {
  // _IOW('T', nr, int) = (1 << 30) | (sizeof(int) << 16) | ('T' << 8) | nr
  const iow = (nr: number) => ((1 << 30) | (4 << 16) | (0x54 << 8) | nr) >>> 0;
  assert.equal(TunIoctl.TUNSETIFF, iow(202));
  assert.equal(TunIoctl.TUNSETPERSIST, iow(203));
  assert.equal(TunIoctl.TUNSETOFFLOAD, iow(208));
  assert.equal(TunIoctl.TUNSETVNETHDRSZ, iow(216));
  assert.equal(TunIoctl.TUNGETIFF, ((2 << 30) | (4 << 16) | (0x54 << 8) | 210) >>> 0);
  assert.equal(TunFlag.IFF_TUN | TunFlag.IFF_NO_PI, 0x1001);
  assert.equal(IFREQ_SIZE, 40);
});

Deno.test("openTun rejects names that do not fit IFNAMSIZ or contain separators", () => {
  assert.throws(() => openTun({ name: "" }), {
    name: "RangeError",
    message: 'Cannot open TUN device "": interface name must be 1..15 bytes',
  });
  assert.throws(() => openTun({ name: "a-name-of-16-chr" }), RangeError);
  assert.throws(() => openTun({ name: "rhp/0" }), {
    name: "RangeError",
    message: 'Cannot open TUN device "rhp/0": interface name contains whitespace, "/", ":" or NUL',
  });
  assert.throws(() => openTun({ name: "rhp 0" }), RangeError);
});

Deno.test("openTun rejects an MTU outside 68..65535 and a bad poll timeout", () => {
  assert.throws(() => openTun({ name: "rhp0", mtu: 67 }), {
    name: "RangeError",
    message: "Cannot open TUN device rhp0: MTU 67 is not in 68..65535",
  });
  assert.throws(() => openTun({ name: "rhp0", mtu: 70000 }), RangeError);
  assert.throws(() => openTun({ name: "rhp0", pollTimeoutMs: 0 }), RangeError);
});

Deno.test("openTun refuses offloads on a TAP device and the offload bits match if_tun.h", () => {
  assert.throws(() => openTun({ name: "rhp0", mode: "tap", offload: true }), {
    name: "RangeError",
    message: 'Cannot open TUN device rhp0: offloads need mode "tun"',
  });
  assert.equal(TunFlag.IFF_VNET_HDR, 0x4000);
  assert.equal(TunOffload.TUN_F_CSUM | TunOffload.TUN_F_TSO4 | TunOffload.TUN_F_TSO6, 0x07);
  assert.equal(TunOffload.TUN_F_TSO_ECN, 0x08);
  assert.equal(TunOffload.TUN_F_USO6, 0x40);
});
