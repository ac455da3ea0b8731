/**
 * Validation helpers over one {@link XmlElement}: every accessor either returns a typed value
 * or throws a {@link ConfigError} naming file, line, element and attribute. Unknown attributes,
 * unknown child elements and stray text are errors, so typos never pass silently.
 */
import { ConfigError } from "./errors.ts";
import { parseDuration } from "./duration.ts";
import type { XmlElement } from "./xml.ts";

/** Where a validated value came from, for checks that run after loading. */
export interface SourcePosition {
  file: string;
  line: number;
  element: string;
  /** Line of each attribute (where its value ended). */
  attributeLines: ReadonlyMap<string, number>;
}

/** The only format version this loader reads (`<rockhopper version="1">`). */
export const CONFIG_FORMAT_VERSION = "1";

const SOURCES = new WeakMap<object, SourcePosition>();

/** The position a loader recorded for a validated value (a realm, a peer, ...). */
export function sourceOf(value: object): SourcePosition | undefined {
  return SOURCES.get(value);
}

/**
 * Throws a ConfigError at the position recorded for `value` by {@link ElementReader.remember};
 * `where.file` names the file when nothing was recorded (a value built in code).
 */
export function failAtSource(
  value: object,
  where: { file: string; problem: string; attribute?: string },
): never {
  const source = sourceOf(value);
  const { problem, attribute } = where;
  if (!source) throw new ConfigError({ file: where.file, problem });
  throw new ConfigError({
    file: source.file,
    line: source.attributeLines.get(attribute ?? "") ?? source.line,
    element: source.element,
    ...(attribute === undefined ? {} : { attribute }),
    problem,
  });
}

/**
 * Reads one element with validation.
 *
 * @example
 * ```ts
 * const ike = new ElementReader(element, "conf/rockhopper.xml");
 * ike.allow(["suites", "dpd"], []);
 * const dpd = ike.duration("dpd", 30);
 * ```
 */
export class ElementReader {
  readonly element: XmlElement;
  readonly file: string;

  constructor(element: XmlElement, file: string) {
    this.element = element;
    this.file = file;
  }

  get name(): string {
    return this.element.name;
  }

  get line(): number {
    return this.element.line;
  }

  /** Throws a ConfigError at this element, or at one of its attributes. */
  fail(problem: string, attribute?: string): never {
    const line = attribute === undefined
      ? this.element.line
      : this.element.attributes.get(attribute)?.line ?? this.element.line;
    throw new ConfigError({
      file: this.file,
      line,
      element: this.element.name,
      ...(attribute === undefined ? {} : { attribute }),
      problem,
    });
  }

  /** Records this element's position for `value` (see {@link sourceOf}); returns `value`. */
  remember<T extends object>(value: T): T {
    const attributeLines = new Map(
      [...this.element.attributes.values()].map((a) => [a.name, a.line] as const),
    );
    SOURCES.set(value, {
      file: this.file,
      line: this.element.line,
      element: this.element.name,
      attributeLines,
    });
    return value;
  }

  /** Rejects attributes and child elements not listed, and any non-blank text content. */
  allow(attributes: readonly string[], children: readonly string[]): void {
    for (const attribute of this.element.attributes.keys()) {
      if (!attributes.includes(attribute)) {
        const allowed = attributes.length === 0 ? "none" : attributes.join(", ");
        this.fail(`unknown attribute (allowed here: ${allowed})`, attribute);
      }
    }
    for (const child of this.element.children) {
      if (!children.includes(child.name)) {
        const allowed = children.length === 0 ? "none" : children.map((c) => `<${c}>`).join(", ");
        throw new ConfigError({
          file: this.file,
          line: child.line,
          element: child.name,
          problem: `unknown element inside <${this.element.name}> (allowed here: ${allowed})`,
        });
      }
    }
    if (this.element.text.trim() !== "") {
      // Never quote the text: in auth.xml it may be a misplaced secret.
      this.fail("unexpected text content (values belong in attributes)");
    }
  }

  /** The children named `name`, in document order. */
  children(name: string): ElementReader[] {
    return this.element.children
      .filter((c) => c.name === name)
      .map((c) => new ElementReader(c, this.file));
  }

