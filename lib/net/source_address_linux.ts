/**
 * The local address the kernel would send from toward a remote endpoint: `connect` on a UDP
 * socket (which sends nothing, it only looks up the route) and `getsockname`. Synchronous and
 * cheap (three system calls), so the IKE engine can ask right before building IKE_SA_INIT when
 * its sockets are bound to a wildcard address (honest NAT detection, RFC 7296 §2.23).
 */
import { AddressFamily, libc, SocketType, StructSize } from "../sys/mod.ts";
import { formatIpAddress, tryParseIpAddress } from "../wire/mod.ts";
import type { Endpoint } from "./datagram.ts";

/**
 * Our source address toward `remote` (an IPv4 or IPv6 literal and a port) as the kernel's
 * routing picks it, or undefined when there is no route, the address is not a literal, or FFI
 * is not permitted. Never throws; sends no packet.
 *
 * @example
 * ```ts
 * sourceAddressFor({ address: "198.51.100.2", port: 500 }); // "198.51.100.1"
 * ```
 */
export function sourceAddressFor(remote: Endpoint): string | undefined {
  const bytes = tryParseIpAddress(remote.address);
  if (bytes === undefined) return undefined;
  const v4 = bytes.length === 4;
  const length = v4 ? StructSize.sockaddr_in : StructSize.sockaddr_in6;
  const sockaddr = new Uint8Array(length);
  const family = v4 ? AddressFamily.AF_INET : AddressFamily.AF_INET6;
  sockaddr[0] = family & 0xff; // sa_family_t in host order (little-endian here)
  sockaddr[1] = family >> 8;
  sockaddr[2] = (remote.port >> 8) & 0xff; // port, network order
  sockaddr[3] = remote.port & 0xff;
  sockaddr.set(bytes, v4 ? 4 : 8); // sin_addr; sin6_addr after sin6_flowinfo
  let c;
  try {
    c = libc();
  } catch {
    return undefined; // no --allow-ffi
  }
  const fd = c.socket(family, SocketType.SOCK_DGRAM | SocketType.SOCK_CLOEXEC, 0);
  if (fd < 0) return undefined;
  try {
    if (c.connect(fd, sockaddr, length) < 0) return undefined;
    const local = new Uint8Array(StructSize.sockaddr_in6);
    const localLength = new Uint8Array(4);
    new DataView(localLength.buffer).setUint32(0, local.length, true);
    if (c.getsockname(fd, local, localLength) < 0) return undefined;
    const address = v4 ? local.subarray(4, 8) : local.subarray(8, 24);
    return formatIpAddress(address);
  } finally {
    c.close(fd);
  }
}
