/**
 * EAP wire constants, named after their IANA registries ("Extensible Authentication Protocol
 * (EAP) Registry": Packet Codes, Method Types) plus the EAP-MSCHAPv2 OpCodes of
 * draft-kamath-pppext-eap-mschapv2-02 §2. {@link eapName} prints unknown values as
 * `UNKNOWN(n)`.
 */

/** EAP Code field (RFC 3748 §4). */
export const EapCode = {
  /** RFC 3748 §4.1 */
  Request: 1,
  /** RFC 3748 §4.1 */
  Response: 2,
  /** RFC 3748 §4.2 */
  Success: 3,
  /** RFC 3748 §4.2 */
  Failure: 4,
} as const;

/** EAP Type field of Request/Response packets (RFC 3748 §5). */
export const EapType = {
  /** RFC 3748 §5.1 */
  Identity: 1,
  /** RFC 3748 §5.2 */
  Notification: 2,
  /** Legacy Nak, valid only in a Response (RFC 3748 §5.3.1). */
  Nak: 3,
  /** RFC 3748 §5.4, RFC 1994 CHAP with MD5. */
  Md5Challenge: 4,
  /** draft-kamath-pppext-eap-mschapv2-02, RFC 2759 cryptography. */
  MsChapV2: 26,
  /** RFC 3748 §5.7 (and Expanded Nak, §5.3.2). */
  Expanded: 254,
} as const;

/** EAP-MSCHAPv2 OpCode (draft-kamath-pppext-eap-mschapv2-02 §2). */
export const MsChapV2OpCode = {
  Challenge: 1,
  Response: 2,
  Success: 3,
  Failure: 4,
  /** Not supported here: a Change-Password packet fails the conversation. */
  ChangePassword: 7,
} as const;

/** MS-CHAPv2 error codes carried as `E=` in a Failure packet (RFC 2759 §6). */
export const MsChapV2Error = {
  RestrictedLogonHours: 646,
  AccountDisabled: 647,
  PasswordExpired: 648,
  NoDialinPermission: 649,
  AuthenticationFailure: 691,
  ChangingPassword: 709,
} as const;

/**
 * The RFC-style name of `value` in `registry` ("MsChapV2" → "MS_CHAP_V2"), or `UNKNOWN(value)`.
 *
 * @example
 * ```ts
 * eapName(EapType, 4); // "MD5_CHALLENGE"
 * eapName(EapCode, 9); // "UNKNOWN(9)"
 * ```
 */
export function eapName(registry: Readonly<Record<string, number>>, value: number): string {
  for (const [k, v] of Object.entries(registry)) {
    if (v === value) return k.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toUpperCase();
  }
  return `UNKNOWN(${value})`;
}
