/**
 * The benchmark's pinning of the tunnel ends: CPU lists, the split between the ends, and (as
 * root, in a namespace of its own) that every thread of a namespace's processes ends up pinned.
 */
import { assertEquals, assertThrows } from "../_assert.ts";
import { namespacePids, requireRoot, withLab } from "../netns/harness.ts";
import { allowedCpus, parseCpuList, pinNamespace, splitCpus } from "./_pinning.ts";

Deno.test("parseCpuList reads numbers and ranges, sorted and without duplicates", () => {
  assertEquals(parseCpuList("0"), [0]);
  assertEquals(parseCpuList("0-2,5\n"), [0, 1, 2, 5]);
  assertEquals(parseCpuList("7,1-3,2"), [1, 2, 3, 7]);
  for (const bad of ["", "a", "3-1", "1,", "-1", "1-"]) {
    assertThrows(() => parseCpuList(bad), SyntaxError, "Cannot parse CPU list");
  }
});

Deno.test("splitCpus gives the client's end the first half and the server's end the rest", () => {
  assertEquals(splitCpus([0, 1]), { client: [0], server: [1] });
  assertEquals(splitCpus([0, 1, 2]), { client: [0, 1], server: [2] });
  assertEquals(splitCpus([2, 3, 6, 7]), { client: [2, 3], server: [6, 7] });
  assertEquals(splitCpus([4]), { client: [4], server: [4] });
  assertThrows(() => splitCpus([]), RangeError, "none");
});

Deno.test({
  name:
    "pinNamespace pins every process in the namespace (each checked thread by thread), and only those",
  ignore: requireRoot(),
  fn: async () => {
    const cpus = await allowedCpus();
    const target = [cpus[cpus.length - 1]!];
    await withLab(async (lab) => {
      await lab.addNamespace("pinned");
      await lab.addNamespace("free");
      // A shell and its child: each process of the namespace is pinned (pinNamespace itself
      // checks every thread of each).
      const inside = lab.spawn("pinned", ["sh", "-c", "sleep 30 & wait"]);
      const outside = lab.spawn("free", ["sleep", "30"]);
      // Until the shell has started its child.
      const deadline = Date.now() + 5000;
      while ((await namespacePids(lab.nsName("pinned"))).length < 2 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const pids = await pinNamespace(lab.nsName("pinned"), target);
      assertEquals(pids.length, 2, `pinned ${pids.join(" ")}`);
      for (const pid of pids) {
        const status = await Deno.readTextFile(`/proc/${pid}/status`);
        assertEquals(status.match(/^Cpus_allowed_list:\s*(\S+)$/m)?.[1], target.join(","));
      }
      const freeStatus = await Deno.readTextFile(`/proc/${outside.pid}/status`);
      assertEquals(
        parseCpuList(freeStatus.match(/^Cpus_allowed_list:\s*(\S+)$/m)![1]!),
        cpus,
        "a process in another namespace keeps its CPUs",
      );
      await inside.kill();
      await outside.kill();
    });
  },
});
