/**
 * Linux TUN/TAP device over FFI: `/dev/net/tun` opened non-blocking, attached with TUNSETIFF,
 * read and written with plain `read`/`write` (one packet per call, no packet-information
 * prefix). Waiting uses the `nonblocking` FFI `poll` on the device and an eventfd, so that
 * {@link TunDevice.close} wakes a pending {@link TunDevice.waitReadable} at once.
 *
 * Only the descriptor is handled here: addresses, MTU, link state and routes belong to
 * `ip_control.ts`. Closing the (non-persistent) descriptor removes the interface.
 */
import { Counters } from "../log/mod.ts";
import {
  cString,
  Errno,
  lastErrno,
  lastError,
  libc,
  type LibcSymbols,
  OpenFlag,
  SysError,
} from "../sys/mod.ts";
import type { PacketDevice } from "./device.ts";
import {
  IFNAMSIZ,
  IFREQ_FLAGS_OFFSET,
  IFREQ_SIZE,
  TUN_CLONE_DEVICE,
  TunFlag,
  TunIoctl,
  TunOffload,
} from "./tun_constants.ts";
import { VNET_HDR_LENGTH } from "./vnet_hdr.ts";
import { PollWaiter } from "./_poll_waiter_linux.ts";

/** Default `mtu` reported by a device whose options name none. */
export const DEFAULT_TUN_MTU = 1500;
/**
 * Upper bound of one {@link TunDevice.waitReadable} poll. Close wakes the poll through the
 * eventfd; the timeout only bounds how long a lost wake-up could stall a reader.
 */
export const DEFAULT_POLL_TIMEOUT_MS = 1000;

/** Options of {@link openTun}. */
export interface TunOptions {
  /** Interface name, at most 15 bytes; a `%d` lets the kernel pick the number (`rhp%d`). */
  name: string;
  /** `tun` (IP packets, default) or `tap` (Ethernet frames). */
  mode?: "tun" | "tap";
  /** The MTU the data path should assume; the interface's MTU is set by `ip_control.ts`. */
  mtu?: number;
  /** Open one queue of a multi-queue device (IFF_MULTI_QUEUE), e.g. one per worker. */
  multiQueue?: boolean;
  /** Upper bound of one poll in {@link TunDevice.waitReadable}; default 1000 ms. */
  pollTimeoutMs?: number;
  /**
   * Checksum and TCP segmentation offloads (IFF_VNET_HDR, TUNSETVNETHDRSZ 10, TUNSETOFFLOAD
   * TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6). Every read then returns a `virtio_net_hdr`
   * (`vnet_hdr.ts`) followed by a packet of up to 64 KiB (read into a buffer of at least
   * `VNET_HDR_LENGTH + VNET_MAX_PACKET_LENGTH` bytes), and every write must start with one:
   * split reads with `GsoSplitter`, build writes with `GroCoalescer` (`lib/esp`). TUN mode only.
   */
  offload?: boolean;
}

/** Counter names of a {@link TunDevice}. */
export const TUN_COUNTER_NAMES = [
  "rxPackets",
  "txPackets",
  /** Writes refused with EAGAIN/ENOBUFS (queue full). */
  "txDropped",
  /** Writes refused otherwise (interface down: EIO, malformed packet: EINVAL, closed). */
  "txErrors",
] as const;

/** A counter name of {@link TUN_COUNTER_NAMES}. */
export type TunCounterName = (typeof TUN_COUNTER_NAMES)[number];

/**
 * Opens `/dev/net/tun` and attaches it to interface `options.name` (created if absent).
 * Needs CAP_NET_ADMIN (or an interface owned by the user) and `--allow-ffi`. Throws
 * `RangeError` for a bad name and {@link SysError} when a system call fails, e.g.
 * `Cannot open /dev/net/tun: EPERM (Operation not permitted)`.
 *
 * @example
 * ```ts
 * const tun = openTun({ name: "rhp0" });
 * const buf = new Uint8Array(65536);
 * for (;;) {
 *   const n = tun.tryRead(buf);
 *   if (n < 0) await tun.waitReadable();
 *   else handle(buf.subarray(0, n));
 * }
 * ```
 */
