import assert from "node:assert/strict";
import { summarizeJunit, summarizePrettyOutput } from "../../scripts/test_summary.ts";

const JUNIT = `<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="deno test" tests="7" failures="3" errors="0" time="0.012">
    <testsuite name="./a_test.ts" tests="7" disabled="1" errors="0" failures="3">
        <testcase name="passes" classname="./a_test.ts" time="0.000" line="1" col="6">
        </testcase>
        <testcase name="fails" classname="./a_test.ts" time="0.001" line="2" col="6">
            <failure message="Uncaught Error: boom &lt;&amp;&gt;">Error: boom</failure>
        </testcase>
        <testcase name="ignored" classname="./a_test.ts" time="0.000" line="3" col="6">
            <skipped/>
        </testcase>
        <testcase name="steps" classname="./a_test.ts" time="0.002" line="4" col="6">
            <failure message="1 test step failed">1 test step failed.</failure>
        </testcase>
        <testcase name="steps &gt; s1" classname="./a_test.ts" time="0.000" line="4" col="43">
        </testcase>
        <testcase name="steps &gt; s2" classname="./a_test.ts" time="0.000" line="4" col="73">
            <failure message="Uncaught Error: x">Error: x</failure>
        </testcase>
        <testcase name="a &gt; b" classname="./a_test.ts" time="0.000" line="9" col="6">
        </testcase>
    </testsuite>
    <testsuite name="./b_test.ts" tests="1" disabled="0" errors="0" failures="0">
        <testcase name="other" classname="./b_test.ts" time="0.000" line="1" col="6"/>
    </testsuite>
</testsuites>
`;

Deno.test("summarizeJunit counts top-level tests, not steps, and ignored as skipped", () => {
  assert.deepEqual(summarizeJunit(JUNIT), { passed: 3, failed: 2, skipped: 1 });
});

Deno.test("summarizeJunit counts nothing in an empty report", () => {
  assert.deepEqual(summarizeJunit(`<testsuites name="deno test" tests="0"></testsuites>`), {
    passed: 0,
    failed: 0,
    skipped: 0,
  });
});

Deno.test("summarizePrettyOutput counts unindented result lines and strips colours", () => {
  const output = [
    "running 4 tests from ./a_test.ts",
    "passes ... \x1b[32mok\x1b[0m \x1b[38;5;245m(0ms)\x1b[0m",
    "fails ... \x1b[31mFAILED\x1b[0m (1ms)",
    "ignored ... \x1b[33mignored\x1b[0m (0ms)",
    "steps ...",
    "  s1 ... ok (0ms)",
    "  s2 ... FAILED (0ms)",
    "steps ... FAILED (due to 1 failed step) (2ms)",
    "fails => ./a_test.ts:2:6",
  ].join("\n");
  assert.deepEqual(summarizePrettyOutput(output), { passed: 1, failed: 2, skipped: 1 });
});
