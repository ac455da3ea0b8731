/**
 * Validated configuration values. The XML loader (`load.ts`) produces these; the rest of the
 * program never sees XML. Durations are in seconds, sizes in bytes.
 */

/** An address the appliance listens on (`<interface>`). */
export interface InterfaceConfig {
  name: string;
  address: string;
  priority: number;
}

/** `<admin>`: the management server (web GUI and bus protocol, see lib/web/README.md). */
export interface AdminConfig {
  /** False with `enabled="no"`: no management server at all. */
  enabled: boolean;
  address: string;
  port: number;
  /** Client prefixes allowed to connect; everything else is refused before authentication. */
  allow: string[];
  /** PEM certificate chain file for HTTPS (as written; relative to the config file's directory). */
  cert?: string;
  /** PEM private key file for HTTPS, present exactly when `cert` is. */
  key?: string;
  /** Seconds a bus read (long poll) waits for events before the timeout answer. */
  readTimeout: number;
}

/** `<tunnel_interface>`: the realm's TUN device. */
export interface TunnelInterfaceConfig {
  name: string;
  /** Our inner address with prefix, e.g. "10.1.0.1/24". */
  address: string;
  /** MTU in bytes, or "auto" (derived from the suite and the outer path). */
  mtu: number | "auto";
}

/** `<ike>`: IKE SA policy. */
export interface IkePolicyConfig {
  /** Built-in suite names in preference order, e.g. "aes256gcm16-prfsha384-x25519". */
  suites: string[];
  /** Liveness check interval in seconds, 0 = off. */
  dpd: number;
  /** What to do when the peer stops answering: forget it, re-initiate, or re-initiate on traffic. */
  dpdAction: "clear" | "restart" | "hold";
  /** IKE SA rekey interval in seconds, 0 = off. */
  rekey: number;
  /** First retransmission timeout in seconds; doubles with each try. */
  retransmitTimeout: number;
  /** Retransmissions before a request (and with it the IKE SA) is given up. */
  retransmitTries: number;
  natT: "auto" | "force" | "no";
  /** IKE fragmentation (RFC 7383): offered, and used when the peer offers it too. */
  fragmentation: boolean;
  /** Largest IP datagram of an IKE fragment in bytes (IP and UDP headers included). */
  fragmentSize: number;
  mobike: boolean;
}

/** `<esp>`: child SA policy. */
export interface EspPolicyConfig {
  /** Built-in suite names in preference order, e.g. "aes256gcm16". */
  suites: string[];
  rekey: number;
  replayWindow: number;
  pfs: boolean;
}

/** `<traffic>`: traffic selectors as CIDR prefixes. */
export interface TrafficConfig {
  local: string[];
  remote: string[];
}

/** `<peer>` inside a realm of rockhopper.xml. */
export interface PeerConfig {
  /** Peer IKE identity in text form: "fqdn:gw2.example.com", "email:a@b", "ipv4:198.51.100.2". */
  id: string;
  /** Peer address; absent for peers that only ever initiate toward us. */
  address?: string;
  /** IKE port of the peer (default 500). */
  port: number;
  /** "start": initiate when the appliance starts; "add": respond only. */
  auto: "start" | "add";
}

/** `<pool>`: inner addresses and DNS settings a realm hands to peers in CFG_REPLY. */
export interface PoolConfig {
  /** Prefixes to lend, one per family at most, e.g. ["10.3.0.0/24", "fd00:3::/112"]. */
  address: string[];
  /** DNS server addresses (INTERNAL_IP4_DNS / INTERNAL_IP6_DNS). */
  dns: string[];
  /** DNS domains for split DNS (INTERNAL_DNS_DOMAIN, RFC 8598), lower case. */
  domains: string[];
  /** Internal subnets announced as INTERNAL_IP4_SUBNET / INTERNAL_IP6_SUBNET. */
  subnets: string[];
}

/** `<request_address>`: ask the responder for an inner address in IKE_AUTH (CFG_REQUEST). */
export interface RequestAddressConfig {
  family: "ipv4" | "ipv6" | "both";
}

/** `<realm>` of rockhopper.xml: one role with its tunnel device, policies and peers. */
export interface RealmConfig {
  id: number;
  name: string;
  mode: "l3" | "l2";
  enabled: boolean;
  tunnelInterface: TunnelInterfaceConfig;
  ike: IkePolicyConfig;
  esp: EspPolicyConfig;
  traffic: TrafficConfig;
  peers: PeerConfig[];
  /** `<pool>`: this realm lends inner addresses to its peers. */
  pool?: PoolConfig;
  /** `<request_address>`: this realm asks its responder for an inner address. */
  requestAddress?: RequestAddressConfig;
}

/**
 * The root's `<ike>` (not a realm's): limits on unauthenticated IKE_SA_INIT work that hold for
 * every realm, and NAT keepalives.
 */
export interface IkeGlobalConfig {
  /** Half-open SAs from which on an IKE_SA_INIT must return a COOKIE; 0 = always. */
  cookieThreshold: number;
  /** New IKE_SA_INITs per second handled without a COOKIE; above it a COOKIE is demanded. */
  initRateLimit: number;
  /** COOKIE answers per second; requests beyond it are dropped unanswered. */
  cookieRateLimit: number;
  /** Half-open SAs from which on every new IKE_SA_INIT is dropped, even with a COOKIE. */
  halfOpenLimit: number;
  /** Seconds between NAT keepalives (RFC 3948 §2.3) when we are behind a NAT; 0 = none. */
  natKeepalive: number;
}

