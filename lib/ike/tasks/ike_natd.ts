/**
 * NAT detection in IKE_SA_INIT (RFC 7296 §2.23): NAT_DETECTION_SOURCE_IP and _DESTINATION_IP
 * carry SHA-1(SPIi | SPIr | IP | port). A mismatch means a NAT: IKE moves to port 4500 and ESP
 * is encapsulated in UDP (RFC 3948); without a NAT, ESP runs raw (IP protocol 50).
 *
 * What the realm's `nat_t` does here:
 *   auto   honest hashes; encapsulate only when a NAT is found
 *   force  our source hash is random, so the peer sees a NAT and both ends encapsulate (as
 *          strongSwan's `encap=yes` does)
 *   no     honest hashes; a NAT fails the IKE SA (initiator) or refuses the child SA (responder)
 *
 * Honest hashes need the address we really send from. Bound to a wildcard address, the
 * initiator has it from the engine (a route lookup before IKE_SA_INIT) and the responder takes
 * the local address whose hash matches the peer's NAT_DETECTION_DESTINATION_IP — if one
 * matches there is no NAT on our side and that is our address. Both ends must agree on
 * encapsulation, so the initiator also works out what the responder concluded: a source hash
 * that was not honest for the address the responder saw is a NAT in its eyes.
 *
 * The responder learns the realm only in IKE_AUTH, so at IKE_SA_INIT it forces encapsulation
 * when a candidate realm (those listing the peer's address, else every realm) has `force`;
 * {@link natTraversalRefusal} then refuses a child SA whose realm disagrees with the outcome.
 */
import { createHash } from "node:crypto";
import { NotifyType } from "../constants.ts";
import type { IkeSa } from "../ike_sa.ts";
import type { IncomingMessage, OutgoingMessage } from "../message.ts";
import { parseIpAddress } from "../payloads/mod.ts";
import type { RealmPolicy } from "../realm_policy.ts";
import { bytesEqual, tryParseIpAddress } from "../../wire/mod.ts";
import type { Task, TaskServices, TaskStatus } from "./task.ts";

const ZERO_SPI = new Uint8Array(8);

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

function sameAddress(a: string, b: string): boolean {
  if (a === b) return true;
  const x = tryParseIpAddress(a);
  const y = tryParseIpAddress(b);
  return x !== undefined && y !== undefined && bytesEqual(x, y);
}

/**
 * Whether a responder forces encapsulation at IKE_SA_INIT, before IKE_AUTH names the realm:
 * yes when a realm listing the peer's address (or, when none does, any realm) has `force`.
 */
export function responderForcesEncapsulation(
  realms: readonly RealmPolicy[],
  peerAddress: string,
): boolean {
  const listing = realms.filter((r) =>
    r.peers.some((p) => p.address !== undefined && sameAddress(p.address, peerAddress))
  );
  return (listing.length > 0 ? listing : realms).some((r) => r.natT === "force");
}

/** Why ESP goes into UDP on `sa`, for logs. */
function encapsulationReason(sa: IkeSa): string {
  if (sa.natLocal) return "we are behind a NAT";
  if (sa.natRemote) return "the peer is behind a NAT (or forces UDP encapsulation)";
  return "IKE_SA_INIT settled on UDP encapsulation";
}

/**
 * Why a child SA of `sa` cannot be created under its realm's `nat_t`, or undefined when it
 * can: `no` with UDP encapsulation (a NAT was found), or `force` without it (IKE_SA_INIT
 * settled on raw ESP before the realm was known).
 *
 * @example
 * ```ts
 * const reason = natTraversalRefusal(sa);
 * if (reason) sa.log.warn(`CHILD_SA for ${sa.remoteId} refused: ${reason}`);
 * ```
 */
export function natTraversalRefusal(sa: IkeSa): string | undefined {
  const realm = sa.realm;
  if (!realm) return undefined;
  if (realm.natT === "no" && sa.udpEncapsulation) {
    return `${
      encapsulationReason(sa)
    }, but realm ${realm.name} has nat_t="no", which never encapsulates ESP in UDP (use nat_t="auto")`;
  }
  if (realm.natT === "force" && !sa.udpEncapsulation) {
    return `realm ${realm.name} has nat_t="force", but IKE_SA_INIT settled on raw ESP (the peer sent no NAT detection, or its address is listed in a realm without nat_t="force")`;
  }
  return undefined;
}

abstract class NatDetectionTask implements Task {
  readonly name = "ike_natd";
  protected readonly sa: IkeSa;
  protected readonly services: TaskServices;
  protected peerSupportsNatT = false;
  /** The address our NAT_DETECTION_SOURCE_IP was computed for; undefined when random. */
  protected sourceHashFor: string | undefined;

  constructor(sa: IkeSa, services: TaskServices) {
    this.sa = sa;
    this.services = services;
  }

  abstract build(message: OutgoingMessage): Promise<TaskStatus>;
  abstract process(message: IncomingMessage): Promise<TaskStatus>;

  /** Adds our two NAT-D notifies for the SPIs as they stand in this message. */
  protected addNotifies(message: OutgoingMessage, spiR: Uint8Array, force: boolean): void {
    const sa = this.sa;
    let source: Uint8Array;
    if (force || isWildcard(sa.local.address)) {
      source = new Uint8Array(20);
      this.services.crypto.randomBytes(source); // never matches: the peer sees "NAT"
      this.sourceHashFor = undefined;
    } else {
      source = natDetectionHash(sa.spiI, spiR, sa.local.address, sa.local.port);
      this.sourceHashFor = sa.local.address;
    }
    const destination = natDetectionHash(sa.spiI, spiR, sa.remote.address, sa.remote.port);
    message.notify(NotifyType.NatDetectionSourceIp, source);
    message.notify(NotifyType.NatDetectionDestinationIp, destination);
  }

