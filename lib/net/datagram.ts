/**
 * The datagram seam (wireguard-go's `conn.Bind`): a bound UDP socket, or an in-memory fake in
 * tests. IKE and ESP-in-UDP share it.
 */
export interface Endpoint {
  address: string;
  port: number;
}

export interface ReceivedDatagram {
  /** Bytes received into the caller's buffer (a view, valid until the next receive). */
  data: Uint8Array;
  from: Endpoint;
}

export interface DatagramSocket {
  readonly local: Endpoint;
  /** Waits for one datagram, received into `buf`. Rejects once the socket is closed. */
  receive(buf: Uint8Array): Promise<ReceivedDatagram>;
  /** Sends one datagram; failures are reported by the returned promise, never thrown. */
  send(data: Uint8Array, to: Endpoint): Promise<void>;
  readonly closed: boolean;
  close(): void;
}
