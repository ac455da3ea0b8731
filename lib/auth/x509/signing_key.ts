/**
 * Private keys for AUTH signatures. They live only in the secure process: a {@link SigningKey}
 * never prints, serialises or exports its secret (toString, inspect and JSON show the key type
 * only), and offers nothing but signing with one of the module's schemes.
 *
 * Accepted PEM: PKCS#8 "PRIVATE KEY" (RSA or EC), and the traditional "RSA PRIVATE KEY"
 * (PKCS#1) and "EC PRIVATE KEY" (SEC 1) forms that `openssl genrsa` and `strongswan pki` write.
 * Encrypted keys are refused (the secure process has no passphrase prompt).
 */
import { Buffer } from "node:buffer";
import { constants, createPrivateKey, createPublicKey, type KeyObject, sign } from "node:crypto";
import { bytesEqual } from "../../wire/mod.ts";
import type { Certificate, EcCurve, PublicKeyType } from "./certificate.ts";
import { AuthSignatureError, X509ParseError } from "./errors.ts";
import type { SignatureScheme } from "./schemes.ts";

const CURVES: Record<string, EcCurve> = {
  prime256v1: "P-256",
  secp384r1: "P-384",
  secp521r1: "P-521",
};

/**
 * A private key for signing AUTH octets.
 *
 * @example
 * ```ts
 * const key = await SigningKey.load("/etc/rockhopper/private/gw1.key");
 * String(key); // "SigningKey(ecdsa P-256)"
 * key.matches(myCert); // true when myCert carries its public key
 * ```
 */
export class SigningKey {
  readonly #key: KeyObject;
  readonly keyType: PublicKeyType;
  /** RSA modulus bits, or the curve size (256, 384, 521). */
  readonly bits: number;
  readonly curve: EcCurve | undefined;
  /** DER subjectPublicKeyInfo of the matching public key. */
  readonly publicKeyInfo: Uint8Array;

  private constructor(key: KeyObject) {
    const type = key.asymmetricKeyType;
    const details = key.asymmetricKeyDetails ?? {};
    if (type === "rsa") {
      this.keyType = "rsa";
      this.bits = details.modulusLength ?? 0;
      this.curve = undefined;
    } else if (type === "ec") {
      const curve = CURVES[details.namedCurve ?? ""];
      if (!curve) {
        throw new X509ParseError(
          `Cannot load private key: curve ${details.namedCurve} is not P-256, P-384 or P-521`,
        );
      }
      this.keyType = "ecdsa";
      this.curve = curve;
      this.bits = curve === "P-521" ? 521 : Number(curve.slice(2));
    } else {
      throw new X509ParseError(`Cannot load private key: ${type} keys are not supported`);
    }
    this.#key = key;
    this.publicKeyInfo = new Uint8Array(
      createPublicKey(key).export({ type: "spki", format: "der" }),
    );
  }

  /**
   * Reads a PEM private key (see the module comment for the accepted forms).
   *
   * @throws {X509ParseError} on an encrypted, malformed or unsupported key; the message never
   *   contains key material.
   *
   * @example
   * ```ts
   * const key = SigningKey.fromPem(await Deno.readTextFile("gw1.key"));
   * ```
   */
  static fromPem(pem: string | Uint8Array): SigningKey {
    const text = typeof pem === "string" ? pem : new TextDecoder().decode(pem);
    if (/-----BEGIN (ENCRYPTED PRIVATE KEY|.*\r?\nProc-Type: 4,ENCRYPTED)/.test(text)) {
      throw new X509ParseError("Cannot load private key: it is encrypted (store it unencrypted)");
    }
    if (!/-----BEGIN (PRIVATE KEY|RSA PRIVATE KEY|EC PRIVATE KEY)-----/.test(text)) {
      throw new X509ParseError(
        "Cannot load private key: no PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY PEM block",
      );
    }
    let key: KeyObject;
    try {
      key = createPrivateKey({ key: text, format: "pem" });
    } catch {
      // The library's message may quote input; ours does not.
      throw new X509ParseError("Cannot load private key: malformed PEM key");
    }
    return new SigningKey(key);
  }

  /**
   * Reads a PEM private key file.
   *
   * @throws {X509ParseError} naming the file when it cannot be read or parsed.
   *
   * @example
   * ```ts
   * const key = await SigningKey.load("/etc/rockhopper/private/gw1.key");
   * ```
   */
  static async load(path: string): Promise<SigningKey> {
    let bytes: Uint8Array;
    try {
      bytes = await Deno.readFile(path);
    } catch (cause) {
      throw new X509ParseError(
        `Cannot load private key ${path}: ${(cause as Error).message}`,
        { cause },
      );
    }
    try {
      return SigningKey.fromPem(bytes);
    } catch (cause) {
      throw new X509ParseError(
        `${(cause as Error).message.replace("private key:", `private key ${path}:`)}`,
        { cause },
      );
    } finally {
      bytes.fill(0);
    }
  }

  /** Whether `cert` certifies this key's public half. */
  matches(cert: Certificate): boolean {
    return bytesEqual(cert.publicKeyInfo, this.publicKeyInfo);
  }

  /**
   * Signs `data` with `scheme` and returns the bare signature (for ECDSA: r|s or DER as the
   * scheme says). Callers normally use `createAuthSignature`, which adds the RFC 7427 prefix.
   *
   * @throws {AuthSignatureError} when the scheme needs another key type or curve.
   *
   * @example
   * ```ts
   * const signature = key.sign(SIGNATURE_SCHEMES.ECDSA_256, signedOctets); // 64 bytes
   * ```
   */
  sign(scheme: SignatureScheme, data: Uint8Array): Uint8Array {
    if (scheme.keyType !== this.keyType || (scheme.curve && scheme.curve !== this.curve)) {
      throw new AuthSignatureError(
        `Cannot sign with ${scheme.name}: it needs ${
          scheme.curve ?? scheme.keyType.toUpperCase()
        }` +
          ` key, this is ${this.describe()}`,
      );
    }
    if (this.curve === "P-521" && scheme.hash === "sha256") {
      throw new AuthSignatureError(
        `Cannot sign with ${scheme.name}: ECDSA on P-521 with SHA-256 is not supported`,
      );
    }
    const input = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    const signature = this.keyType === "rsa"
      ? sign(scheme.hash, input, {
        key: this.#key,
        padding: scheme.padding === "pss"
          ? constants.RSA_PKCS1_PSS_PADDING
          : constants.RSA_PKCS1_PADDING,
        ...(scheme.padding === "pss" ? { saltLength: scheme.saltLength } : {}),
      })
      : sign(scheme.hash, input, {
        key: this.#key,
        dsaEncoding: scheme.ecdsaEncoding === "raw" ? "ieee-p1363" : "der",
      });
    return new Uint8Array(signature);
  }

  /** "rsa 2048" or "ecdsa P-256". */
  describe(): string {
    return this.keyType === "rsa" ? `rsa ${this.bits}` : `ecdsa ${this.curve}`;
  }

  toString(): string {
    return `SigningKey(${this.describe()})`;
  }

  toJSON(): { keyType: PublicKeyType; bits: number; curve?: EcCurve } {
    return this.curve
      ? { keyType: this.keyType, bits: this.bits, curve: this.curve }
      : { keyType: this.keyType, bits: this.bits };
  }

  [Symbol.for("Deno.customInspect")](): string {
    return this.toString();
  }
}
