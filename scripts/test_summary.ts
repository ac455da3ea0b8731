/**
 * Counts the results of a `deno test` run for `scripts/test.sh`:
 *
 * ```
 * deno run --allow-read scripts/test_summary.ts test/artifacts/junit.xml test/artifacts/test-output.txt
 * ```
 *
 * prints `<passed> <failed> <skipped>`. The JUnit report is the source of truth; when it is
 * missing (the run was killed), the pretty reporter's output is parsed instead. Test steps are
 * not counted, matching the test counts `deno test` itself prints; ignored tests are counted as
 * skipped, never as passed.
 */

/** Result counts of top-level tests. */
export interface TestCounts {
  passed: number;
  failed: number;
  skipped: number;
}

function unescapeXml(text: string): string {
  return text.replace(
    /&(lt|gt|quot|apos|amp);/g,
    (_, e: string) => ({ lt: "<", gt: ">", quot: '"', apos: "'", amp: "&" })[e] ?? "",
  );
}

/**
 * Counts a Deno JUnit report. A test step appears as a testcase named `<parent> > <step>` next
 * to its parent in the same suite; such cases are left out.
 */
export function summarizeJunit(xml: string): TestCounts {
  const counts: TestCounts = { passed: 0, failed: 0, skipped: 0 };
  const suites = xml.match(/<testsuite\b[\s\S]*?<\/testsuite>/g) ?? [];
  for (const suite of suites) {
    const cases: { name: string; body: string }[] = [];
    const casePattern = /<testcase\b([^>]*?)(\/>|>([\s\S]*?)<\/testcase>)/g;
    for (const m of suite.matchAll(casePattern)) {
      const name = /\bname="([^"]*)"/.exec(m[1] ?? "")?.[1] ?? "";
      cases.push({ name: unescapeXml(name), body: m[3] ?? "" });
    }
    const names = new Set(cases.map((c) => c.name));
    for (const c of cases) {
      const separator = c.name.lastIndexOf(" > ");
      if (separator > 0 && names.has(c.name.slice(0, separator))) continue; // a step
      if (/<(failure|error)\b/.test(c.body)) counts.failed++;
      else if (/<skipped\b/.test(c.body)) counts.skipped++;
      else counts.passed++;
    }
  }
  return counts;
}

/** Counts the pretty reporter's unindented `<name> ... ok|FAILED|ignored` lines. */
export function summarizePrettyOutput(text: string): TestCounts {
  const counts: TestCounts = { passed: 0, failed: 0, skipped: 0 };
  // deno-lint-ignore no-control-regex
  const plain = text.replace(/\x1b\[[0-9;]*m/g, "");
  for (const line of plain.split("\n")) {
    const m = /^\S.* \.\.\. (ok|FAILED|ignored)\b/.exec(line);
    if (m === null) continue;
    if (m[1] === "ok") counts.passed++;
    else if (m[1] === "FAILED") counts.failed++;
    else counts.skipped++;
  }
  return counts;
}

async function readOrUndefined(path: string | undefined): Promise<string | undefined> {
  if (path === undefined) return undefined;
  try {
    return await Deno.readTextFile(path);
  } catch {
    return undefined;
  }
}

if (import.meta.main) {
  const [junitPath, outputPath] = Deno.args;
  const junit = await readOrUndefined(junitPath);
  const output = await readOrUndefined(outputPath);
  let counts: TestCounts = { passed: 0, failed: 0, skipped: 0 };
  let source = "none";
  if (junit !== undefined && junit.includes("<testsuites")) {
    counts = summarizeJunit(junit);
    source = "junit";
  } else if (output !== undefined) {
    counts = summarizePrettyOutput(output);
    source = "output";
  }
  console.log(`${counts.passed} ${counts.failed} ${counts.skipped} ${source}`);
}
