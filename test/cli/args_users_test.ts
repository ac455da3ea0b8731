/** `-u` and `-s`: the users of the main and the secure process, as in the original Rockhopper. */
import { assert, assertEquals, assertThrows } from "../_assert.ts";
import { parseCliArgs, usage, UsageError } from "../../lib/cli/args.ts";

Deno.test("-u and -s name the main and the secure process's users", () => {
  assertEquals(parseCliArgs(["-u", "rhpmain", "-s", "rhpprotected"]), {
    configPath: "conf/rockhopper.xml",
    authPath: "conf/auth.xml",
    logLevel: "info",
    check: false,
    user: "rhpmain",
    secureUser: "rhpprotected",
  });
  assertEquals(
    parseCliArgs(["--user=65534", "--secure-user", "64001:64001"]),
    {
      configPath: "conf/rockhopper.xml",
      authPath: "conf/auth.xml",
      logLevel: "info",
      check: false,
      user: "65534",
      secureUser: "64001:64001",
    },
  );
  assert(!("user" in (parseCliArgs([]) as object)), "absent when not given");
});

Deno.test("a user that is neither a name nor UID[:GID] is a usage error", () => {
  for (const bad of ["", "root;id", "1:2:3", "a b"]) {
    assertThrows(() => parseCliArgs(["-u", bad]), UsageError, "needs a user name or UID[:GID]");
  }
  assertThrows(() => parseCliArgs(["-s", "1x"]), UsageError, "--secure-user");
  assertThrows(() => parseCliArgs(["-u", "-x"]), UsageError);
  assertThrows(() => parseCliArgs(["-u", "a", "-u", "b"]), UsageError, "more than once");
});

Deno.test("the help text explains -u and -s", () => {
  const text = usage();
  assert(text.includes("-u, --user USER"), text);
  assert(text.includes("-s, --secure-user USER"), text);
  assert(text.includes("CAP_NET_ADMIN"), text);
});
