/**
 * Waiting for a non-blocking descriptor to become readable without blocking the JS thread: the
 * `nonblocking` FFI `poll` (on a worker thread) over the descriptor and an eventfd, so that
 * {@link PollWaiter.close} wakes a pending {@link PollWaiter.wait} at once. Shared by the TUN
 * device and the raw ESP socket.
 */
import {
  EventFdFlag,
  lastErrno,
  libc,
  type LibcSymbols,
  PollEvent,
  POLLFD_SIZE,
  SysError,
} from "../sys/mod.ts";

/**
 * The wait half of a non-blocking descriptor. It never closes the descriptor it watches; its
 * owner calls {@link close} first, then closes the descriptor. One thread only.
 *
 * @example
 * ```ts
 * const waiter = PollWaiter.open(fd, 1000, "the raw ESP socket");
 * while (tryRead(fd) < 0) await waiter.wait();
 * waiter.close();
 * libc().close(fd);
 * ```
 */
export class PollWaiter {
  readonly #c: LibcSymbols = libc();
  readonly #wakeFd: number;
  readonly #timeoutMs: number;
  /** Two `struct pollfd`: the descriptor (POLLIN) and the wake-up eventfd (POLLIN). */
  readonly #pollFds = new Uint8Array(POLLFD_SIZE * 2);
  /** `uint64_t` 1, written to the eventfd on close. */
  readonly #wakeValue = new Uint8Array([1, 0, 0, 0, 0, 0, 0, 0]);
  #closed = false;
  #waiters = 0;
  #wakeFdOpen = true;

  /**
   * Creates the wake-up eventfd for `fd`; `owner` names it in the error. Throws
   * {@link SysError} when the eventfd cannot be created (`fd` is left open).
   */
  static open(fd: number, timeoutMs: number, owner: string): PollWaiter {
    const wakeFd = libc().eventfd(0, EventFdFlag.EFD_NONBLOCK | EventFdFlag.EFD_CLOEXEC);
    if (wakeFd < 0) {
      throw new SysError("eventfd", lastErrno(), `create the wake-up eventfd of ${owner}`);
    }
    return new PollWaiter(fd, wakeFd, timeoutMs);
  }

  private constructor(fd: number, wakeFd: number, timeoutMs: number) {
    this.#wakeFd = wakeFd;
    this.#timeoutMs = timeoutMs;
    const view = new DataView(this.#pollFds.buffer);
    view.setInt32(0, fd, true);
    view.setInt16(4, PollEvent.POLLIN, true);
    view.setInt32(POLLFD_SIZE, wakeFd, true);
    view.setInt16(POLLFD_SIZE + 4, PollEvent.POLLIN, true);
  }

  /**
   * Resolves when the descriptor may be readable, the poll timed out, or {@link close} was
   * called. Costs one worker-thread poll (17–30 µs): call it only after a read found nothing.
   */
  async wait(): Promise<void> {
    if (this.#closed) return;
    this.#waiters++;
    try {
      await this.#c.pollWait(this.#pollFds, 2n, this.#timeoutMs);
    } finally {
      this.#waiters--;
      if (this.#closed && this.#waiters === 0) this.#closeWakeFd();
    }
  }

  /** Wakes pending {@link wait} calls; call it before closing the descriptor. Idempotent. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#waiters > 0) this.#c.write(this.#wakeFd, this.#wakeValue, 8n);
    // A poll still running on a worker thread holds its own file references; the eventfd is
    // closed by the last waiter so that its number cannot be reused under that poll.
    else this.#closeWakeFd();
  }

  #closeWakeFd(): void {
    if (!this.#wakeFdOpen) return;
    this.#wakeFdOpen = false;
    this.#c.close(this.#wakeFd);
  }
}
