/**
 * A tiny element tree for configuration files, built with saxes. It keeps what validation
 * needs — names, attributes, children, text and source positions — and nothing else: no
 * namespaces, no DOCTYPE (rejected, so no entity expansion), comments and processing
 * instructions dropped.
 */
import { SaxesParser } from "saxes";
import { ConfigError } from "./errors.ts";

/** One attribute with the position where its value ended (its line for one-line values). */
export interface XmlAttribute {
  name: string;
  value: string;
  line: number;
}

/** One element. Lines are one-based, columns one-based (Unicode characters). */
export interface XmlElement {
  name: string;
  /** Attributes in document order. */
  attributes: Map<string, XmlAttribute>;
  children: XmlElement[];
  /** Concatenated character data directly inside this element (including CDATA). */
  text: string;
  line: number;
  column: number;
}

/**
 * Parses `text` into its root element; `file` only names the source in errors.
 *
 * @throws {ConfigError} on malformed XML, with the line where the parser stopped.
 *
 * @example
 * ```ts
 * const root = parseXml('<rockhopper version="1"/>', "conf/rockhopper.xml");
 * root.attributes.get("version")?.value; // "1"
 * ```
 */
export function parseXml(text: string, file: string): XmlElement {
  const parser = new SaxesParser({ position: true });
  const stack: XmlElement[] = [];
  let root: XmlElement | undefined;
  let pendingAttributes = new Map<string, XmlAttribute>();
  let tagLine = 1;
  let tagColumn = 1;

  const fail = (problem: string, line = parser.line): never => {
    throw new ConfigError({ file, line, problem: `malformed XML: ${problem}` });
  };

  parser.on("error", (e) => {
    // saxes prefixes "line:column: "; we print the line our own way.
    fail(e.message.replace(/^(?:[^:]*:)?\d+:\d+: /, "").replace(/\.$/, ""));
  });
  parser.on("doctype", () => fail("DOCTYPE declarations are not allowed"));
  parser.on("opentagstart", (tag) => {
    // The parser stands one character past "<name" (the space, "/" or ">" ending the name).
    tagLine = parser.line;
    tagColumn = parser.column - tag.name.length - 1;
    pendingAttributes = new Map();
  });
  parser.on("attribute", (attr) => {
    pendingAttributes.set(attr.name, { name: attr.name, value: attr.value, line: parser.line });
  });
  parser.on("opentag", (tag) => {
    const element: XmlElement = {
      name: tag.name,
      attributes: pendingAttributes,
      children: [],
      text: "",
      line: tagLine,
      column: tagColumn,
    };
    const parent = stack.at(-1);
    if (parent) parent.children.push(element);
    else root = element;
    stack.push(element);
  });
  parser.on("closetag", () => {
    stack.pop();
  });
  const addText = (data: string) => {
    const current = stack.at(-1);
    if (current) current.text += data;
  };
  parser.on("text", addText);
  parser.on("cdata", addText);

  parser.write(text).close();
  if (!root) fail("document has no root element");
  return root!;
}
