/**
 * A tiny XML writer for bus responses: elements with attributes only (no mixed content), one
 * element per line, every value escaped. Booleans become "yes"/"no", numbers their decimal
 * text, undefined attributes are left out.
 */
import { escapeXml, type XmlElement } from "../config/mod.ts";

/** A value an attribute may take; undefined means "leave the attribute out". */
export type XmlAttributeValue = string | number | boolean | undefined;
/** Attributes in the order they are written. */
export type XmlAttributes = Readonly<Record<string, XmlAttributeValue>>;

/** The XML declaration every bus document starts with. */
export const XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>';

function attributeText(attributes: XmlAttributes): string {
  let text = "";
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined) continue;
    const rendered = typeof value === "boolean" ? (value ? "yes" : "no") : String(value);
    text += ` ${name}="${escapeXml(rendered)}"`;
  }
  return text;
}

/**
 * Builds one XML document.
 *
 * @example
 * ```ts
 * const w = new XmlWriter();
 * w.open("rhp_http_bus_response", { version: "1.0" }).empty("x", { ok: true }).close();
 * w.toString(); // '<?xml …?>\n<rhp_http_bus_response version="1.0">\n  <x ok="yes"/>\n</rhp_http_bus_response>\n'
 * ```
 */
export class XmlWriter {
  readonly #lines: string[] = [XML_DECLARATION];
  readonly #open: string[] = [];
  readonly #openedAt: number[] = [];

  #indent(): string {
    return "  ".repeat(this.#open.length);
  }

  /** Starts an element that may have children (written self-closing if it gets none). */
  open(name: string, attributes: XmlAttributes = {}): this {
    this.#lines.push(`${this.#indent()}<${name}${attributeText(attributes)}>`);
    this.#open.push(name);
    this.#openedAt.push(this.#lines.length - 1);
    return this;
  }

  /** Writes an element without children. */
  empty(name: string, attributes: XmlAttributes = {}): this {
    this.#lines.push(`${this.#indent()}<${name}${attributeText(attributes)}/>`);
    return this;
  }

  /** Ends the innermost open element. */
  close(): this {
    const name = this.#open.pop();
    const at = this.#openedAt.pop();
    if (name === undefined || at === undefined) {
      throw new RangeError("Cannot close an element: none is open");
    }
    if (at === this.#lines.length - 1) {
      this.#lines[at] = this.#lines[at]!.replace(/>$/, "/>");
    } else {
      this.#lines.push(`${this.#indent()}</${name}>`);
    }
    return this;
  }

  /** Copies a parsed element tree (attributes and child elements; text is dropped). */
  element(element: XmlElement): this {
    const attributes: Record<string, string> = {};
    for (const a of element.attributes.values()) attributes[a.name] = a.value;
    if (element.children.length === 0) return this.empty(element.name, attributes);
    this.open(element.name, attributes);
    for (const child of element.children) this.element(child);
    return this.close();
  }

  /** The document; every open element is closed first. */
  toString(): string {
    while (this.#open.length > 0) this.close();
    return this.#lines.join("\n") + "\n";
  }
}

/** `rxPackets` → `rx_packets`: counter names as attribute names. */
export function snakeCase(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/** Counters as attributes with snake_case names. */
export function counterAttributes(counters: Readonly<Record<string, number>>): XmlAttributes {
  const out: Record<string, number> = {};
  for (const [name, value] of Object.entries(counters)) out[snakeCase(name)] = value;
  return out;
}