export function openTun(options: TunOptions): TunDevice {
  const nameBytes = validateName(options.name);
  const mode = options.mode ?? "tun";
  const mtu = options.mtu ?? DEFAULT_TUN_MTU;
  if (!Number.isInteger(mtu) || mtu < 68 || mtu > 65535) {
    throw new RangeError(`Cannot open TUN device ${options.name}: MTU ${mtu} is not in 68..65535`);
  }
  const offload = options.offload === true;
  if (offload && mode !== "tun") {
    throw new RangeError(`Cannot open TUN device ${options.name}: offloads need mode "tun"`);
  }
  const pollTimeoutMs = options.pollTimeoutMs ?? DEFAULT_POLL_TIMEOUT_MS;
  if (!Number.isInteger(pollTimeoutMs) || pollTimeoutMs < 1) {
    throw new RangeError(
      `Cannot open TUN device ${options.name}: poll timeout ${pollTimeoutMs} is not a positive integer`,
    );
  }

  const c = libc();
  const fd = c.open(
    cString(TUN_CLONE_DEVICE),
    OpenFlag.O_RDWR | OpenFlag.O_NONBLOCK | OpenFlag.O_CLOEXEC,
    0,
  );
  if (fd < 0) throw lastError("open", `open ${TUN_CLONE_DEVICE}`);

  const ifreq = new Uint8Array(IFREQ_SIZE);
  ifreq.set(nameBytes);
  let flags = (mode === "tap" ? TunFlag.IFF_TAP : TunFlag.IFF_TUN) | TunFlag.IFF_NO_PI;
  if (options.multiQueue === true) flags |= TunFlag.IFF_MULTI_QUEUE;
  if (offload) flags |= TunFlag.IFF_VNET_HDR;
  new DataView(ifreq.buffer).setInt16(IFREQ_FLAGS_OFFSET, flags, true);
  if (c.ioctl(fd, BigInt(TunIoctl.TUNSETIFF), ifreq) < 0) {
    const errno = lastErrno();
    c.close(fd);
    throw new SysError(
      "ioctl",
      errno,
      `attach ${mode.toUpperCase()} interface ${options.name} (TUNSETIFF)`,
    );
  }

  if (offload) enableOffloads(c, fd, options.name);

  let waiter: PollWaiter;
  try {
    waiter = PollWaiter.open(fd, pollTimeoutMs, options.name);
  } catch (e) {
    c.close(fd);
    throw e;
  }

  // The kernel writes the final name back (it expands `%d`).
  const end = ifreq.indexOf(0);
  const name = new TextDecoder().decode(
    ifreq.subarray(0, end < 0 ? IFNAMSIZ : Math.min(end, IFNAMSIZ)),
  );
  return new TunDevice({ fd, waiter, name, mode, mtu, offload });
}

/** The offloads {@link openTun} requests with `offload: true`. */
const TUN_OFFLOADS = TunOffload.TUN_F_CSUM | TunOffload.TUN_F_TSO4 | TunOffload.TUN_F_TSO6;

/** Sets the vnet header size and the offloads on an attached descriptor; closes it on failure. */
function enableOffloads(c: LibcSymbols, fd: number, name: string): void {
  const size = new Uint8Array(4);
  new DataView(size.buffer).setInt32(0, VNET_HDR_LENGTH, true);
  let step = "TUNSETVNETHDRSZ";
  let ok = c.ioctl(fd, BigInt(TunIoctl.TUNSETVNETHDRSZ), size) >= 0;
  if (ok) {
    step = "TUNSETOFFLOAD";
    ok = ioctlValue(fd, TunIoctl.TUNSETOFFLOAD, TUN_OFFLOADS) >= 0;
  }
  if (ok) return;
  const errno = lastErrno();
  c.close(fd);
  throw new SysError("ioctl", errno, `enable offloads on TUN interface ${name} (${step})`);
}

