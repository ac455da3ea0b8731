/** `<data_plane workers offload>` in rockhopper.xml. */
import { assertEquals, assertThrows } from "../_assert.ts";
import { ConfigError, parseConfig } from "../../lib/config/mod.ts";

const REALM =
  `<realm id="1" name="lab"><tunnel_interface name="rhp0" address="10.255.0.1/24"/></realm>`;

function dataPlaneOf(element: string) {
  return parseConfig(`<rockhopper version="1">${element}${REALM}</rockhopper>`, "b.xml").dataPlane;
}

Deno.test("ESP runs in two workers with offloads unless <data_plane> says otherwise", () => {
  assertEquals(dataPlaneOf(""), { workers: 2, offload: true });
  for (const workers of [0, 1, 4]) {
    assertEquals(dataPlaneOf(`<data_plane workers="${workers}"/>`), { workers, offload: true });
  }
  assertEquals(dataPlaneOf(`<data_plane offload="no"/>`), { workers: 2, offload: false });
});

Deno.test("<data_plane> rejects a worker count out of range and unknown values", () => {
  for (
    const element of [
      `<data_plane workers="65"/>`,
      `<data_plane workers="-1"/>`,
      `<data_plane threads="2"/>`,
      `<data_plane offload="on"/>`,
    ]
  ) {
    const e = assertThrows(
      () => parseConfig(`<rockhopper version="1">${element}${REALM}</rockhopper>`, "c.xml"),
      ConfigError,
    );
    assertEquals(e.message.includes("c.xml"), true, `names the file: ${e.message}`);
  }
});
