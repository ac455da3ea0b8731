/**
 * Built-in suites: a few named, complete algorithm sets (TLS-style), never assembled
 * piecemeal by an operator. IKE suite names read encryption-prf-dh ("aes256gcm16-prfsha384-
 * x25519"); for CBC the integrity algorithm doubles as PRF ("aes256-sha256-modp2048"), as in
 * strongSwan's proposal syntax. ESP suites read encryption[-integrity].
 */
import { DhGroup, EncrId, EsnId, IntegId, PrfId, ProtocolId, TransformType } from "./constants.ts";
import type { Proposal, Transform } from "./payloads/types.ts";

export interface IkeSuite {
  name: string;
  encrId: number;
  encrKeyBits: number;
  /** IntegId.None for AEAD suites. */
  integId: number;
  prfId: number;
  dhGroup: number;
}

export interface EspSuite {
  name: string;
  encrId: number;
  encrKeyBits: number;
  integId: number;
}

function ike(
  name: string,
  encrId: number,
  bits: number,
  integId: number,
  prfId: number,
  dh: number,
) {
  return { name, encrId, encrKeyBits: bits, integId, prfId, dhGroup: dh } satisfies IkeSuite;
}

/** IKE suites by name. */
export const IKE_SUITES: ReadonlyMap<string, IkeSuite> = new Map(
  [
    ike(
      "aes256gcm16-prfsha384-x25519",
      EncrId.AesGcm16,
      256,
      IntegId.None,
      PrfId.HmacSha2_384,
      DhGroup.Curve25519,
    ),
    ike(
      "aes256gcm16-prfsha384-ecp384",
      EncrId.AesGcm16,
      256,
      IntegId.None,
      PrfId.HmacSha2_384,
      DhGroup.Ecp384,
    ),
    ike(
      "aes128gcm16-prfsha256-ecp256",
      EncrId.AesGcm16,
      128,
      IntegId.None,
      PrfId.HmacSha2_256,
      DhGroup.Ecp256,
    ),
    ike(
      "aes128gcm16-prfsha256-x25519",
      EncrId.AesGcm16,
      128,
      IntegId.None,
      PrfId.HmacSha2_256,
      DhGroup.Curve25519,
    ),
    ike(
      "aes256-sha256-modp2048",
      EncrId.AesCbc,
      256,
      IntegId.HmacSha2_256_128,
      PrfId.HmacSha2_256,
      DhGroup.Modp2048,
    ),
    ike(
      "aes256-sha256-ecp256",
      EncrId.AesCbc,
      256,
      IntegId.HmacSha2_256_128,
      PrfId.HmacSha2_256,
      DhGroup.Ecp256,
    ),
    ike(
      "aes128-sha256-modp2048",
      EncrId.AesCbc,
      128,
      IntegId.HmacSha2_256_128,
      PrfId.HmacSha2_256,
      DhGroup.Modp2048,
    ),
  ].map((s) => [s.name, s]),
);

/** ESP suites by name. */
export const ESP_SUITES: ReadonlyMap<string, EspSuite> = new Map(
  [
    { name: "aes256gcm16", encrId: EncrId.AesGcm16, encrKeyBits: 256, integId: IntegId.None },
    { name: "aes128gcm16", encrId: EncrId.AesGcm16, encrKeyBits: 128, integId: IntegId.None },
    {
      name: "aes256-sha256",
      encrId: EncrId.AesCbc,
      encrKeyBits: 256,
      integId: IntegId.HmacSha2_256_128,
    },
    {
      name: "aes128-sha256",
      encrId: EncrId.AesCbc,
      encrKeyBits: 128,
      integId: IntegId.HmacSha2_256_128,
    },
  ].map((s) => [s.name, s]),
);

/** Default suites when a realm names none. */
export const DEFAULT_IKE_SUITES = ["aes256gcm16-prfsha384-x25519", "aes128gcm16-prfsha256-ecp256"];
export const DEFAULT_ESP_SUITES = ["aes256gcm16", "aes128gcm16"];

