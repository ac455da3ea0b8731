/**
 * Certification path validation for IKE peers (RFC 5280 §6, profiled by RFC 4945 §5):
 *
 *   1. end entity: validity dates, critical extensions, keyUsage allows signing
 *   2. build the path: find each issuer by name, trust store first, then the peer's
 *      intermediates, keep the first whose key verifies the signature, stop at a trust store
 *      certificate (unknown CA otherwise)
 *   3. from the anchor down, each CA: basicConstraints cA, keyUsage keyCertSign, validity,
 *      critical extensions, pathLenConstraint
 *   4. revocation of each certificate: every store CRL of its issuer must verify with the
 *      issuer's key; a listed serial is revoked
 *
 * Not implemented (a path that needs them is refused, never silently accepted): name
 * constraints and policy constraints (critical ones are refused as unhandled extensions).
 */
import { type Certificate, formatDate, formatSerial, type RevocationList } from "./certificate.ts";
import { distinguishedNamesEqual } from "./dn.ts";
import { CertificateValidationError } from "./errors.ts";
import type { TrustStore } from "./trust_store.ts";

/** Options of {@link validateChain}. */
export interface ValidateChainOptions {
  /** The time to validate at (default: now). */
  now?: Date;
  /** Refuse the path unless every issuer on it has a current CRL in the store (default false). */
  requireCrl?: boolean;
  /** Longest accepted path, end entity and anchor included (default 8). */
  maxPathLength?: number;
}

/** A validated path. */
export interface ValidatedChain {
  readonly endEntity: Certificate;
  /** End entity first, trust anchor last. */
  readonly path: readonly Certificate[];
  /** The trust store certificate the path ends at. */
  readonly anchor: Certificate;
  /** Things worth a log line that did not fail validation, e.g. a stale CRL that was used. */
  readonly warnings: readonly string[];
}

const DEFAULT_MAX_PATH_LENGTH = 8;

/**
 * Validates `endEntity` up to a certificate of `store`, using `intermediates` (typically the
 * peer's extra CERT payloads) and the store's CAs to build the path.
 *
 * @throws {CertificateValidationError} with a `problem` code and a message such as
 *   "Cannot validate certificate C=CH, CN=peer: expired on 2026-01-01".
 *
 * @example
 * ```ts
 * const chain = await validateChain(peer, [intermediate], store, { now: new Date() });
 * chain.anchor.subject; // "C=CH, O=Example, CN=Example Root CA"
 * ```
 */
export async function validateChain(
  endEntity: Certificate,
  intermediates: readonly Certificate[],
  store: TrustStore,
  options: ValidateChainOptions = {},
): Promise<ValidatedChain> {
  const now = options.now ?? new Date();
  const maxPathLength = options.maxPathLength ?? DEFAULT_MAX_PATH_LENGTH;
  const subject = endEntity.subject;
  const fail = (
    problem: CertificateValidationError["problem"],
    detail: string,
    culprit = subject,
  ): never => {
    throw new CertificateValidationError(subject, problem, detail, culprit);
  };
  const warnings: string[] = [];

  checkCommon(endEntity, "", now, fail);
  const usage = endEntity.keyUsage;
  // RFC 4945 §5.1.3.2: digitalSignature or nonRepudiation (strongSwan accepts either too).
  if (usage && !usage.has("digitalSignature") && !usage.has("nonRepudiation")) {
    fail("key-usage", "keyUsage lacks digitalSignature");
  }

  // Build the path by name and signature first, so that an untrusted chain is reported as
  // such rather than by whatever else is wrong with its made-up CAs.
  const path: Certificate[] = [endEntity];
  let current = endEntity;
  while (!store.contains(current) || current === endEntity) {
    const what = describe(current, endEntity);
    const named = [
      ...store.casNamed(current.issuerDer),
      ...intermediates.filter((c) => distinguishedNamesEqual(c.subjectDer, current.issuerDer)),
    ].filter((c) => !path.some((p) => p.equals(c)));
    let issuer: Certificate | undefined;
    for (const candidate of named) {
      if (await current.isSignedBy(candidate)) {
        issuer = candidate;
        break;
      }
    }
    if (!issuer) {
      if (named.length > 0) {
        fail(
          "bad-signature",
          `${what}signature does not verify with the key of CA ${current.issuer}`,
          current.subject,
        );
      }
      return fail(
        "unknown-ca",
        `${what}signed by an unknown CA (issuer ${current.issuer})`,
        current.subject,
      );
    }
    path.push(issuer);
    if (path.length > maxPathLength) {
      fail("path-length", `path longer than ${maxPathLength} certificates`, issuer.subject);
    }
    current = issuer;
  }

  // Then check the CAs and the revocation of each link from the anchor down (RFC 5280 §6.1).
  const requireCrl = options.requireCrl ?? false;
  for (let i = path.length - 1; i >= 1; i--) {
    const ca = path[i]!;
    const caWhat = `CA certificate ${ca.subject} `;
    if (!ca.isCa) fail("not-a-ca", `${caWhat}lacks basicConstraints cA`, ca.subject);
    if (ca.keyUsage && !ca.keyUsage.has("keyCertSign")) {
      fail("key-usage", `${caWhat}keyUsage lacks keyCertSign`, ca.subject);
    }
    checkCommon(ca, caWhat, now, fail);
    // Intermediate CAs below this one; RFC 5280 §4.2.1.9 counts non-self-issued ones only.
    const below = path.slice(1, i).filter((c) =>
      !distinguishedNamesEqual(c.subjectDer, c.issuerDer)
    );
    if (ca.pathLength !== undefined && below.length > ca.pathLength) {
      fail(
        "path-length",
        `${caWhat}allows ${ca.pathLength} intermediate CA(s) below it, the path has ${below.length}`,
        ca.subject,
      );
    }
    const cert = path[i - 1]!;
    await checkRevocation(cert, ca, store, now, requireCrl, describe(cert, endEntity), {
      fail,
      warnings,
    });
  }
  return { endEntity, path, anchor: path[path.length - 1]!, warnings };
}

