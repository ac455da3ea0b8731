import { assert, assertEquals } from "../_assert.ts";
import {
  formatSelector,
  intersectSelectors,
  isCoveredBy,
  narrowSelectors,
  rangeToPrefixes,
  selectorEquals,
  selectorFromCidr,
} from "../../lib/ike/traffic_selectors.ts";

const ts = selectorFromCidr;

Deno.test("intersects address ranges, ports and protocols", () => {
  const i = intersectSelectors(ts("10.1.0.0/16"), ts("10.1.2.0/24[6/443]"));
  assertEquals(i && formatSelector(i), "10.1.2.0/24[6/443]");
  const range = intersectSelectors(ts("10.1.0.5-10.1.0.200"), ts("10.1.0.128/25"));
  assertEquals(range && formatSelector(range), "10.1.0.128-10.1.0.200");
  const v6 = intersectSelectors(ts("2001:db8::/32"), ts("2001:db8:1::/48"));
  assertEquals(v6 && formatSelector(v6), "2001:db8:1::/48");
  assertEquals(intersectSelectors(ts("10.1.0.0/24"), ts("10.2.0.0/24")), undefined);
  assertEquals(intersectSelectors(ts("10.1.0.0/24"), ts("::/0")), undefined);
  assertEquals(intersectSelectors(ts("10.1.0.0/24[6]"), ts("10.1.0.0/24[17]")), undefined);
  assertEquals(intersectSelectors(ts("0.0.0.0/0[6/80]"), ts("0.0.0.0/0[6/443]")), undefined);
});

Deno.test("narrows offered selectors to the configured ones without duplicates", () => {
  const narrowed = narrowSelectors(
    [ts("10.0.0.0/8"), ts("10.1.0.0/16")],
    [ts("10.1.2.0/24"), ts("192.0.2.0/24")],
  );
  assertEquals(narrowed.map(formatSelector), ["10.1.2.0/24"]);
  assertEquals(narrowSelectors([ts("10.9.0.0/16")], [ts("10.1.2.0/24")]), []);
});

Deno.test("checks that an answer lies inside what was proposed", () => {
  assert(isCoveredBy(ts("10.1.2.0/24"), [ts("192.0.2.0/24"), ts("10.1.0.0/16")]));
  assert(!isCoveredBy(ts("10.1.0.0/15"), [ts("10.1.0.0/16")]));
  assert(selectorEquals(ts("10.1.0.7/24"), ts("10.1.0.0/24")));
  assert(!selectorEquals(ts("10.1.0.0/24"), ts("10.1.0.0/24[6]")));
});

Deno.test("splits an address range into the fewest prefixes", () => {
  assertEquals(rangeToPrefixes(ts("10.1.0.0/24")), ["10.1.0.0/24"]);
  assertEquals(rangeToPrefixes(ts("10.1.0.1-10.1.0.6")), [
    "10.1.0.1/32",
    "10.1.0.2/31",
    "10.1.0.4/31",
    "10.1.0.6/32",
  ]);
  assertEquals(rangeToPrefixes(ts("0.0.0.0/0")), ["0.0.0.0/0"]);
  assertEquals(rangeToPrefixes(ts("2001:db8::/32")), ["2001:db8::/32"]);
  assertEquals(rangeToPrefixes(ts("::-::1")), ["::/127"]);
});
