/** Typed errors of the X.509 module. None of them ever carries key material. */

/**
 * Bytes or text that should hold a certificate, CRL, distinguished name or key could not be
 * parsed.
 *
 * @example
 * ```ts
 * throw new X509ParseError("Cannot parse certificate: not DER or PEM");
 * ```
 */
export class X509ParseError extends SyntaxError {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "X509ParseError";
  }
}

/**
 * Why a certificate chain was refused. The values are stable and fit counters and tests.
 *
 * | problem              | meaning                                                             |
 * |----------------------|---------------------------------------------------------------------|
 * | `expired`            | a certificate of the path is past its notAfter                      |
 * | `not-yet-valid`      | a certificate of the path is before its notBefore                   |
 * | `unknown-ca`         | no issuer found among the intermediates and the trust store         |
 * | `bad-signature`      | an issuer with the right name was found but its key did not sign it |
 * | `revoked`            | listed in a (verified) CRL of its issuer                            |
 * | `not-a-ca`           | an issuer lacks basicConstraints cA=TRUE                            |
 * | `key-usage`          | keyUsage present but without the bit the role needs                 |
 * | `path-length`        | a CA's pathLenConstraint is exceeded, or the path is too long       |
 * | `critical-extension` | a critical extension this module does not process                   |
 * | `crl-invalid`        | a CRL of an issuer of the path does not verify with that issuer     |
 * | `crl-missing`        | `requireCrl` is set and an issuer of the path has no current CRL    |
 */
export type CertificateProblem =
  | "expired"
  | "not-yet-valid"
  | "unknown-ca"
  | "bad-signature"
  | "revoked"
  | "not-a-ca"
  | "key-usage"
  | "path-length"
  | "critical-extension"
  | "crl-invalid"
  | "crl-missing";

/**
 * A certificate chain did not validate. `subject` is the end entity's subject; `culprit` the
 * subject of the certificate (or CRL issuer) at fault, which may be a CA of the path.
 *
 * @example
 * ```ts
 * try {
 *   await validateChain(peer, intermediates, store);
 * } catch (e) {
 *   if (e instanceof CertificateValidationError && e.problem === "revoked") counters.revoked++;
 *   log.warn(e.message); // "Cannot validate certificate CN=peer: revoked (CRL of CN=CA, serial 0x1003)"
 * }
 * ```
 */
export class CertificateValidationError extends Error {
  readonly problem: CertificateProblem;
  readonly subject: string;
  readonly culprit: string;
  constructor(subject: string, problem: CertificateProblem, detail: string, culprit = subject) {
    super(`Cannot validate certificate ${subject}: ${detail}`);
    this.name = "CertificateValidationError";
    this.problem = problem;
    this.subject = subject;
    this.culprit = culprit;
  }
}

/**
 * A trust store source (CA or CRL file, directory) could not be loaded. `path` names it.
 *
 * @example
 * ```ts
 * throw new TrustStoreError("/etc/rockhopper/ca/x.pem", "Cannot load CA file /etc/…/x.pem: …");
 * ```
 */
export class TrustStoreError extends Error {
  readonly path: string;
  constructor(path: string, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "TrustStoreError";
    this.path = path;
  }
}

/**
 * An AUTH signature could not be created or checked at all: unsupported method or algorithm,
 * malformed RFC 7427 data, or a key that does not fit the method. (A signature that simply
 * does not verify is a `false` result, not this error.)
 *
 * @example
 * ```ts
 * throw new AuthSignatureError("Cannot verify AUTH: method 9 needs an ECDSA P-256 key, not RSA");
 * ```
 */
export class AuthSignatureError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "AuthSignatureError";
  }
}
