/**
 * Text edits of one `<realm>` of a rockhopper.xml (replace, insert, remove, set an attribute)
 * keep every other byte, and atomic saves keep the previous version.
 */
import { assert, assertEquals, assertThrows } from "../_assert.ts";
import {
  ConfigError,
  insertRealm,
  locateRealms,
  parseConfig,
  parseXml,
  PREVIOUS_SUFFIX,
  removeRealm,
  renderElement,
  replaceRealm,
  saveConfigText,
  setRealmAttribute,
} from "../../lib/config/mod.ts";

const FILE = "conf/rockhopper.xml";
const TEXT = `<?xml version="1.0" encoding="UTF-8"?>
<!-- top comment, é😀 -->
<rockhopper version="1">
  <admin address="127.0.0.1"/>
  <!-- realm one -->
  <realm id="1" name="one">
    <!-- inside one -->
    <tunnel_interface name="rhp1" address="10.1.0.1/24"/>
  </realm>
  <realm id="2" name="two" enabled="no">
    <tunnel_interface name="rhp2" address="10.2.0.1/24"/>
  </realm>
</rockhopper>
`;

Deno.test("locates top-level realms with their ids, offsets and indentation", () => {
  const doc = locateRealms(TEXT, FILE);
  assertEquals(doc.realms.map((r) => r.id), ["1", "2"]);
  for (const r of doc.realms) {
    assert(TEXT.slice(r.start).startsWith("<realm "), "start at <realm");
    assert(TEXT.slice(0, r.end).endsWith("</realm>"), "end after </realm>");
    assertEquals(r.indent, "  ");
  }
  assertEquals(TEXT.slice(doc.rootCloseStart), "</rockhopper>\n");
});

Deno.test("replacing a realm keeps comments and the other realm byte for byte", () => {
  const doc = locateRealms(TEXT, FILE);
  const element = parseXml(
    `<realm id="2" name="two-b"><tunnel_interface name="rhp2" address="10.2.0.1/24"/><peer id="fqdn:a.example.com"/><peer id="fqdn:b.example.com"/></realm>`,
    "request",
  );
  const edit = replaceRealm(doc, 1, element);
  const expected = TEXT.replace(
    `  <realm id="2" name="two" enabled="no">
    <tunnel_interface name="rhp2" address="10.2.0.1/24"/>
  </realm>`,
    `  <realm id="2" name="two-b">
    <tunnel_interface name="rhp2" address="10.2.0.1/24"/>
    <peer id="fqdn:a.example.com"/>
    <peer id="fqdn:b.example.com"/>
  </realm>`,
  );
  assertEquals(edit.text, expected);
  assertEquals(edit.firstLine, 10);
  assertEquals(edit.paths, [
    "realm",
    "realm/tunnel_interface",
    "realm/peer[1]",
    "realm/peer[2]",
    "realm",
  ]);
  assertEquals(parseConfig(edit.text, FILE).realms[1]!.name, "two-b");
});

Deno.test("inserting, removing and setting an attribute leave the rest untouched", () => {
  const doc = locateRealms(TEXT, FILE);
  const inserted = insertRealm(
    doc,
    parseXml(
      `<realm id="3" name="three"><tunnel_interface name="rhp3" address="10.3.0.1/24"/></realm>`,
      "r",
    ),
  );
  assert(
    inserted.text.endsWith(`  </realm>
  <realm id="3" name="three">
    <tunnel_interface name="rhp3" address="10.3.0.1/24"/>
  </realm>
</rockhopper>
`),
    inserted.text,
  );
  assertEquals(inserted.firstLine, 13);
  assertEquals(parseConfig(inserted.text, FILE).realms.map((r) => r.id), [1, 2, 3]);

  const removed = removeRealm(doc, 0);
  assertEquals(
    removed.text,
    TEXT.replace(
      `  <realm id="1" name="one">
    <!-- inside one -->
    <tunnel_interface name="rhp1" address="10.1.0.1/24"/>
  </realm>
`,
      "",
    ),
  );

  const enabled = setRealmAttribute(doc, 1, "enabled", "yes");
  assertEquals(enabled.text, TEXT.replace(`enabled="no"`, `enabled="yes"`));
  const disabled = setRealmAttribute(doc, 0, "enabled", "no");
  assertEquals(
    disabled.text,
    TEXT.replace(`<realm id="1" name="one">`, `<realm id="1" name="one" enabled="no">`),
  );
  assert(disabled.text.includes("<!-- inside one -->"), "content of the realm kept");
});

Deno.test("rendering escapes values so that an element stays on one line", () => {
  const element = parseXml(`<realm id="1" name="a&amp;b&#10;&quot;c&quot;"/>`, "r");
  assertEquals(renderElement(element).lines, [`<realm id="1" name="a&amp;b&#10;&quot;c&quot;"/>`]);
});

Deno.test("locating realms in malformed text throws the loader's ConfigError", () => {
  const e = assertThrows(() => locateRealms("<rockhopper version='1'><realm>", FILE), ConfigError);
  assert(e.message.startsWith(`${FILE}:1: malformed XML`), e.message);
});

Deno.test("saveConfigText replaces the file atomically and keeps the previous version", async () => {
  const dir = await Deno.makeTempDir({ prefix: "rht_save_" });
  try {
    const path = `${dir}/rockhopper.xml`;
    await Deno.writeTextFile(path, "old\n", { mode: 0o640 });
    await saveConfigText(path, "new\n");
    assertEquals(await Deno.readTextFile(path), "new\n");
    assertEquals(await Deno.readTextFile(path + PREVIOUS_SUFFIX), "old\n");
    assertEquals((await Deno.stat(path)).mode! & 0o777, 0o640, "mode kept");
    const names = [];
    for await (const entry of Deno.readDir(dir)) names.push(entry.name);
    assertEquals(names.sort(), ["rockhopper.xml", "rockhopper.xml.prev"], "no temporary left");
    await saveConfigText(path, "newer\n", { keepPrevious: false });
    assertEquals(await Deno.readTextFile(path + PREVIOUS_SUFFIX), "old\n");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
