/**
 * NAT detection in IKE_SA_INIT (RFC 7296 §2.23): NAT_DETECTION_SOURCE_IP and _DESTINATION_IP
 * carry SHA-1(SPIi | SPIr | IP | port). A mismatch means a NAT: IKE moves to port 4500 and ESP
 * is encapsulated in UDP (RFC 3948). With `forceEncapsulation` we send a source hash that
 * cannot match, as strongSwan's `encap=yes` does, so both ends encapsulate.
 */
import { createHash } from "node:crypto";
import { NotifyType } from "../constants.ts";
import type { IkeSa } from "../ike_sa.ts";
import type { IncomingMessage, OutgoingMessage } from "../message.ts";
import { parseIpAddress } from "../payloads/mod.ts";
import { bytesEqual } from "../../wire/mod.ts";
import type { Task, TaskServices, TaskStatus } from "./task.ts";

/** SHA-1(SPIi | SPIr | IP | port) as in NAT_DETECTION_*_IP. */
export function natDetectionHash(
  spiI: Uint8Array,
  spiR: Uint8Array,
  address: string,
  port: number,
): Uint8Array {
  const h = createHash("sha1");
  h.update(spiI);
  h.update(spiR);
  h.update(parseIpAddress(address));
  h.update(new Uint8Array([port >> 8, port & 0xff]));
  return new Uint8Array(h.digest());
}

function isWildcard(address: string): boolean {
  return address === "0.0.0.0" || address === "::";
}

abstract class NatDetectionTask implements Task {
  readonly name = "ike_natd";
  protected readonly sa: IkeSa;
  protected readonly services: TaskServices;
  protected peerSupportsNatT = false;

  constructor(sa: IkeSa, services: TaskServices) {
    this.sa = sa;
    this.services = services;
  }

  abstract build(message: OutgoingMessage): Promise<TaskStatus>;
  abstract process(message: IncomingMessage): Promise<TaskStatus>;

  /** Adds our two NAT-D notifies for the SPIs as they stand in this message. */
  protected addNotifies(message: OutgoingMessage, spiR: Uint8Array): void {
    const sa = this.sa;
    const force = sa.realm?.forceEncapsulation ?? true;
    let source: Uint8Array;
    if (force || isWildcard(sa.local.address)) {
      source = new Uint8Array(20);
      this.services.crypto.randomBytes(source); // never matches: the peer sees "NAT"
    } else {
      source = natDetectionHash(sa.spiI, spiR, sa.local.address, sa.local.port);
    }
    const destination = natDetectionHash(sa.spiI, spiR, sa.remote.address, sa.remote.port);
    message.notify(NotifyType.NatDetectionSourceIp, source);
    message.notify(NotifyType.NatDetectionDestinationIp, destination);
  }

  /** Reads the peer's NAT-D notifies and sets the SA's NAT flags. */
  protected check(message: IncomingMessage, spiR: Uint8Array): void {
    const sa = this.sa;
    const sources = message.notifies(NotifyType.NatDetectionSourceIp);
    const destination = message.notifies(NotifyType.NatDetectionDestinationIp)[0];
    if (sources.length === 0 || !destination) return;
    this.peerSupportsNatT = true;
    const expectSource = natDetectionHash(sa.spiI, spiR, message.from.address, message.from.port);
    sa.natRemote = !sources.some((n) => bytesEqual(n.data, expectSource));
    const ours = isWildcard(sa.local.address) ? this.services.localAddresses() : [sa.local.address];
    sa.natLocal = !ours.some((a) =>
      bytesEqual(destination.data, natDetectionHash(sa.spiI, spiR, a, message.localPort))
    );
    const force = sa.realm?.forceEncapsulation ?? true;
    sa.udpEncapsulation = sa.natLocal || sa.natRemote || force;
    sa.log.debug(
      `NAT detection: local ${sa.natLocal ? "behind NAT" : "no NAT"}, peer ${
        sa.natRemote ? "behind NAT" : "no NAT"
      }${force ? ", encapsulation forced" : ""}`,
    );
  }
}

export class NatDetectionInitiatorTask extends NatDetectionTask {
  build(message: OutgoingMessage): Promise<TaskStatus> {
    this.addNotifies(message, new Uint8Array(8));
    return Promise.resolve("more");
  }

  process(message: IncomingMessage): Promise<TaskStatus> {
    this.check(message, message.header.responderSpi);
    const sa = this.sa;
    if (!this.peerSupportsNatT) {
      sa.log.error(
        `${sa.remote.address} does not support NAT traversal; this release needs ESP in UDP (raw ESP comes later)`,
      );
      return Promise.resolve("failed");
    }
    if (sa.udpEncapsulation && sa.remote.port !== this.services.natTPort) {
      // RFC 7296 §2.23: continue on port 4500 from here on.
      sa.local = { address: sa.local.address, port: this.services.natTPort };
      sa.remote = { address: sa.remote.address, port: this.services.natTPort };
    }
    return Promise.resolve("done");
  }
}

export class NatDetectionResponderTask extends NatDetectionTask {
  process(message: IncomingMessage): Promise<TaskStatus> {
    this.check(message, new Uint8Array(8));
    return Promise.resolve("done");
  }

  build(message: OutgoingMessage): Promise<TaskStatus> {
    if (this.peerSupportsNatT) this.addNotifies(message, this.sa.spiR);
    return Promise.resolve("done");
  }
}