/** `int ioctl(int fd, unsigned long request, unsigned long value)`: the value-argument form. */
const IOCTL_VALUE_SYMBOLS = {
  ioctl: { parameters: ["i32", "u64", "u64"], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;
let ioctlValueLibrary: Deno.DynamicLibrary<typeof IOCTL_VALUE_SYMBOLS> | undefined;

/** TUNSETOFFLOAD takes its argument by value, which `libc().ioctl` (pointer form) cannot pass. */
function ioctlValue(fd: number, request: number, value: number): number {
  ioctlValueLibrary ??= Deno.dlopen("libc.so.6", IOCTL_VALUE_SYMBOLS);
  return ioctlValueLibrary.symbols.ioctl(fd, BigInt(request), BigInt(value));
}

/** Checks an interface name and returns its bytes (without NUL). */
function validateName(name: string): Uint8Array {
  const bytes = new TextEncoder().encode(name);
  if (bytes.length === 0 || bytes.length >= IFNAMSIZ) {
    throw new RangeError(
      `Cannot open TUN device "${name}": interface name must be 1..${IFNAMSIZ - 1} bytes`,
    );
  }
  if (/[\s/:\0]/.test(name) || name === "." || name === "..") {
    throw new RangeError(
      `Cannot open TUN device "${name}": interface name contains whitespace, "/", ":" or NUL`,
    );
  }
  return bytes;
}

/** What {@link openTun} hands to the device. */
interface TunHandle {
  fd: number;
  waiter: PollWaiter;
  name: string;
  mode: "tun" | "tap";
  mtu: number;
  offload: boolean;
}

/**
 * An open TUN/TAP queue implementing {@link PacketDevice}. Create it with {@link openTun}.
 * All methods must be called from the thread that opened it.
 */
export class TunDevice implements PacketDevice {
  /** Interface name as the kernel reports it. */
  readonly name: string;
  readonly mode: "tun" | "tap";
  readonly mtu: number;
  /** True when opened with `offload`: reads and writes carry a `virtio_net_hdr`. */
  readonly offload: boolean;
  /** Bytes of `virtio_net_hdr` before each packet: 10 with `offload`, else 0. */
  readonly vnetHdrLength: number;
  /** Per-device packet counters. */
  readonly counters: Counters<TunCounterName> = new Counters(TUN_COUNTER_NAMES);
  readonly #fd: number;
  readonly #waiter: PollWaiter;
  readonly #c: LibcSymbols;
  #closed = false;
  /** `BigInt(buf.length)` of the last read buffer, to avoid a BigInt per read. */
  #readLength = -1;
  #readLengthBig = 0n;

  /** @internal Use {@link openTun}. */
  constructor(handle: TunHandle) {
    this.#fd = handle.fd;
    this.#waiter = handle.waiter;
    this.name = handle.name;
    this.mode = handle.mode;
    this.mtu = handle.mtu;
    this.offload = handle.offload;
    this.vnetHdrLength = handle.offload ? VNET_HDR_LENGTH : 0;
    this.#c = libc();
  }

  /** The raw descriptor (for batching helpers in `lib/net`); -1 once closed. */
  get fd(): number {
    return this.#closed ? -1 : this.#fd;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Reads one packet into `buf` without blocking; returns its length (truncated to `buf` if
   * larger), or -1 when nothing is queued. Throws {@link SysError} when the device is closed
   * (EBADF) or broken (e.g. EBADFD after the interface was deleted).
   */
  tryRead(buf: Uint8Array): number {
    if (this.#closed) {
      throw new SysError("read", Errno.EBADF, `read from ${this.name}: device closed`);
    }
    if (buf.length !== this.#readLength) {
      this.#readLength = buf.length;
      this.#readLengthBig = BigInt(buf.length);
    }
    const n = this.#c.read(this.#fd, buf, this.#readLengthBig);
    if (n >= 0) {
      this.counters.add("rxPackets");
      return n;
    }
    const errno = lastErrno();
    if (errno === Errno.EAGAIN || errno === Errno.EINTR) return -1;
    throw new SysError("read", errno, `read from ${this.name}`);
  }

  /**
   * Resolves when a packet may be readable, the poll timed out, or the device was closed.
   * Costs one worker-thread poll (17–30 µs): call it only after {@link tryRead} returned -1.
   */
  waitReadable(): Promise<void> {
    return this.#waiter.wait();
  }

  /**
   * Writes one packet. Returns false when it was dropped: EAGAIN/ENOBUFS count as `txDropped`,
   * anything else (interface down, malformed packet, closed device) as `txErrors`. Never throws.
   */
  write(packet: Uint8Array): boolean {
    if (this.#closed) {
      this.counters.add("txErrors");
      return false;
    }
    const n = this.#c.write(this.#fd, packet, BigInt(packet.length));
    if (n === packet.length) {
      this.counters.add("txPackets");
      return true;
    }
    if (n < 0) {
      const errno = lastErrno();
      if (errno === Errno.EAGAIN || errno === Errno.ENOBUFS) {
        this.counters.add("txDropped");
        return false;
      }
    }
    this.counters.add("txErrors");
    return false;
  }

  /**
   * Closes the descriptor (removing a non-persistent interface) and wakes pending
   * {@link waitReadable} calls. Idempotent.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#waiter.close();
    this.#c.close(this.#fd);
  }
}