/** The IKE SA proposal for a suite (RFC 7296 §3.3); `spi` is empty in IKE_SA_INIT. */
export function ikeProposal(
  suite: IkeSuite,
  number: number,
  spi: Uint8Array = new Uint8Array(0),
): Proposal {
  const transforms: Transform[] = [
    { type: TransformType.Encryption, id: suite.encrId, keyLength: suite.encrKeyBits },
    { type: TransformType.Prf, id: suite.prfId },
  ];
  if (suite.integId !== IntegId.None) {
    transforms.push({ type: TransformType.Integrity, id: suite.integId });
  }
  transforms.push({ type: TransformType.DiffieHellman, id: suite.dhGroup });
  return { number, protocol: ProtocolId.Ike, spi, transforms };
}

/** The ESP proposal for a suite; `dhGroup` adds a DH transform (PFS in CREATE_CHILD_SA). */
export function espProposal(
  suite: EspSuite,
  number: number,
  spi: Uint8Array,
  dhGroup?: number,
): Proposal {
  const transforms: Transform[] = [
    { type: TransformType.Encryption, id: suite.encrId, keyLength: suite.encrKeyBits },
  ];
  if (suite.integId !== IntegId.None) {
    transforms.push({ type: TransformType.Integrity, id: suite.integId });
  }
  if (dhGroup !== undefined) transforms.push({ type: TransformType.DiffieHellman, id: dhGroup });
  transforms.push({ type: TransformType.ExtendedSequenceNumbers, id: EsnId.NoEsn });
  return { number, protocol: ProtocolId.Esp, spi, transforms };
}

function transformsOfType(p: Proposal, type: number): Transform[] {
  return p.transforms.filter((t) => t.type === type);
}

function offers(p: Proposal, type: number, id: number, keyLength?: number): boolean {
  return transformsOfType(p, type).some((t) => t.id === id && t.keyLength === keyLength);
}

/** True when the peer's IKE proposal contains every transform of `suite` and nothing forces
 * an extra transform type we cannot satisfy. */
function ikeProposalAccepts(p: Proposal, suite: IkeSuite): boolean {
  if (p.protocol !== ProtocolId.Ike) return false;
  if (!offers(p, TransformType.Encryption, suite.encrId, suite.encrKeyBits)) return false;
  if (!offers(p, TransformType.Prf, suite.prfId)) return false;
  if (!offers(p, TransformType.DiffieHellman, suite.dhGroup)) return false;
  const integ = transformsOfType(p, TransformType.Integrity);
  if (suite.integId === IntegId.None) {
    // AEAD: integrity must be absent or NONE.
    return integ.every((t) => t.id === IntegId.None);
  }
  return integ.some((t) => t.id === suite.integId);
}

function espProposalAccepts(p: Proposal, suite: EspSuite): boolean {
  if (p.protocol !== ProtocolId.Esp || p.spi.length !== 4) return false;
  if (!offers(p, TransformType.Encryption, suite.encrId, suite.encrKeyBits)) return false;
  const integ = transformsOfType(p, TransformType.Integrity);
  if (suite.integId === IntegId.None) {
    if (!integ.every((t) => t.id === IntegId.None)) return false;
  } else if (!integ.some((t) => t.id === suite.integId)) return false;
  const esn = transformsOfType(p, TransformType.ExtendedSequenceNumbers);
  return esn.length === 0 || esn.some((t) => t.id === EsnId.NoEsn);
}

export interface IkeSelection {
  suite: IkeSuite;
  /** The peer's proposal number, echoed in our answer. */
  proposalNumber: number;
}

/**
 * Responder's choice (RFC 7296 §2.7): the first of OUR suites, in our preference order, that
 * any of the peer's proposals contains. Returns undefined for NO_PROPOSAL_CHOSEN.
 */
export function selectIkeSuite(
  offered: readonly Proposal[],
  ours: readonly IkeSuite[],
): IkeSelection | undefined {
  for (const suite of ours) {
    for (const p of offered) {
      if (ikeProposalAccepts(p, suite)) return { suite, proposalNumber: p.number };
    }
  }
  return undefined;
}

export interface EspSelection {
  suite: EspSuite;
  proposalNumber: number;
  /** The peer's inbound SPI from its proposal. */
  peerSpi: Uint8Array;
}

