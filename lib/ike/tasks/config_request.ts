/**
 * Configuration payloads in IKE_AUTH (RFC 7296 §2.19, §3.15; strongSwan's `ike_config`).
 *
 * Responder (a realm with `<pool>`): a CFG_REQUEST for an address gets a lease from the realm's
 * pool, keyed by the peer's identity, and a CFG_REPLY with the address, the DNS servers,
 * internal subnets and (when asked, RFC 8598) DNS domains. The child SA's TSi is then narrowed
 * to the leased address. An empty pool answers INTERNAL_ADDRESS_FAILURE and no child SA is made.
 *
 * Initiator (a realm with `<request_address>`): our CFG_REQUEST asks for an address (and DNS);
 * the address of the CFG_REPLY goes on the realm's device through the {@link VirtualIpInstaller}
 * before the child SA is installed, and our TSi (proposed as 0.0.0.0/0 or ::/0) is narrowed to
 * it. Without an address the IKE SA is closed (the engine deletes it).
 *
 * Leases are released and received addresses removed when the IKE SA goes
 * ({@link releaseAddressing}); an IKE SA rekey hands both to the new SA ({@link moveAddressing}).
 */
import { ConfigAttributeType, ConfigType, nameOf, NotifyType, PayloadType } from "../constants.ts";
import {
  configReplyAttributes,
  configRequestAttributes,
  type InternalAddress,
  readConfigValues,
  readConfigWishes,
} from "../config_attributes.ts";
import type { IkeSa } from "../ike_sa.ts";
import type { IncomingMessage, OutgoingMessage } from "../message.ts";
import type { CpPayload, TrafficSelector } from "../payloads/types.ts";
import { narrowSelectors, selectorFromCidr } from "../traffic_selectors.ts";
import type { Task, TaskServices, TaskStatus } from "./task.ts";

function list(items: readonly string[]): string {
  return items.join(", ");
}

/** "INTERNAL_IP4_ADDRESS INTERNAL_IP4_DNS ..." for debug logs. */
function attributeNames(cp: CpPayload): string {
  return cp.attributes.map((a) => nameOf(ConfigAttributeType, a.type)).join(" ") || "nothing";
}

/** Host selectors (/32, /128) for `addresses`. */
function hostSelectors(addresses: readonly string[]): TrafficSelector[] {
  return addresses.map((a) => selectorFromCidr(a));
}

/** Answers a CFG_REQUEST (or CFG_SET) in the IKE_AUTH request. */
export class ConfigResponderTask implements Task {
  readonly name = "ike_config";
  readonly #sa: IkeSa;
  readonly #services: TaskServices;
  #reply: CpPayload | undefined;
  #failed = false;

  constructor(sa: IkeSa, services: TaskServices) {
    this.#sa = sa;
    this.#services = services;
  }

  process(message: IncomingMessage): Promise<TaskStatus> {
    const sa = this.#sa;
    const cp = message.get(PayloadType.Configuration);
    if (!cp) return Promise.resolve("done");
    if (cp.cfgType === ConfigType.CfgSet) {
      // We take no configuration from peers; an empty CFG_ACK says so (RFC 7296 §3.15).
      sa.log.debug(`ignoring the ${cp.attributes.length} attributes of the peer's CFG_SET`);
      this.#reply = { type: PayloadType.Configuration, cfgType: ConfigType.CfgAck, attributes: [] };
      return Promise.resolve("done");
    }
    if (cp.cfgType !== ConfigType.CfgRequest) {
      sa.log.debug(`ignoring a ${nameOf(ConfigType, cp.cfgType)} in a request`);
      return Promise.resolve("done");
    }
    const realm = sa.realm!;
    const peer = sa.remoteId!;
    sa.log.debug(`CFG_REQUEST from ${peer}: ${attributeNames(cp)}`);
    const wishes = readConfigWishes(cp.attributes);
    const wantsAddress = wishes.ipv4 || wishes.ipv6;
    const policy = realm.addressPool;
    if (!policy) {
      if (wantsAddress) {
        sa.log.warn(
          `INTERNAL_ADDRESS_FAILURE for ${peer}: it asks for an inner address, but realm ${realm.name} has no <pool>; add <pool address="..."/> to the realm in rockhopper.xml`,
        );
        this.#fail();
      }
      return Promise.resolve("done");
    }
    const pools = this.#services.addressPools.forRealm(realm.id, policy);
    const addresses: InternalAddress[] = [];
    const exhausted: string[] = [];
    for (const family of [4, 6] as const) {
      if (!(family === 4 ? wishes.ipv4 : wishes.ipv6)) continue;
      const pool = pools.find((p) => p.family === family);
      if (!pool) {
        sa.log.info(
          `${peer} asks for an IPv${family} address; the <pool> of realm ${realm.name} has none`,
        );
        continue;
      }
      const lease = pool.acquire(peer, sa);
      if (!lease) {
        exhausted.push(`${pool.prefix} (${pool.online} of ${pool.size} addresses in use)`);
        continue;
      }
      sa.addressing.leases.push(lease);
      addresses.push({ address: lease.address, prefixLength: pool.prefixLength });
      sa.log.info(`assigning virtual IP ${lease.address} to ${peer} (pool ${pool.prefix})`);
    }
    if (wantsAddress && addresses.length === 0) {
      sa.log.warn(
        `INTERNAL_ADDRESS_FAILURE for ${peer}: ${
          exhausted.length > 0
            ? `address pool ${
              list(exhausted)
            } of realm ${realm.name} is exhausted; enlarge <pool address> or wait until a peer disconnects`
            : `realm ${realm.name} has no pool of the family it asks for`
        }`,
      );
      this.#fail();
      return Promise.resolve("done");
    }
    if (exhausted.length > 0) {
      sa.log.warn(`address pool ${list(exhausted)} of realm ${realm.name} is exhausted`);
    }
    this.#reply = {
      type: PayloadType.Configuration,
      cfgType: ConfigType.CfgReply,
      attributes: configReplyAttributes(
        {
          addresses,
          dns: [...policy.dns],
          subnets: [...policy.subnets],
          domains: [...policy.domains],
        },
        { netmask: wishes.netmask, domains: wishes.domains },
      ),
    };
    return Promise.resolve("done");
  }

  build(message: OutgoingMessage): Promise<TaskStatus> {
    if (this.#failed) {
      message.notify(NotifyType.InternalAddressFailure);
    } else if (this.#reply) {
      message.add(this.#reply);
    }
    return Promise.resolve("done");
  }

  #fail(): void {
    this.#failed = true;
    this.#sa.addressing.failed = true;
  }
}

