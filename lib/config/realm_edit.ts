/**
 * Text-level edits of a rockhopper.xml: replace, insert or remove one `<realm>` element, or
 * change one attribute of its start tag, leaving every other byte of the file — comments,
 * layout, the other realms — as it was. The management server validates the edited text with
 * the same loader as the file ({@link parseConfig}), so an edit is accepted exactly when the
 * file would load.
 */
import { SaxesParser } from "saxes";
import { ConfigError } from "./errors.ts";
import { parseXml, type XmlElement } from "./xml.ts";

/** One top-level `<realm>` element of a document and where its text is. */
export interface RealmSpan {
  /** The `id` attribute as written (trimmed); undefined when absent. */
  id: string | undefined;
  /** Offset of `<realm`. */
  start: number;
  /** Offset just after the start tag's `>` (for a self-closing tag: after `/>`). */
  startTagEnd: number;
  /** Offset just after the element's end tag. */
  end: number;
  selfClosing: boolean;
  /** The whitespace from the line start to `<realm`, or "" when other text precedes it. */
  indent: string;
  element: XmlElement;
}

/** A rockhopper.xml text with the positions of its realms. */
export interface RealmDocument {
  file: string;
  text: string;
  root: XmlElement;
  realms: RealmSpan[];
  /** Offset of the root's end tag `</…>`. */
  rootCloseStart: number;
}

/** A rendered element: its lines and, per line, the element path for error messages. */
export interface RenderedElement {
  lines: string[];
  /** Per line: `realm`, `realm/ike`, `realm/peer[2]` (an index only where a name repeats). */
  paths: string[];
}

/** Indentation step of rendered elements. */
const STEP = "  ";

/**
 * Escapes a value for an attribute in double quotes; tabs and line breaks become character
 * references so that every rendered element stays on one line.
 *
 * @example
 * ```ts
 * escapeXml('a "b" & <c>'); // "a &quot;b&quot; &amp; &lt;c&gt;"
 * ```
 */
