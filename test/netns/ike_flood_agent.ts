/**
 * An IKE_SA_INIT flood generator, run inside a test namespace by cookie_flood_test.ts. It sends
 * well-formed IKE_SA_INIT requests (an aes256gcm16-prfsha384-x25519 proposal, a real X25519
 * public value, a fresh SPI and nonce each) from every socket it opens — `sockets` UDP sockets
 * with ephemeral ports on each source address — at `rate` requests per second for `seconds`,
 * never returning a COOKIE. It counts what comes back and prints one JSON line:
 *
 *   {"sent":…,"sendErrors":…,"cookies":…,"fullResponses":…,"otherResponses":…,
 *    "endpoints":…,"elapsedMs":…}
 *
 * `cookies`: responses that are a lone COOKIE notify (RFC 7296 §2.6); `fullResponses`: IKE_SA_INIT
 * responses with an SA payload, i.e. requests the responder did keep state and DH work for.
 *
 * Usage: deno run --allow-net ike_flood_agent.ts <target address> <target port>
 *          <source,source,…> <sockets per source> <rate> <seconds>
 */
import { ExchangeType, HeaderFlag, NotifyType, PayloadType } from "../../lib/ike/constants.ts";
import { decodeMessage, encodeMessage, type NotifyPayload } from "../../lib/ike/payloads/mod.ts";

const NONCE_LENGTH = 32;
/** Batches per second: requests go out in small bursts every millisecond, close to evenly. */
const TICKS_PER_SECOND = 1000;
/** Time for late answers after the last request. */
const DRAIN_MS = 1500;

interface Report {
  sent: number;
  sendErrors: number;
  cookies: number;
  fullResponses: number;
  otherResponses: number;
  endpoints: number;
  elapsedMs: number;
}

async function x25519PublicValue(): Promise<Uint8Array> {
  const pair = await crypto.subtle.generateKey({ name: "X25519" }, true, [
    "deriveBits",
  ]) as CryptoKeyPair;
  return new Uint8Array(await crypto.subtle.exportKey("raw", pair.publicKey));
}

/** The request with SPI and nonce to be filled in per send; the nonce is the last payload. */
function template(keyData: Uint8Array): Uint8Array {
  return encodeMessage({
    initiatorSpi: new Uint8Array(8).fill(1),
    responderSpi: new Uint8Array(8),
    majorVersion: 2,
    minorVersion: 0,
    exchangeType: ExchangeType.IkeSaInit,
    flags: HeaderFlag.Initiator,
    messageId: 0,
  }, [
    {
      type: PayloadType.SecurityAssociation,
      proposals: [{
        number: 1,
        protocol: 1,
        spi: new Uint8Array(0),
        transforms: [
          { type: 1, id: 20, keyLength: 256 }, // ENCR_AES_GCM_16-256
          { type: 2, id: 6 }, // PRF_HMAC_SHA2_384
          { type: 4, id: 31 }, // Curve25519
        ],
      }],
    },
    { type: PayloadType.KeyExchange, dhGroup: 31, keyData },
    { type: PayloadType.Nonce, nonce: new Uint8Array(NONCE_LENGTH) },
  ]);
}

function classify(bytes: Uint8Array, report: Report): void {
  try {
    const { header, payloads } = decodeMessage(bytes);
    if ((header.flags & HeaderFlag.Response) === 0) return;
    const first = payloads[0] as NotifyPayload | undefined;
    if (
      payloads.length === 1 && first?.type === PayloadType.Notify &&
      first.notifyType === NotifyType.Cookie
    ) {
      report.cookies++;
    } else if (payloads.some((p) => p.type === PayloadType.SecurityAssociation)) {
      report.fullResponses++;
    } else {
      report.otherResponses++;
    }
  } catch {
    report.otherResponses++;
  }
}

async function receiveLoop(socket: Deno.DatagramConn, report: Report): Promise<void> {
  const buffer = new Uint8Array(65535);
  for (;;) {
    try {
      const [data] = await socket.receive(buffer);
      classify(data, report);
    } catch {
      return; // closed
    }
  }
}

async function main(args: string[]): Promise<void> {
  const [targetAddress, targetPort, sourceList, perSource, rateText, secondsText] = args;
  if (secondsText === undefined) {
    console.error(
      "usage: ike_flood_agent.ts <target> <port> <src,src,…> <sockets per source> <rate> <seconds>",
    );
    Deno.exit(2);
  }
  const target: Deno.NetAddr = {
    transport: "udp",
    hostname: targetAddress!,
    port: Number(targetPort),
  };
  const rate = Number(rateText);
  const seconds = Number(secondsText);
  const sockets: Deno.DatagramConn[] = [];
  for (const source of sourceList!.split(",")) {
    for (let i = 0; i < Number(perSource); i++) {
      sockets.push(Deno.listenDatagram({ transport: "udp", hostname: source, port: 0 }));
    }
  }
  const report: Report = {
    sent: 0,
    sendErrors: 0,
    cookies: 0,
    fullResponses: 0,
    otherResponses: 0,
    endpoints: sockets.length,
    elapsedMs: 0,
  };
  const receivers = sockets.map((s) => receiveLoop(s, report));
  const message = template(await x25519PublicValue());
  const nonceOffset = message.length - NONCE_LENGTH;
  const start = performance.now();
  const end = start + seconds * 1000;
  let next = 0;
  for (let tick = 0;; tick++) {
    const now = performance.now();
    if (now >= end) break;
    // Catch up to the rate from the start, so that slow ticks do not lower it.
    const due = Math.floor(((now - start) / 1000) * rate) - report.sent - report.sendErrors;
    const sends: Promise<unknown>[] = [];
    for (let i = 0; i < due; i++) {
      const bytes = message.slice();
      crypto.getRandomValues(bytes.subarray(0, 8));
      crypto.getRandomValues(bytes.subarray(nonceOffset));
      const socket = sockets[next++ % sockets.length]!;
      sends.push(
        socket.send(bytes, target).then(
          () => report.sent++,
          () => report.sendErrors++,
        ),
      );
    }
    await Promise.all(sends);
    const wait = start + ((tick + 1) * 1000) / TICKS_PER_SECOND - performance.now();
    await new Promise((r) => setTimeout(r, Math.max(0, wait)));
  }
  report.elapsedMs = Math.round(performance.now() - start);
  await new Promise((r) => setTimeout(r, DRAIN_MS));
  for (const s of sockets) s.close();
  await Promise.all(receivers);
  console.log(JSON.stringify(report));
}

if (import.meta.main) await main(Deno.args);