/** Sends our CFG_REQUEST in IKE_AUTH and takes the address of the CFG_REPLY. */
export class ConfigInitiatorTask implements Task {
  readonly name = "ike_config";
  readonly #sa: IkeSa;
  readonly #services: TaskServices;
  #requested = false;

  constructor(sa: IkeSa, services: TaskServices) {
    this.#sa = sa;
    this.#services = services;
  }

  build(message: OutgoingMessage): Promise<TaskStatus> {
    const families = this.#sa.realm?.requestAddress;
    if (!families) return Promise.resolve("done");
    message.add({
      type: PayloadType.Configuration,
      cfgType: ConfigType.CfgRequest,
      attributes: configRequestAttributes(families),
    });
    this.#requested = true;
    return Promise.resolve("more");
  }

  async process(message: IncomingMessage): Promise<TaskStatus> {
    if (!this.#requested) return "done";
    const sa = this.#sa;
    const peer = sa.remoteId ?? sa.peer?.id ?? sa.remote.address;
    const families = sa.realm!.requestAddress!;
    const fail = (why: string): TaskStatus => {
      sa.log.error(`no inner address from ${peer}: ${why}; closing the IKE_SA`);
      sa.addressing.failed = true;
      return "done";
    };
    if (message.notifies(NotifyType.InternalAddressFailure).length > 0) {
      return fail("it answered INTERNAL_ADDRESS_FAILURE (its address pool may be exhausted)");
    }
    const cp = message.get(PayloadType.Configuration);
    if (!cp || cp.cfgType !== ConfigType.CfgReply) {
      return fail(
        cp ? `it answered ${nameOf(ConfigType, cp.cfgType)}` : "its answer has no CFG_REPLY",
      );
    }
    sa.log.debug(`CFG_REPLY from ${peer}: ${attributeNames(cp)}`);
    const values = readConfigValues(cp.attributes);
    const addresses = values.addresses.filter((a) =>
      a.address.includes(":") ? families.ipv6 : families.ipv4
    ).map((a) => ({
      address: a.address,
      // The TUN is point to point: the address is a host; routes come from the selectors.
      prefixLength: a.address.includes(":") ? 128 : 32,
    }));
    if (addresses.length === 0) {
      return fail(
        `its CFG_REPLY has no ${
          families.ipv4 ? nameOf(ConfigAttributeType, ConfigAttributeType.InternalIp4Address) : ""
        }${families.ipv4 && families.ipv6 ? " or " : ""}${
          families.ipv6 ? nameOf(ConfigAttributeType, ConfigAttributeType.InternalIp6Address) : ""
        }`,
      );
    }
    sa.log.info(`received virtual IP ${list(addresses.map((a) => a.address))} from ${peer}`);
    const dns = values.dns.length > 0 ? `DNS ${list(values.dns)}` : "no DNS servers";
    const domains = values.domains.length > 0
      ? `, domain${values.domains.length > 1 ? "s" : ""} ${list(values.domains)}`
      : "";
    sa.log.info(`received ${dns}${domains}`);
    if (values.subnets.length > 0) {
      sa.log.info(`${peer} announces internal subnets ${list(values.subnets)}`);
    }
    try {
      await this.#services.virtualIps?.install(sa, addresses);
    } catch (e) {
      return fail(
        `cannot install ${list(addresses.map((a) => a.address))}: ${(e as Error).message}`,
      );
    }
    sa.addressing.assigned.push(...addresses);
    return "done";
  }
}

/**
 * Our side of a child SA: the addresses the peer assigned us, else `configured`.
 *
 * @example
 * ```ts
 * const localTs = narrowSelectors(tsr.selectors, localSelectorsFor(sa, realm.localTs));
 * ```
 */
export function localSelectorsFor(
  sa: IkeSa,
  configured: readonly TrafficSelector[],
): readonly TrafficSelector[] {
  const assigned = sa.addressing.assigned;
  return assigned.length > 0 ? hostSelectors(assigned.map((a) => a.address)) : configured;
}

/**
 * The TSi we propose: as {@link localSelectorsFor}, except any address (0.0.0.0/0, ::/0) while
 * we ask for an inner address and have none yet (our IKE_AUTH request, RFC 7296 §2.19).
 *
 * @example
 * ```ts
 * message.add({ type: PayloadType.TsInitiator, selectors: [...proposedLocalSelectors(sa, realm.localTs)] });
 * ```
 */
export function proposedLocalSelectors(
  sa: IkeSa,
  configured: readonly TrafficSelector[],
): readonly TrafficSelector[] {
  const families = sa.realm?.requestAddress;
  if (!families || sa.addressing.assigned.length > 0) return localSelectorsFor(sa, configured);
  return [
    ...(families.ipv4 ? [selectorFromCidr("0.0.0.0/0")] : []),
    ...(families.ipv6 ? [selectorFromCidr("::/0")] : []),
  ];
}

/**
 * Our side of a child SA the responder accepted: its TSi narrowed to the addresses it assigned
 * us (RFC 7296 §2.19), or as answered when we asked for none. Empty when none fits.
 *
 * @example
 * ```ts
 * const localTs = narrowToAssigned(sa, tsi.selectors); // [10.4.0.1/32] out of 0.0.0.0/0
 * ```
 */
export function narrowToAssigned(
  sa: IkeSa,
  answered: readonly TrafficSelector[],
): TrafficSelector[] {
  if (!sa.realm?.requestAddress && sa.addressing.assigned.length === 0) return [...answered];
  return narrowSelectors(answered, hostSelectors(sa.addressing.assigned.map((a) => a.address)));
}

/**
 * The peer's side a child SA may have: the addresses leased to it, else `configured`.
 *
 * @example
 * ```ts
 * const remoteTs = narrowSelectors(tsi.selectors, remoteSelectorsFor(sa, realm.remoteTs));
 * ```
 */
export function remoteSelectorsFor(
  sa: IkeSa,
  configured: readonly TrafficSelector[],
): readonly TrafficSelector[] {
  const leases = sa.addressing.leases;
  return leases.length > 0 ? hostSelectors(leases.map((l) => l.address)) : configured;
}

/**
 * The IKE SA is gone: its leases go offline (still reserved for the identity) and addresses
 * the peer assigned us come off the device. Never throws.
 *
 * @example
 * ```ts
 * await releaseAddressing(sa, services); // in the engine's teardown of `sa`
 * ```
 */
export async function releaseAddressing(sa: IkeSa, services: TaskServices): Promise<void> {
  for (const lease of sa.addressing.leases.splice(0)) {
    if (lease.pool.release(lease, sa)) {
      sa.log.info(
        `released virtual IP ${lease.address} of ${lease.identity} (pool ${lease.pool.prefix}: ${lease.pool.online} of ${lease.pool.size} in use)`,
      );
    }
  }
  const assigned = sa.addressing.assigned.splice(0);
  if (assigned.length === 0) return;
  try {
    await services.virtualIps?.remove(sa, assigned);
  } catch (e) {
    sa.log.warn(
      `Cannot remove virtual IP ${list(assigned.map((a) => a.address))}: ${(e as Error).message}`,
    );
  }
}

/**
 * An IKE SA rekey: `to` takes over the leases and assigned addresses of `from`.
 *
 * @example
 * ```ts
 * moveAddressing(predecessor, rekeyed);
 * ```
 */
export function moveAddressing(from: IkeSa, to: IkeSa): void {
  for (const lease of from.addressing.leases) lease.pool.transfer(lease, from, to);
  to.addressing.leases.push(...from.addressing.leases.splice(0));
  to.addressing.assigned.push(...from.addressing.assigned.splice(0));
}