export function escapeXml(value: string): string {
  return value.replace(/[&<>"\t\n\r]/g, (c) => ESCAPES[c]!);
}

const ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "\t": "&#9;",
  "\n": "&#10;",
  "\r": "&#13;",
};

function startTag(element: XmlElement, close: "" | "/"): string {
  const attributes = [...element.attributes.values()]
    .map((a) => ` ${a.name}="${escapeXml(a.value)}"`)
    .join("");
  return `<${element.name}${attributes}${close}>`;
}

/**
 * Renders an element tree, one element per line, attributes in document order, comments
 * dropped; non-blank text is kept (escaped) so that the loader still reports it.
 *
 * @example
 * ```ts
 * renderElement(parseXml('<realm id="1"><ike dpd="0"/></realm>', "x")).lines;
 * // ['<realm id="1">', '  <ike dpd="0"/>', "</realm>"]
 * ```
 */
export function renderElement(element: XmlElement, indent = ""): RenderedElement {
  const lines: string[] = [];
  const paths: string[] = [];
  const walk = (e: XmlElement, depth: string, path: string) => {
    const text = e.text.trim();
    if (e.children.length === 0 && text === "") {
      lines.push(`${depth}${startTag(e, "/")}`);
      paths.push(path);
      return;
    }
    lines.push(`${depth}${startTag(e, "")}`);
    paths.push(path);
    if (text !== "") {
      lines.push(`${depth}${STEP}${escapeXml(text)}`);
      paths.push(path);
    }
    for (const child of e.children) {
      const same = e.children.filter((c) => c.name === child.name);
      const suffix = same.length > 1 ? `[${same.indexOf(child) + 1}]` : "";
      walk(child, depth + STEP, `${path}/${child.name}${suffix}`);
    }
    lines.push(`${depth}</${e.name}>`);
    paths.push(path);
  };
  walk(element, indent, element.name);
  return { lines, paths };
}

/**
 * Parses `text` and finds its top-level `<realm>` elements with their offsets.
 *
 * @throws {ConfigError} when the text is not well-formed XML.
 */
export function locateRealms(text: string, file: string): RealmDocument {
  const root = parseXml(text, file);
  const parser = new SaxesParser({ position: true });
  const spans: Omit<RealmSpan, "element">[] = [];
  let depth = 0;
  let tagStart = 0;
  let current: Omit<RealmSpan, "element"> | undefined;
  let rootCloseStart = -1;
  parser.on("opentagstart", (tag) => {
    // The parser stands one character past "<name".
    tagStart = parser.position - tag.name.length - 2;
  });
  parser.on("opentag", (tag) => {
    depth++;
    if (depth !== 2 || tag.name !== "realm") return;
    const lineStart = text.lastIndexOf("\n", tagStart - 1) + 1;
    const before = text.slice(lineStart, tagStart);
    current = {
      id: (tag.attributes["id"] as string | undefined)?.trim(),
      start: tagStart,
      startTagEnd: parser.position,
      end: parser.position,
      selfClosing: tag.isSelfClosing,
      indent: /^[ \t]*$/.test(before) ? before : "",
    };
  });
  parser.on("closetag", (tag) => {
    if (depth === 2 && tag.name === "realm" && current) {
      current.end = parser.position;
      spans.push(current);
      current = undefined;
    }
    if (depth === 1) rootCloseStart = text.lastIndexOf("</", parser.position - 1);
    depth--;
  });
  parser.write(text).close();
  const elements = root.children.filter((c) => c.name === "realm");
  const broken = spans.length !== elements.length || rootCloseStart < 0 ||
    spans.some((s) => !text.startsWith("<realm", s.start) || text[s.end - 1] !== ">");
  if (broken) {
    throw new ConfigError({ file, problem: "cannot locate the <realm> elements in the text" });
  }
  return {
    file,
    text,
    root,
    realms: spans.map((s, i) => ({ ...s, element: elements[i]! })),
    rootCloseStart,
  };
}

/** The result of an edit: the new text and, for an inserted element, where its lines are. */
export interface RealmEdit {
  text: string;
  /** One-based line of the rendered realm's first line (replace and insert only). */
  firstLine?: number;
  /** Element paths of the rendered lines, from {@link firstLine} on. */
  paths?: string[];
}

function lineOf(text: string, offset: number): number {
  let line = 1;
  for (let i = text.indexOf("\n"); i >= 0 && i < offset; i = text.indexOf("\n", i + 1)) line++;
  return line;
}

/**
 * Replaces realm `index` of `doc` with `element`, rendered at the old realm's indentation.
 *
 * @example
 * ```ts
 * const doc = locateRealms(text, "conf/rockhopper.xml");
 * const edit = replaceRealm(doc, 0, parseXml('<realm id="1" name="x">…</realm>', "request"));
 * ```
 */
export function replaceRealm(doc: RealmDocument, index: number, element: XmlElement): RealmEdit {
  const span = doc.realms[index]!;
  const rendered = renderElement(element, span.indent);
  const body = rendered.lines.join("\n").slice(span.indent.length);
  const text = doc.text.slice(0, span.start) + body + doc.text.slice(span.end);
  return { text, firstLine: lineOf(text, span.start), paths: rendered.paths };
}

/** Inserts `element` after the last realm (or before the root's end tag when there is none). */
export function insertRealm(doc: RealmDocument, element: XmlElement): RealmEdit {
  const last = doc.realms.at(-1);
  const indent = last?.indent || STEP;
  const rendered = renderElement(element, indent);
  const at = last?.end ?? doc.rootCloseStart;
  const block = rendered.lines.join("\n");
  const text = last
    ? `${doc.text.slice(0, at)}\n${block}${doc.text.slice(at)}`
    : `${doc.text.slice(0, at)}${block}\n${doc.text.slice(at)}`;
  const firstLine = lineOf(text, last ? at + 1 : at);
  return { text, firstLine, paths: rendered.paths };
}

/** Removes realm `index` together with its indentation and line break. */
export function removeRealm(doc: RealmDocument, index: number): RealmEdit {
  const span = doc.realms[index]!;
  let start = span.start - span.indent.length;
  let end = span.end;
  if (span.indent !== "" || start === 0 || doc.text[start - 1] === "\n") {
    if (doc.text[end] === "\n") end++;
    else if (doc.text.startsWith("\r\n", end)) end += 2;
  } else {
    start = span.start;
  }
  return { text: doc.text.slice(0, start) + doc.text.slice(end) };
}

/**
 * Sets one attribute in realm `index`'s start tag (added at the end when absent); the realm's
 * content, comments included, is untouched.
 */
export function setRealmAttribute(
  doc: RealmDocument,
  index: number,
  name: string,
  value: string,
): RealmEdit {
  const span = doc.realms[index]!;
  const attributes = new Map(span.element.attributes);
  attributes.set(name, { name, value, line: span.element.line });
  const tag = startTag({ ...span.element, attributes }, span.selfClosing ? "/" : "");
  return { text: doc.text.slice(0, span.start) + tag + doc.text.slice(span.startTagEnd) };
}