  /** The single child named `name`, or undefined; a second one is an error. */
  optionalChild(name: string): ElementReader | undefined {
    const found = this.children(name);
    const second = found[1];
    if (second) {
      second.fail(`duplicate element: <${this.element.name}> takes at most one <${name}>`);
    }
    return found[0];
  }

  /** The single child named `name`; missing or repeated is an error. */
  requiredChild(name: string): ElementReader {
    const child = this.optionalChild(name);
    if (!child) this.fail(`missing required element <${name}>`);
    return child;
  }

  /** True when the attribute is present (even if empty). */
  has(attribute: string): boolean {
    return this.element.attributes.has(attribute);
  }

  /** The attribute's value exactly as written (for secrets, where spaces count). */
  raw(attribute: string): string | undefined {
    return this.element.attributes.get(attribute)?.value;
  }

  /** The trimmed value, or undefined when absent; present but blank is an error. */
  optional(attribute: string): string | undefined {
    const value = this.raw(attribute)?.trim();
    if (value === "") this.fail("empty value", attribute);
    return value;
  }

  /** The trimmed value; absent or blank is an error. */
  required(attribute: string): string {
    const value = this.optional(attribute);
    if (value === undefined) this.fail(`missing required attribute "${attribute}"`);
    return value;
  }

  /** One of `allowed`, or `fallback` when absent. */
  choice<const C extends string>(
    attribute: string,
    options: { allowed: readonly C[]; fallback: C },
  ): C {
    const value = this.optional(attribute);
    if (value === undefined) return options.fallback;
    if (!(options.allowed as readonly string[]).includes(value)) {
      this.fail(`"${value}" is not one of ${options.allowed.join(", ")}`, attribute);
    }
    return value as C;
  }

  /** "yes" / "no", or `fallback` when absent. */
  yesNo(attribute: string, fallback: boolean): boolean {
    const allowed = ["yes", "no"] as const;
    return this.choice(attribute, { allowed, fallback: fallback ? "yes" : "no" }) === "yes";
  }

  /** A decimal integer in [min, max], or `fallback` when absent. */
  integer(attribute: string, range: { min: number; max: number; fallback: number }): number {
    const value = this.optional(attribute);
    if (value === undefined) return range.fallback;
    return this.#parseInteger(attribute, value, range);
  }

  /** A required decimal integer in [min, max]. */
  requiredInteger(attribute: string, range: { min: number; max: number }): number {
    return this.#parseInteger(attribute, this.required(attribute), range);
  }

  /** A duration in seconds ("30s", "5m", "4h", "1d", plain seconds), or `fallback`. */
  duration(attribute: string, fallback: number): number {
    const value = this.optional(attribute);
    if (value === undefined) return fallback;
    const seconds = parseDuration(value);
    if (typeof seconds === "string") this.fail(seconds, attribute);
    return seconds;
  }

  /** A whitespace-separated list; absent gives undefined, present but empty is an error. */
  list(attribute: string): string[] | undefined {
    const value = this.optional(attribute);
    return value === undefined ? undefined : value.split(/\s+/);
  }

  #parseInteger(attribute: string, value: string, range: { min: number; max: number }): number {
    const { min, max } = range;
    if (!/^(?:0|[1-9][0-9]*)$/.test(value)) {
      this.fail(`"${value}" is not a whole number`, attribute);
    }
    const n = Number(value);
    if (n < min || n > max) this.fail(`${value} is out of range ${min}-${max}`, attribute);
    return n;
  }
}

/** Checks the root element's name and version; `hints` explain well-known wrong roots. */
export function checkRoot(
  root: ElementReader,
  options: { expected: string; hints: Record<string, string> },
): void {
  const { expected, hints } = options;
  if (root.name !== expected) {
    const hint = hints[root.name];
    root.fail(hint ?? `unexpected root element (expected <${expected} version="1">)`);
  }
  const version = root.required("version");
  if (version !== CONFIG_FORMAT_VERSION) {
    root.fail(
      `unsupported format version "${version}" (this program reads version ${CONFIG_FORMAT_VERSION})`,
      "version",
    );
  }
}
