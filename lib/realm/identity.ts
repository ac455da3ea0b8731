/**
 * IKE identities (RFC 7296 §3.5) as realm selection compares them: by type and meaning, not
 * only by bytes. Names and e-mail addresses compare without case (and a name without its
 * final dot); distinguished names compare attribute by attribute; everything else byte by
 * byte.
 */
import { IdType } from "../ike/constants.ts";
import { bytesEqual } from "../wire/mod.ts";
import { decodeDistinguishedName, type DistinguishedName, dnEquals } from "./distinguished_name.ts";

/** An identity as carried by an IDi/IDr payload: the ID type and its data. */
export interface Identity {
  idType: number;
  data: Uint8Array;
}

const PRINTABLE_ASCII = /^[\x21-\x7e]+$/;

/**
 * The FQDN or e-mail text of an identity, lower-cased (an FQDN also without one final dot),
 * or `undefined` when the data is not printable ASCII.
 */
export function identityText(data: Uint8Array): string | undefined {
  let text = "";
  for (const b of data) text += String.fromCharCode(b);
  return PRINTABLE_ASCII.test(text) ? text.toLowerCase() : undefined;
}

/** An FQDN identity's name in the form rules compare: lower case, no final dot. */
export function fqdnOf(identity: Identity): string | undefined {
  if (identity.idType !== IdType.Fqdn) return undefined;
  const text = identityText(identity.data);
  return text?.endsWith(".") ? text.slice(0, -1) || undefined : text;
}

/** An ID_RFC822_ADDR identity's address in lower case, when it has text on both sides of `@`. */
export function emailOf(identity: Identity): string | undefined {
  if (identity.idType !== IdType.Rfc822Addr) return undefined;
  const text = identityText(identity.data);
  if (text === undefined) return undefined;
  const at = text.lastIndexOf("@");
  return at > 0 && at < text.length - 1 ? text : undefined;
}

/** The decoded DN of an ID_DER_ASN1_DN identity, or `undefined` for other types or bad DER. */
function tryDecodeDn(identity: Identity): DistinguishedName | undefined {
  try {
    return decodeDistinguishedName(identity.data);
  } catch {
    return undefined;
  }
}

/**
 * True when two identities name the same thing: same ID type, and FQDNs/e-mail addresses
 * equal without case (FQDNs also without a final dot), DNs equal attribute by attribute
 * (values without case; a DN that is not valid DER only equals the same bytes), anything
 * else equal bytes.
 *
 * @example
 * ```ts
 * identitiesEqual(parseIdentity("fqdn:GW.example.com"), parseIdentity("fqdn:gw.example.com.")); // true
 * ```
 */
export function identitiesEqual(a: Identity, b: Identity): boolean {
  if (a.idType !== b.idType) return false;
  if (bytesEqual(a.data, b.data)) return true;
  switch (a.idType) {
    case IdType.Fqdn: {
      const name = fqdnOf(a);
      return name !== undefined && name === fqdnOf(b);
    }
    case IdType.Rfc822Addr: {
      const address = emailOf(a);
      return address !== undefined && address === emailOf(b);
    }
    case IdType.DerAsn1Dn: {
      const dnA = tryDecodeDn(a);
      const dnB = tryDecodeDn(b);
      return dnA !== undefined && dnB !== undefined && dnEquals(dnA, dnB);
    }
  }
  return false;
}
