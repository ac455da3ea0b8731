/**
 * Schemas for the secure-process IPC: small validators that turn an untrusted JSON value into a
 * typed one or throw a {@link SchemaError} naming the field ("args.signedOctets: expected
 * base64 of at most 65535 octets"). Objects are closed (an unknown field is an error), strings
 * and arrays are bounded, byte arrays travel as base64 and come back as `Uint8Array`.
 *
 * @example
 * ```ts
 * const request = object({ realmId: uint(), peerId: text({ max: 1024 }) });
 * request.parse(JSON.parse('{"realmId":1,"peerId":"fqdn:gw2"}'), "args"); // typed
 * request.parse({ realmId: -1, peerId: "x" }, "args"); // throws SchemaError "args.realmId: ..."
 * ```
 */

/** A value does not match its schema; `path` names the field ("args.certificates[2]"). */
export class SchemaError extends TypeError {
  readonly path: string;
  constructor(path: string, problem: string) {
    super(`${path}: ${problem}`);
    this.name = "SchemaError";
    this.path = path;
  }
}

/** A validator for values of type `T`. */
export interface Schema<T> {
  /** What the schema accepts, for messages ("an integer 0-4294967295"). */
  readonly description: string;
  /** Returns the typed value or throws {@link SchemaError} naming `path`. */
  parse(value: unknown, path: string): T;
}

/** A field that may be absent (never `undefined` when present: JSON has no undefined). */
export interface OptionalSchema<T> extends Schema<T> {
  readonly optional: true;
}

/** The type a schema produces. */
export type Infer<S> = S extends Schema<infer T> ? T : never;

function fail(path: string, description: string, value: unknown): never {
  const got = value === null
    ? "null"
    : Array.isArray(value)
    ? "an array"
    : typeof value === "string"
    ? `a string of ${value.length} characters`
    : typeof value;
  throw new SchemaError(path, `expected ${description}, got ${got}`);
}

/** An integer in `min..max` (default 0..2^32-1). */
export function uint(options: { min?: number; max?: number } = {}): Schema<number> {
  const min = options.min ?? 0;
  const max = options.max ?? 0xffff_ffff;
  const description = `an integer ${min}-${max}`;
  return {
    description,
    parse(value, path) {
      if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
        if (typeof value === "number") {
          throw new SchemaError(path, `expected ${description}, got ${value}`);
        }
        fail(path, description, value);
      }
      return value;
    },
  };
}

/** `true` or `false`. */
export function boolean(): Schema<boolean> {
  return {
    description: "true or false",
    parse(value, path) {
      if (typeof value !== "boolean") fail(path, "true or false", value);
      return value;
    },
  };
}

/** A string of `min..max` characters without NUL, matching `pattern` when given. */
export function text(
  options: { max: number; min?: number; pattern?: RegExp; description?: string },
): Schema<string> {
  const min = options.min ?? 0;
  const description = options.description ?? `a string of ${min}-${options.max} characters`;
  return {
    description,
    parse(value, path) {
      if (typeof value !== "string") fail(path, description, value);
      if (value.length < min || value.length > options.max || value.includes("\0")) {
        throw new SchemaError(path, `expected ${description}, got ${value.length} characters`);
      }
      if (options.pattern && !options.pattern.test(value)) {
        throw new SchemaError(path, `expected ${description}`);
      }
      return value;
    },
  };
}

