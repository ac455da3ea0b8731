import { assert, assertEquals, assertRejects } from "../_assert.ts";
import { openUdpSocket, UdpSocketError } from "../../lib/net/udp.ts";
import { toHex } from "../../lib/wire/mod.ts";

Deno.test("sends and receives a datagram over loopback into the caller's buffer", async () => {
  const a = await openUdpSocket({ address: "127.0.0.1", port: 0 });
  const b = await openUdpSocket({ address: "127.0.0.1", port: 0 });
  try {
    assertEquals(a.local.address, "127.0.0.1");
    assert(a.local.port > 0 && b.local.port > 0 && a.local.port !== b.local.port);
    const buf = new Uint8Array(2048);
    const receiving = b.receive(buf);
    await a.send(new Uint8Array([0xde, 0xad, 0xbe, 0xef]), b.local);
    const { data, from } = await receiving;
    assertEquals(toHex(data), "deadbeef");
    assert(data.buffer === buf.buffer, "received into the caller's buffer");
    assertEquals(from, a.local);
    // And back, to the endpoint we saw.
    const back = a.receive(buf);
    await b.send(new Uint8Array([1, 2, 3]), from);
    assertEquals(toHex((await back).data), "010203");
  } finally {
    a.close();
    b.close();
  }
});

Deno.test("a port in use rejects with UdpSocketError naming the endpoint", async () => {
  const a = await openUdpSocket({ address: "127.0.0.1", port: 0 });
  try {
    const e = await assertRejects(
      () => openUdpSocket({ address: "127.0.0.1", port: a.local.port }),
      UdpSocketError,
      `Cannot open UDP socket 127.0.0.1:${a.local.port}`,
    );
    assertEquals((e as UdpSocketError).endpoint.port, a.local.port);
  } finally {
    a.close();
  }
});

Deno.test("a closed UDP socket rejects sends and pending receives", async () => {
  const a = await openUdpSocket({ address: "127.0.0.1", port: 0 });
  const pending = a.receive(new Uint8Array(64));
  a.close();
  a.close();
  assert(a.closed);
  await assertRejects(() => pending);
  await assertRejects(() => a.send(new Uint8Array([1]), a.local), Deno.errors.BadResource);
});