/** Responder's ESP choice; undefined for NO_PROPOSAL_CHOSEN. */
export function selectEspSuite(
  offered: readonly Proposal[],
  ours: readonly EspSuite[],
): EspSelection | undefined {
  for (const suite of ours) {
    for (const p of offered) {
      if (espProposalAccepts(p, suite)) return { suite, proposalNumber: p.number, peerSpi: p.spi };
    }
  }
  return undefined;
}

/** Matches a responder's single answer proposal against a suite we offered. */
export function ikeSuiteOfAnswer(
  answer: Proposal,
  offered: readonly IkeSuite[],
): IkeSuite | undefined {
  return offered.find((s) => ikeProposalAccepts(answer, s));
}

export function espSuiteOfAnswer(
  answer: Proposal,
  offered: readonly EspSuite[],
): EspSuite | undefined {
  return offered.find((s) => espProposalAccepts(answer, s));
}

/** Looks up IKE suite names; throws RangeError naming the unknown one. */
export function ikeSuitesByName(names: readonly string[]): IkeSuite[] {
  return names.map((n) => {
    const s = IKE_SUITES.get(n);
    if (!s) {
      throw new RangeError(
        `Cannot use IKE suite "${n}": known are ${[...IKE_SUITES.keys()].join(", ")}`,
      );
    }
    return s;
  });
}

/** Looks up ESP suite names; throws RangeError naming the unknown one. */
export function espSuitesByName(names: readonly string[]): EspSuite[] {
  return names.map((n) => {
    const s = ESP_SUITES.get(n);
    if (!s) {
      throw new RangeError(
        `Cannot use ESP suite "${n}": known are ${[...ESP_SUITES.keys()].join(", ")}`,
      );
    }
    return s;
  });
}

const ENCR_NAMES: Record<number, string> = {
  [EncrId.AesCbc]: "aes",
  [EncrId.AesGcm8]: "aes%gcm8",
  [EncrId.AesGcm12]: "aes%gcm12",
  [EncrId.AesGcm16]: "aes%gcm16",
  3: "3des",
};
const INTEG_NAMES: Record<number, string> = {
  1: "md5",
  2: "sha1",
  5: "aesxcbc",
  12: "sha256",
  13: "sha384",
  14: "sha512",
};
const PRF_NAMES: Record<number, string> = {
  1: "prfmd5",
  2: "prfsha1",
  4: "prfaesxcbc",
  5: "prfsha256",
  6: "prfsha384",
  7: "prfsha512",
};
const DH_NAMES: Record<number, string> = {
  1: "modp768",
  2: "modp1024",
  5: "modp1536",
  14: "modp2048",
  15: "modp3072",
  16: "modp4096",
  19: "ecp256",
  20: "ecp384",
  21: "ecp521",
  31: "x25519",
  32: "x448",
};

function encrName(t: Transform): string {
  const pattern = ENCR_NAMES[t.id];
  if (!pattern) return `encr${t.id}`;
  const bits = t.keyLength ?? "";
  return pattern.includes("%") ? pattern.replace("%", String(bits)) : `${pattern}${bits}`;
}

/**
 * A proposal in strongSwan's syntax for logs, alternatives joined by "/":
 * "aes128-sha256-prfsha256-modp2048" or "aes256gcm16-prfsha384-x25519/ecp256".
 */
export function describeProposal(p: Proposal): string {
  const names = (type: number, f: (t: Transform) => string) => transformsOfType(p, type).map(f);
  const parts = [
    names(TransformType.Encryption, encrName),
    names(TransformType.Integrity, (t) => INTEG_NAMES[t.id] ?? (t.id === 0 ? "" : `integ${t.id}`))
      .filter((n) => n),
    names(TransformType.Prf, (t) => PRF_NAMES[t.id] ?? `prf${t.id}`),
    names(TransformType.DiffieHellman, (t) => DH_NAMES[t.id] ?? (t.id === 0 ? "" : `dh${t.id}`))
      .filter((n) => n),
  ];
  return parts.filter((a) => a.length > 0).map((a) => a.join("/")).join("-");
}