  /**
   * Reads the peer's NAT-D notifies (false when it sent none) and sets `natRemote` and
   * `natLocal`. Returns the local address the peer's destination hash names, i.e. the address
   * it saw us at (undefined: none of ours, so a NAT on our side).
   */
  protected check(message: IncomingMessage, spiR: Uint8Array): string | undefined | false {
    const sa = this.sa;
    const sources = message.notifies(NotifyType.NatDetectionSourceIp);
    const destination = message.notifies(NotifyType.NatDetectionDestinationIp)[0];
    if (sources.length === 0 || !destination) return false;
    this.peerSupportsNatT = true;
    const expectSource = natDetectionHash(sa.spiI, spiR, message.from.address, message.from.port);
    sa.natRemote = !sources.some((n) => bytesEqual(n.data, expectSource));
    const ours = isWildcard(sa.local.address) ? this.services.localAddresses() : [sa.local.address];
    const seen = ours.find((a) =>
      tryParseIpAddress(a) !== undefined &&
      bytesEqual(destination.data, natDetectionHash(sa.spiI, spiR, a, message.localPort))
    );
    sa.natLocal = seen === undefined;
    if (seen !== undefined && isWildcard(sa.local.address)) {
      sa.local = { address: seen, port: sa.local.port };
    }
    return seen;
  }

  protected logOutcome(extra: string): void {
    const sa = this.sa;
    sa.log.debug(
      `NAT detection: local ${sa.natLocal ? "behind NAT" : "no NAT"}, peer ${
        sa.natRemote ? "behind NAT" : "no NAT"
      }${extra}: ESP ${sa.udpEncapsulation ? "in UDP" : "raw (IP protocol 50)"}`,
    );
  }
}

export class NatDetectionInitiatorTask extends NatDetectionTask {
  build(message: OutgoingMessage): Promise<TaskStatus> {
    this.addNotifies(message, ZERO_SPI, this.sa.realm?.natT === "force");
    return Promise.resolve("more");
  }

  process(message: IncomingMessage): Promise<TaskStatus> {
    const sa = this.sa;
    const realm = sa.realm!;
    const seen = this.check(message, message.header.responderSpi);
    if (seen === false) {
      if (realm.natT === "force") {
        sa.log.error(
          `${sa.remote.address} does not support NAT traversal, but realm ${realm.name} has nat_t="force" (UDP-encapsulated ESP only)`,
        );
        return Promise.resolve("failed");
      }
      sa.udpEncapsulation = false;
      sa.log.debug(`${sa.remote.address} sent no NAT detection: ESP raw (IP protocol 50)`);
      return Promise.resolve("done");
    }
    // The responder compared our source hash with the address it saw (`seen`, when no NAT is
    // in between): unless the hash was honest for that very address, it sees a NAT.
    const peerSeesNat = seen === undefined || this.sourceHashFor !== seen;
    const encapsulate = sa.natLocal || sa.natRemote || peerSeesNat || realm.natT === "force";
    if (realm.natT === "no" && encapsulate) {
      const why = sa.natLocal
        ? "we are behind a NAT"
        : sa.natRemote
        ? "the peer is behind a NAT (or forces UDP encapsulation)"
        : "the peer will see a NAT: our source address toward it was not known";
      sa.log.error(
        `NAT detected toward ${sa.remote.address} (${why}), but realm ${realm.name} has nat_t="no", which never encapsulates ESP in UDP; not continuing (use nat_t="auto")`,
      );
      return Promise.resolve("failed");
    }
    sa.udpEncapsulation = encapsulate;
    this.logOutcome(
      realm.natT === "force"
        ? ", encapsulation forced"
        : peerSeesNat && !sa.natLocal
        ? ", our source address was not known to the peer"
        : "",
    );
    if (sa.udpEncapsulation && sa.remote.port !== this.services.natTPort) {
      // RFC 7296 §2.23: continue on port 4500 from here on.
      sa.local = { address: sa.local.address, port: this.services.natTPort };
      sa.remote = { address: sa.remote.address, port: this.services.natTPort };
    }
    return Promise.resolve("done");
  }
}

export class NatDetectionResponderTask extends NatDetectionTask {
  #force = false;

  process(message: IncomingMessage): Promise<TaskStatus> {
    const sa = this.sa;
    const seen = this.check(message, ZERO_SPI);
    if (seen === false) {
      sa.udpEncapsulation = false;
      sa.log.debug(`${sa.remote.address} sent no NAT detection: ESP raw (IP protocol 50)`);
      return Promise.resolve("done");
    }
    this.#force = responderForcesEncapsulation(this.services.realms, sa.remote.address);
    sa.udpEncapsulation = sa.natLocal || sa.natRemote || this.#force;
    this.logOutcome(this.#force ? ", encapsulation forced" : "");
    return Promise.resolve("done");
  }

  build(message: OutgoingMessage): Promise<TaskStatus> {
    if (this.peerSupportsNatT) this.addNotifies(message, this.sa.spiR, this.#force);
    return Promise.resolve("done");
  }
}
