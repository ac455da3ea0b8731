/**
 * IkeEngineOptions.spiAffinity: the inbound SPI of a child SA that rekeys another satisfies the
 * affinity with the old one (the data-plane workers own inbound SAs by SPI modulo their number,
 * so a successor on the same worker keeps a flow's packets in order across the switch).
 */
import { assertEquals } from "../_assert.ts";
import { setLogSinks } from "../../lib/log/mod.ts";
import { closeAll, gatewayPair, nextEvent } from "./_engine_fixture.ts";

const MODULUS = 4;

async function until(predicate: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > end) throw new Error("condition not reached in time");
    await new Promise((r) => setTimeout(r, 10));
  }
}

for (const rekeyer of ["B (its own rekey)", "A (B answers the rekey)"] as const) {
  Deno.test(`rekeyed child SAs keep the inbound SPI's affinity when ${rekeyer} rekeys`, async () => {
    const prev = setLogSinks([]);
    const { a, b } = gatewayPair({
      engineB: { spiAffinity: (spi, replaces) => spi % MODULUS === replaces % MODULUS },
    });
    try {
      const upB = nextEvent(b.engine, "established");
      const upA = nextEvent(a.engine, "established");
      const saA = a.engine.initiate(1);
      const saB = await upB;
      await upA;
      await until(() => saA.children.length === 1 && saB.children.length === 1);
      const first = saB.children[0]!.spiIn;
      // Three rekeys in a row: a chance match of all three would be 1 in 64.
      for (let n = 1; n <= 3; n++) {
        if (rekeyer.startsWith("B")) b.engine.rekeyChildSa(saB, saB.children[0]!);
        else a.engine.rekeyChildSa(saA, saA.children[0]!);
        await until(() => b.installer.installed.length === n + 1 && saB.children.length === 1);
        const spi = b.installer.installed[n]!.record.spiIn;
        assertEquals(spi % MODULUS, first % MODULUS, `rekey ${n}: SPI 0x${spi.toString(16)}`);
      }
    } finally {
      await closeAll(a, b);
      setLogSinks(prev);
    }
  });
}
