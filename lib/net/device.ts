/**
 * The packet device seam (wireguard-go's `tun.Device`): a TUN (IP packets) or TAP (Ethernet
 * frames) device, or an in-memory fake in tests. The data path never sees a file descriptor.
 */
export interface PacketDevice {
  readonly name: string;
  readonly mtu: number;
  /**
   * Reads one packet into `buf` without blocking. Returns its length, or -1 when nothing is
   * queued (then await {@link waitReadable}). Throws only when the device is closed/broken.
   */
  tryRead(buf: Uint8Array): number;
  /** Resolves when a packet may be readable (or the device was closed). */
  waitReadable(): Promise<void>;
  /** Writes one packet; returns false when it was dropped (queue full, device gone). */
  write(packet: Uint8Array): boolean;
  readonly closed: boolean;
  close(): void;
}