function describe(cert: Certificate, endEntity: Certificate): string {
  return cert === endEntity ? "" : `CA certificate ${cert.subject} `;
}

type Fail = (
  problem: CertificateValidationError["problem"],
  detail: string,
  culprit?: string,
) => never;

function checkCommon(cert: Certificate, what: string, now: Date, fail: Fail): void {
  if (now > cert.notAfter) {
    fail("expired", `${what}expired on ${formatDate(cert.notAfter)}`, cert.subject);
  }
  if (now < cert.notBefore) {
    fail("not-yet-valid", `${what}not valid before ${formatDate(cert.notBefore)}`, cert.subject);
  }
  const [unhandled] = cert.unhandledCriticalExtensions;
  if (unhandled !== undefined) {
    fail(
      "critical-extension",
      `${what}has unsupported critical extension ${unhandled}`,
      cert.subject,
    );
  }
}

async function checkRevocation(
  cert: Certificate,
  issuer: Certificate,
  store: TrustStore,
  now: Date,
  requireCrl: boolean,
  what: string,
  out: { fail: Fail; warnings: string[] },
): Promise<void> {
  const crls: RevocationList[] = store.crlsOf(issuer.subjectDer);
  let current = false;
  for (const crl of crls) {
    if (issuer.keyUsage && !issuer.keyUsage.has("cRLSign")) {
      out.fail(
        "crl-invalid",
        `CA ${issuer.subject} may not sign CRLs (keyUsage lacks cRLSign)`,
        issuer.subject,
      );
    }
    if (!await crl.isSignedBy(issuer)) {
      out.fail(
        "crl-invalid",
        `CRL of ${crl.issuer} (${formatDate(crl.thisUpdate)}) does not verify with the CA's key`,
        issuer.subject,
      );
    }
    const entry = crl.find(cert.serialNumber);
    if (entry) {
      out.fail(
        "revoked",
        `${what}revoked on ${formatDate(entry.revocationDate)} (CRL of ${crl.issuer}, serial ${
          formatSerial(cert.serialNumber)
        })`,
        cert.subject,
      );
    }
    if (crl.nextUpdate !== undefined && crl.nextUpdate < now) {
      out.warnings.push(
        `CRL of ${crl.issuer} is past its nextUpdate ${formatDate(crl.nextUpdate)}`,
      );
    } else {
      current = true;
    }
  }
  if (requireCrl && !current) {
    out.fail("crl-missing", `no current CRL of CA ${issuer.subject}`, issuer.subject);
  }
}
