/** ESP SPIs: u32 numbers in the data path, 4 bytes big-endian on the wire (RFC 4303 §2.1). */

/** The 4-byte wire form of an SPI. */
export function spiToBytes(spi: number): Uint8Array {
  return new Uint8Array([spi >>> 24, (spi >>> 16) & 0xff, (spi >>> 8) & 0xff, spi & 0xff]);
}

/** The SPI in the first 4 bytes of `bytes`. */
export function spiFromBytes(bytes: Uint8Array): number {
  return ((bytes[0]! << 24) | (bytes[1]! << 16) | (bytes[2]! << 8) | bytes[3]!) >>> 0;
}

/** "0x0a1b2c3d" for logs. */
export function formatSpi(spi: number): string {
  return `0x${spi.toString(16).padStart(8, "0")}`;
}
