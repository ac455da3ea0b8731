/**
 * IKE identities (RFC 7296 §3.5) against certificates (RFC 4945 §3.1): the peer's ID must be the
 * certificate's subject DN or one of its subjectAltNames, as strongSwan requires.
 *
 * | ID type         | matched against                                             |
 * |-----------------|-------------------------------------------------------------|
 * | ID_DER_ASN1_DN  | subject: equal DER, or equal after DN normalisation         |
 * | ID_FQDN         | subjectAltName dNSName, case-insensitive                    |
 * | ID_RFC822_ADDR  | subjectAltName rfc822Name, case-insensitive                 |
 * | ID_IPV4_ADDR    | subjectAltName iPAddress of 4 bytes                         |
 * | ID_IPV6_ADDR    | subjectAltName iPAddress of 16 bytes                        |
 * | anything else   | no match (ID_KEY_ID, ID_DER_ASN1_GN are not tied to a cert) |
 */
// The constants module is a leaf; importing it (not ike/mod.ts) avoids an ike ↔ auth cycle.
import { IdType } from "../../ike/constants.ts";
import { bytesEqual } from "../../wire/mod.ts";
import type { Certificate } from "./certificate.ts";
import { distinguishedNamesEqual } from "./dn.ts";

/** An IKE identity: the ID payload's type and data (as `parseIdentity` returns it). */
export interface Identity {
  idType: number;
  data: Uint8Array;
}

function ascii(data: Uint8Array): string | undefined {
  let text = "";
  for (const b of data) {
    if (b < 0x21 || b > 0x7e) return undefined;
    text += String.fromCharCode(b);
  }
  return text;
}

/**
 * Whether the certificate vouches for the identity (see the module table).
 *
 * @example
 * ```ts
 * certificateMatchesIdentity(peerCert, parseIdentity("fqdn:gw2.example.com")); // true if a dNSName says so
 * ```
 */
export function certificateMatchesIdentity(cert: Certificate, id: Identity): boolean {
  switch (id.idType) {
    case IdType.DerAsn1Dn:
      return distinguishedNamesEqual(cert.subjectDer, id.data);
    case IdType.Fqdn: {
      const text = ascii(id.data)?.toLowerCase();
      return text !== undefined && cert.subjectAltNames.dns.some((n) => n.toLowerCase() === text);
    }
    case IdType.Rfc822Addr: {
      const text = ascii(id.data)?.toLowerCase();
      return text !== undefined &&
        cert.subjectAltNames.email.some((n) => n.toLowerCase() === text);
    }
    case IdType.Ipv4Addr:
    case IdType.Ipv6Addr: {
      const size = id.idType === IdType.Ipv4Addr ? 4 : 16;
      return id.data.length === size &&
        cert.subjectAltNames.ip.some((a) => a.length === size && bytesEqual(a, id.data));
    }
    default:
      return false;
  }
}

/**
 * The ID_DER_ASN1_DN identity of a certificate's subject: what an IDi/IDr payload carries when
 * the configuration names no other identity (strongSwan's default too).
 *
 * @example
 * ```ts
 * const idi = { type: PayloadType.IdInitiator, ...identityFromCertificate(myCert) };
 * ```
 */
export function identityFromCertificate(cert: Certificate): Identity {
  return { idType: IdType.DerAsn1Dn, data: cert.subjectDer.slice() };
}
