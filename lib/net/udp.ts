/**
 * A bound UDP socket on `Deno.listenDatagram` (needs `--unstable-net`, enabled in deno.json),
 * behind the {@link DatagramSocket} seam so that a batched FFI `recvmmsg`/`sendmmsg` socket can
 * replace it later without touching its users.
 */
import type { DatagramSocket, Endpoint, ReceivedDatagram } from "./datagram.ts";

/** Opening a UDP socket failed; carries the endpoint and the underlying error as `cause`. */
export class UdpSocketError extends Error {
  readonly endpoint: Endpoint;
  constructor(message: string, endpoint: Endpoint, options?: ErrorOptions) {
    super(message, options);
    this.name = "UdpSocketError";
    this.endpoint = endpoint;
  }
}

/** Where to bind: an IPv4/IPv6 address ("0.0.0.0", "::", "127.0.0.1") and a port (0 = any). */
export interface UdpSocketOptions {
  address: string;
  port: number;
}

/**
 * Opens a UDP socket bound to `options`. Rejects with {@link UdpSocketError} (for example when
 * the port is in use or the address is not local).
 *
 * @example
 * ```ts
 * const socket = await openUdpSocket({ address: "0.0.0.0", port: 4500 });
 * const buf = new Uint8Array(65536);
 * const { data, from } = await socket.receive(buf);
 * ```
 */
export function openUdpSocket(options: UdpSocketOptions): Promise<DatagramSocket> {
  const { address, port } = options;
  try {
    const conn = Deno.listenDatagram({ transport: "udp", hostname: address, port });
    return Promise.resolve(new DenoUdpSocket(conn));
  } catch (e) {
    return Promise.reject(
      new UdpSocketError(
        `Cannot open UDP socket ${address}:${port}: ${(e as Error).message}`,
        { address, port },
        { cause: e },
      ),
    );
  }
}

class DenoUdpSocket implements DatagramSocket {
  readonly local: Endpoint;
  readonly #conn: Deno.DatagramConn;
  #closed = false;
  // The data path sends to the same SA endpoint object again and again: keep its Deno address.
  #lastTo: Endpoint | null = null;
  #lastAddr: Deno.NetAddr = { transport: "udp", hostname: "", port: 0 };

  constructor(conn: Deno.DatagramConn) {
    this.#conn = conn;
    const addr = conn.addr as Deno.NetAddr;
    this.local = { address: addr.hostname, port: addr.port };
  }

  get closed(): boolean {
    return this.#closed;
  }

  async receive(buf: Uint8Array): Promise<ReceivedDatagram> {
    const [data, addr] = await this.#conn.receive(buf);
    const from = addr as Deno.NetAddr;
    return { data, from: { address: from.hostname, port: from.port } };
  }

  send(data: Uint8Array, to: Endpoint): Promise<void> {
    if (this.#closed) {
      return Promise.reject(
        new Deno.errors.BadResource(
          `Cannot send from UDP socket ${this.local.address}:${this.local.port}: it is closed`,
        ),
      );
    }
    let addr = this.#lastAddr;
    if (to !== this.#lastTo || addr.hostname !== to.address || addr.port !== to.port) {
      addr = { transport: "udp", hostname: to.address, port: to.port };
      this.#lastAddr = addr;
      this.#lastTo = to;
    }
    try {
      return this.#conn.send(data, addr).then(ignore);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#conn.close();
  }
}

function ignore(): void {}
