import { assert, assertEquals, assertThrows } from "../_assert.ts";
import { ConfigError } from "../../lib/config/errors.ts";
import { parseXml } from "../../lib/config/xml.ts";

Deno.test("builds a tree with attributes, children, text and positions", () => {
  const root = parseXml(
    `<?xml version="1.0"?>\n<!-- c -->\n<a x="1">\n  <b y="2"\n     z="3"/>\n<c>hi<![CDATA[<x>]]>&amp;</c></a>`,
    "t.xml",
  );
  assertEquals(root.name, "a");
  assertEquals([root.line, root.column], [3, 1]);
  assertEquals(root.attributes.get("x")?.value, "1");
  assertEquals(root.children.map((c) => c.name), ["b", "c"]);
  const b = root.children[0]!;
  assertEquals([b.line, b.column], [4, 3]);
  assertEquals(b.attributes.get("z"), { name: "z", value: "3", line: 5 });
  assertEquals(root.children[1]!.text, "hi<x>&");
});

Deno.test("malformed XML is a ConfigError with file and line", () => {
  const e = assertThrows(() => parseXml("<a>\n<b>\n</a>", "bad.xml"), ConfigError) as ConfigError;
  assertEquals([e.file, e.line], ["bad.xml", 3]);
  assertEquals(e.message, "bad.xml:3: malformed XML: unexpected close tag");
});

Deno.test("rejects duplicate attributes, two roots, an empty document and DOCTYPE", () => {
  for (
    const [text, problem] of [
      ['<a x="1" x="2"/>', "duplicate attribute: x"],
      ["<a/><b/>", "only one root"],
      ["", "root element"],
      ['<!DOCTYPE a SYSTEM "file:///etc/passwd"><a/>', "DOCTYPE declarations are not allowed"],
      ["<a>&undefined;</a>", "undefined entity"],
    ]
  ) {
    const e = assertThrows(() => parseXml(text!, "t.xml"), ConfigError);
    assert(e.message.includes(problem!), e.message);
  }
});