/** The whole of conf/rockhopper.xml. */
export interface RockhopperConfig {
  /** Path it was read from (for messages). */
  file: string;
  interfaces: InterfaceConfig[];
  admin: AdminConfig;
  /** The root `<ike>`; the loader always sets it (defaults when the element is absent). */
  ike?: IkeGlobalConfig;
  /** `<data_plane>`; the loader always sets it (defaults when the element is absent). */
  dataPlane?: DataPlaneConfig;
  realms: RealmConfig[];
}

/** `<data_plane>`: how the ESP data path runs. */
export interface DataPlaneConfig {
  /**
   * Data-plane workers (threads with their own TUN queue and sockets); 0 = the ESP data path
   * runs on the main thread.
   */
  workers: number;
  /**
   * With workers: open TUN devices with offloads (IFF_VNET_HDR, TSO), so that the kernel hands
   * over TCP super packets that the workers split, and takes coalesced ones; for ESP in UDP
   * also UDP GSO sends and UDP GRO receives on the workers' sockets (default true).
   */
  offload: boolean;
}

/** An EAP method inside IKE_AUTH (RFC 7296 §2.16), as auth.xml names it. */
export type EapAuthMethod = "eap-md5" | "eap-mschapv2";

/** How an identity authenticates: a shared key, an X.509 certificate, or EAP. */
export type AuthMethodConfig = "psk" | "cert" | EapAuthMethod;

/** `<my_auth>`: how we authenticate in a realm. */
export interface MyAuthConfig {
  /**
   * `psk`: shared keys; `cert`: an X.509 certificate and its private key (RFC 7427
   * signatures); `eap-md5` / `eap-mschapv2`: we are an EAP client (the responder proves itself
   * with its PSK or certificate, we with EAP and our password).
   */
  method: AuthMethodConfig;
  /** Our IKE identity in text form. */
  id: string;
  /** method="cert": our certificate file (PEM/DER), absolute path. */
  cert?: string;
  /** method="cert": our private key file (PKCS#8, PKCS#1 or SEC1 PEM), absolute path. */
  key?: string;
  /** method="cert": intermediate CA certificates sent along with ours. */
  chain?: string[];
  /** Realm-wide shared key, used with peers that have no `<peer psk>` of their own. */
  psk?: string;
  /**
   * The realm-wide key as octets, present exactly when `psk` is: the UTF-8 encoding of a
   * `psk="..."` value or the decoded `psk_hex="..."` value. The AUTH computation uses this.
   */
  pskBytes?: Uint8Array;
  /** method="eap-*": our EAP identity (`eap_id`; default: the value of `id` without its type). */
  eapIdentity?: string;
  /** method="eap-*": our EAP password. */
  password?: string;
}

/** `<eap_user name password>`: an EAP identity this realm's EAP server accepts. */
export interface EapUserConfig {
  name: string;
  password: string;
}

/**
 * `<peer>` inside a realm of auth.xml: how that peer authenticates. `auth="psk"` (the default):
 * the key shared with it, both directions; `auth="cert"`: a certificate that chains to one of
 * the realm's `<ca>` and names the peer's identity.
 */
export interface PeerAuthConfig {
  /** Canonical identity text, e.g. "fqdn:gw2.example.com". */
  id: string;
  /** `eap-*`: the peer proves itself with EAP against the realm's `<eap_user>` list. */
  auth: AuthMethodConfig;
  /** auth="psk": the key as written: the text of `psk="..."`, or the hex digits of `psk_hex`. */
  psk?: string;
  /** auth="psk": the key as octets (UTF-8 of `psk`, or the decoded `psk_hex`): what AUTH uses. */
  pskBytes?: Uint8Array;
}

/** `<role type match auth>`: peers whose identity matches join the realm. */
export interface RoleConfig {
  /** fqdn, email, dn, san, ip, eap, any (lib/realm/match_rule.ts). */
  type: string;
  match?: string;
  /** How peers admitted by this role authenticate: the realm-wide key, a certificate or EAP. */
  auth: AuthMethodConfig;
}

/** `<realm>` of auth.xml: our identity and the keys for one realm (same `id`). */
export interface RealmAuthConfig {
  id: number;
  myAuth: MyAuthConfig;
  peers: PeerAuthConfig[];
  /** `<ca file>`: trust anchors for peer certificates (absolute paths). */
  cas: string[];
  /** `<crl file>`: revocation lists checked for peer certificates (absolute paths). */
  crls: string[];
  /** `<role>`: rules that admit peers not listed by id (lib/realm/README.md). */
  roles?: RoleConfig[];
  /** `<eap_user>`: identities and passwords for peers that authenticate with EAP. */
  eapUsers?: EapUserConfig[];
}

/**
 * A `scrypt$N$r$p$salt$hash` password hash (RFC 7914 parameters): never the password itself.
 */
export interface ScryptHash {
  /** CPU/memory cost, a power of two. */
  n: number;
  /** Block size. */
  r: number;
  /** Parallelization. */
  p: number;
  salt: Uint8Array;
  /** The derived key the password must reproduce. */
  hash: Uint8Array;
}

/** `<admin>` of auth.xml: one web user of the management server. */
export interface WebUserConfig {
  user: string;
  hash: ScryptHash;
  /** "any": every realm and the global settings; a realm id: only that realm. */
  realm: "any" | number;
}

/** The whole of conf/auth.xml (read only by the secure side). */
export interface AuthConfig {
  file: string;
  realms: RealmAuthConfig[];
  /** Web users (`<admin>`); the loader always sets it, possibly empty. */
  admins?: WebUserConfig[];
}