/** One of the listed strings. */
export function oneOf<const T extends string>(values: readonly T[]): Schema<T> {
  const description = `one of ${values.map((v) => JSON.stringify(v)).join(", ")}`;
  return {
    description,
    parse(value, path) {
      if (typeof value !== "string" || !(values as readonly string[]).includes(value)) {
        if (typeof value === "string") {
          throw new SchemaError(path, `expected ${description}, got an unknown value`);
        }
        fail(path, description, value);
      }
      return value as T;
    },
  };
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Standard base64 with padding (RFC 4648 §4) of a byte array. */
export function encodeBase64(bytes: Uint8Array): string {
  return bytes.toBase64();
}

/** A base64 string (RFC 4648 §4, padded) of `min..max` octets, returned decoded. */
export function bytes(options: { max: number; min?: number }): Schema<Uint8Array> {
  const min = options.min ?? 0;
  const description = `base64 of ${min}-${options.max} octets`;
  const maxChars = Math.ceil(options.max / 3) * 4;
  return {
    description,
    parse(value, path) {
      if (typeof value !== "string") fail(path, description, value);
      // Length first: a huge string is refused before the pattern runs over it.
      if (value.length > maxChars || !BASE64.test(value)) {
        throw new SchemaError(path, `expected ${description}`);
      }
      const decoded = Uint8Array.fromBase64(value);
      if (decoded.length < min || decoded.length > options.max) {
        throw new SchemaError(path, `expected ${description}, got ${decoded.length} octets`);
      }
      return decoded;
    },
  };
}

/** An array of at most `max` items, each checked by `item`. */
export function array<T>(item: Schema<T>, options: { max: number }): Schema<T[]> {
  const description = `an array of at most ${options.max} items`;
  return {
    description,
    parse(value, path) {
      if (!Array.isArray(value)) fail(path, description, value);
      if (value.length > options.max) {
        throw new SchemaError(path, `expected ${description}, got ${value.length}`);
      }
      return value.map((v, i) => item.parse(v, `${path}[${i}]`));
    },
  };
}

/** `null` or a value of `schema`. */
export function nullable<T>(schema: Schema<T>): Schema<T | null> {
  return {
    description: `null or ${schema.description}`,
    parse(value, path) {
      return value === null ? null : schema.parse(value, path);
    },
  };
}

/** Marks an object field as optional (absent is fine; `null` is not). */
export function optional<T>(schema: Schema<T>): OptionalSchema<T> {
  return { ...schema, optional: true, parse: (value, path) => schema.parse(value, path) };
}

/** Field schemas of an {@link object}. */
// deno-lint-ignore no-explicit-any
export type Fields = Record<string, Schema<any>>;

type RequiredKeys<F extends Fields> = {
  [K in keyof F]: F[K] extends OptionalSchema<unknown> ? never : K;
}[keyof F];
type OptionalKeys<F extends Fields> = {
  [K in keyof F]: F[K] extends OptionalSchema<unknown> ? K : never;
}[keyof F];

/** The object type an {@link object} schema produces. */
export type ObjectOf<F extends Fields> =
  & { [K in RequiredKeys<F>]: Infer<F[K]> }
  & { [K in OptionalKeys<F>]?: Infer<F[K]> };

/** A plain JSON object with exactly these fields (unknown fields are an error). */
export function object<F extends Fields>(fields: F): Schema<ObjectOf<F>> {
  const names = Object.keys(fields);
  const description = `an object with fields ${names.join(", ") || "(none)"}`;
  return {
    description,
    parse(value, path) {
      if (typeof value !== "object" || value === null || Array.isArray(value)) {
        fail(path, description, value);
      }
      for (const key of Object.keys(value)) {
        if (!Object.hasOwn(fields, key)) {
          throw new SchemaError(
            path,
            `unknown field ${JSON.stringify(key.slice(0, 64))} (expected ${names.join(", ")})`,
          );
        }
      }
      const out: Record<string, unknown> = {};
      for (const name of names) {
        const schema = fields[name]!;
        const present = Object.hasOwn(value, name);
        if (!present) {
          if ((schema as Partial<OptionalSchema<unknown>>).optional) continue;
          throw new SchemaError(path, `missing field ${name}`);
        }
        out[name] = schema.parse((value as Record<string, unknown>)[name], `${path}.${name}`);
      }
      return out as ObjectOf<F>;
    },
  };
}

/**
 * A union told apart by a boolean or string field: `variants[value[key]]` checks the rest.
 *
 * @example
 * ```ts
 * const result = tagged("ok", { true: object({ ok: boolean(), subject: text({ max: 9 }) }),
 *   false: object({ ok: boolean(), reason: text({ max: 9 }) }) });
 * ```
 */
export function tagged<T>(key: string, variants: Record<string, Schema<T>>): Schema<T> {
  const description = `an object whose field ${key} is one of ${Object.keys(variants).join(", ")}`;
  return {
    description,
    parse(value, path) {
      if (typeof value !== "object" || value === null || Array.isArray(value)) {
        fail(path, description, value);
      }
      const tag = (value as Record<string, unknown>)[key];
      const variant = (typeof tag === "string" || typeof tag === "boolean") &&
          Object.hasOwn(variants, String(tag))
        ? variants[String(tag)]
        : undefined;
      if (!variant) throw new SchemaError(`${path}.${key}`, `expected ${description}`);
      return variant.parse(value, path);
    },
  };
}

/** A schema that accepts only `null` (a request or result without content). */
export function nothing(): Schema<null> {
  return {
    description: "null",
    parse(value, path) {
      if (value !== null) fail(path, "null", value);
      return null;
    },
  };
}

/**
 * JSON text of `value` with every `Uint8Array` as base64 (the inverse of {@link bytes}).
 *
 * @example
 * ```ts
 * toJson({ auth: new Uint8Array([1, 2]) }); // '{"auth":"AQI="}'
 * ```
 */
export function toJson(value: unknown): string {
  return JSON.stringify(
    value,
    (_key, v) => v instanceof Uint8Array ? encodeBase64(v) : v === undefined ? undefined : v,
  );
}
