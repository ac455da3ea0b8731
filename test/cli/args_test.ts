import { assert, assertEquals, assertThrows } from "../_assert.ts";
import {
  CLI_DEFAULTS,
  type CliOptions,
  parseCliArgs,
  usage,
  UsageError,
} from "../../lib/cli/args.ts";

Deno.test("defaults every option", () => {
  assertEquals(parseCliArgs([]), {
    configPath: "conf/rockhopper.xml",
    authPath: "conf/auth.xml",
    logLevel: "info",
    check: false,
  });
  assertEquals(CLI_DEFAULTS.logLevel, "info");
});

Deno.test("reads short and long options", () => {
  const expected: CliOptions = {
    configPath: "a.xml",
    authPath: "b.xml",
    logLevel: "debug",
    check: true,
  };
  assertEquals(parseCliArgs(["-f", "a.xml", "-a", "b.xml", "-l", "debug", "--check"]), expected);
  assertEquals(
    parseCliArgs(["--config", "a.xml", "--auth=b.xml", "--log-level", "debug", "--check"]),
    expected,
  );
});

Deno.test("accepts every log level", () => {
  for (const level of ["error", "warn", "info", "debug", "trace", "private"]) {
    assertEquals((parseCliArgs(["-l", level]) as { logLevel: string }).logLevel, level);
  }
});

Deno.test("help and version win over other options", () => {
  assertEquals(parseCliArgs(["-h"]), { help: true });
  assertEquals(parseCliArgs(["-f", "x.xml", "--help"]), { help: true });
  assertEquals(parseCliArgs(["-V"]), { version: true });
  assertEquals(parseCliArgs(["--version", "--check"]), { version: true });
});

Deno.test("rejects unknown options, stray arguments and bad values", () => {
  for (
    const [argv, text] of [
      [["--bogus"], "unknown option --bogus"],
      [["-x"], "unknown option -x"],
      [["-f"], "option -f, --config needs a value"],
      [["extra"], 'unexpected argument "extra"'],
      [
        ["-l", "verbose"],
        'log level "verbose" is not one of error, warn, info, debug, trace, private',
      ],
      [["-f", "a.xml", "-f", "b.xml"], "option --config is given more than once"],
      [["--config="], "option --config needs a non-empty path"],
      [["--check=yes"], "--check"],
    ] as const
  ) {
    const e = assertThrows(() => parseCliArgs(argv), UsageError);
    assert(e.message.startsWith("Cannot parse arguments: "), e.message);
    assert(e.message.includes(text), `${argv.join(" ")}: ${e.message}`);
  }
});

Deno.test("usage lists every option and the defaults", () => {
  const text = usage();
  for (const option of ["--config", "--auth", "--log-level", "--check", "--help", "--version"]) {
    assert(text.includes(option), option);
  }
  assert(text.includes("conf/rockhopper.xml") && text.includes("conf/auth.xml"));
});
