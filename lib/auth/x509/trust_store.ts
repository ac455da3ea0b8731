/**
 * The CA store: trust anchors (and operator-supplied intermediate CAs) plus CRLs, loaded from
 * PEM/DER files or directories. It also answers CERTREQ questions: the SHA-1 hashes of its
 * CAs' subjectPublicKeyInfo (RFC 7296 §3.7) and which CA a received hash names.
 */
import { createHash } from "node:crypto";
import { bytesEqual } from "../../wire/mod.ts";
import { type Certificate, parseCertificates, RevocationList } from "./certificate.ts";
import { distinguishedNamesEqual } from "./dn.ts";
import { TrustStoreError, X509ParseError } from "./errors.ts";

/** Files and directories {@link TrustStore.load} reads. Directory entries are read in name order. */
export interface TrustStoreSources {
  /** CA certificate files (PEM, possibly several per file, or DER). */
  caFiles?: readonly string[];
  /** Directories whose `*.pem`, `*.crt`, `*.cer` and `*.der` files are CA certificates. */
  caDirectories?: readonly string[];
  /** CRL files (PEM or DER). */
  crlFiles?: readonly string[];
  /** Directories whose `*.pem`, `*.crl` and `*.der` files are CRLs. */
  crlDirectories?: readonly string[];
}

const CA_FILE = /\.(pem|crt|cer|der)$/i;
const CRL_FILE = /\.(pem|crl|der)$/i;

/** SHA-1 of a DER subjectPublicKeyInfo: the CERTREQ "Certification Authority" value. */
export function publicKeyInfoHash(publicKeyInfo: Uint8Array): Uint8Array {
  return new Uint8Array(createHash("sha1").update(publicKeyInfo).digest());
}

async function listDirectory(directory: string, pattern: RegExp): Promise<string[]> {
  const names: string[] = [];
  try {
    for await (const entry of Deno.readDir(directory)) {
      if (entry.isFile && pattern.test(entry.name)) names.push(`${directory}/${entry.name}`);
    }
  } catch (cause) {
    throw new TrustStoreError(
      directory,
      `Cannot load directory ${directory}: ${(cause as Error).message}`,
      { cause },
    );
  }
  return names.sort();
}

async function readSource(path: string, what: string): Promise<Uint8Array> {
  try {
    return await Deno.readFile(path);
  } catch (cause) {
    throw new TrustStoreError(path, `Cannot load ${what} ${path}: ${(cause as Error).message}`, {
      cause,
    });
  }
}

/**
 * CA certificates and CRLs. Certificates here are trusted as issuers; whether each one may act
 * as a CA (basicConstraints, keyUsage, validity) is still checked during path validation.
 *
 * @example
 * ```ts
 * const store = await TrustStore.load({ caDirectories: ["/etc/rockhopper/ca"], crlFiles: ["/etc/rockhopper/ca.crl"] });
 * const chain = await validateChain(peerCert, intermediates, store);
 * ```
 */
export class TrustStore {
  readonly #cas: Certificate[] = [];
  readonly #crls: RevocationList[] = [];
  readonly #hashes: Uint8Array[] = [];

  constructor(cas: readonly Certificate[] = [], crls: readonly RevocationList[] = []) {
    for (const ca of cas) this.addCa(ca);
    for (const crl of crls) this.addCrl(crl);
  }

  /**
   * Reads every source; fails on the first file that cannot be read or parsed, naming it.
   *
   * @throws {TrustStoreError} naming the file and the problem.
   *
   * @example
   * ```ts
   * const store = await TrustStore.load({ caFiles: ["ca.pem"], crlFiles: ["ca.crl"] });
   * ```
   */
  static async load(sources: TrustStoreSources): Promise<TrustStore> {
    const store = new TrustStore();
    const caFiles = [...(sources.caFiles ?? [])];
    for (const dir of sources.caDirectories ?? []) {
      caFiles.push(...await listDirectory(dir, CA_FILE));
    }
    const crlFiles = [...(sources.crlFiles ?? [])];
    for (const dir of sources.crlDirectories ?? []) {
      crlFiles.push(...await listDirectory(dir, CRL_FILE));
    }
    for (const path of caFiles) {
      const bytes = await readSource(path, "CA file");
      try {
        for (const cert of parseCertificates(bytes)) store.addCa(cert);
      } catch (cause) {
        if (!(cause instanceof X509ParseError)) throw cause;
        throw new TrustStoreError(path, `Cannot load CA file ${path}: ${cause.message}`, {
          cause,
        });
      }
    }
    for (const path of crlFiles) {
      const bytes = await readSource(path, "CRL file");
      try {
        store.addCrl(RevocationList.from(bytes));
      } catch (cause) {
        if (!(cause instanceof X509ParseError)) throw cause;
        throw new TrustStoreError(path, `Cannot load CRL file ${path}: ${cause.message}`, {
          cause,
        });
      }
    }
    return store;
  }

  /** Adds a CA certificate (a duplicate is ignored). */
  addCa(cert: Certificate): void {
    if (this.#cas.some((c) => c.equals(cert))) return;
    this.#cas.push(cert);
    this.#hashes.push(publicKeyInfoHash(cert.publicKeyInfo));
  }

  /** Adds a CRL. Its signature is checked against its issuer when a path uses that issuer. */
  addCrl(crl: RevocationList): void {
    if (this.#crls.some((c) => bytesEqual(c.der, crl.der))) return;
    this.#crls.push(crl);
  }

  get cas(): readonly Certificate[] {
    return this.#cas;
  }

  get crls(): readonly RevocationList[] {
    return this.#crls;
  }

  /** Whether `cert` is one of the store's certificates. */
  contains(cert: Certificate): boolean {
    return this.#cas.some((c) => c.equals(cert));
  }

  /** CAs whose subject equals `issuerDer` (exact or normalised DN match). */
  casNamed(issuerDer: Uint8Array): Certificate[] {
    return this.#cas.filter((c) => distinguishedNamesEqual(c.subjectDer, issuerDer));
  }

  /** CRLs issued under the name `issuerDer`. */
  crlsOf(issuerDer: Uint8Array): RevocationList[] {
    return this.#crls.filter((c) => distinguishedNamesEqual(c.issuerDer, issuerDer));
  }

  /** SHA-1 hashes of the CAs' subjectPublicKeyInfo, in store order (20 bytes each). */
  authorityHashes(): Uint8Array[] {
    return this.#hashes.map((h) => h.slice());
  }

  /** The CA whose subjectPublicKeyInfo hashes to `hash` (a CERTREQ entry), if any. */
  findByAuthorityHash(hash: Uint8Array): Certificate | undefined {
    const index = this.#hashes.findIndex((h) => bytesEqual(h, hash));
    return index < 0 ? undefined : this.#cas[index];
  }
}
