/** The one error type of the configuration loader. */

/** Where a configuration problem sits and what it is. */
export interface ConfigErrorDetails {
  /** The file as the operator named it, e.g. "conf/rockhopper.xml". */
  file: string;
  /** One-based line; absent for problems with the file as a whole (cannot read it). */
  line?: number;
  /** Element name without brackets, e.g. "ike". */
  element?: string;
  /** Attribute name when the problem is one attribute's value. */
  attribute?: string;
  /** What is wrong, in lower case, never containing a secret. */
  problem: string;
}

/**
 * A configuration file is unreadable, malformed or invalid. The message is always one line in
 * the compiler style operators know from `gcc` and `nginx -t`:
 *
 * `conf/rockhopper.xml:12: <ike suites>: unknown IKE suite "aes128-sha1-modp1024" (known: ...)`
 *
 * The message never contains a pre-shared key or any other secret.
 *
 * @example
 * ```ts
 * try {
 *   await loadConfig("conf/rockhopper.xml");
 * } catch (e) {
 *   if (e instanceof ConfigError) console.error(e.message); // one line, no stack
 * }
 * ```
 */
export class ConfigError extends Error {
  readonly file: string;
  readonly line: number | undefined;
  readonly element: string | undefined;
  readonly attribute: string | undefined;
  readonly problem: string;

  constructor(details: ConfigErrorDetails, options?: ErrorOptions) {
    super(formatConfigProblem(details), options);
    this.name = "ConfigError";
    this.file = details.file;
    this.line = details.line;
    this.element = details.element;
    this.attribute = details.attribute;
    this.problem = details.problem;
  }
}

/**
 * Renders a problem the way {@link ConfigError} and warnings print it:
 * `file:line: <element attribute>: problem`.
 *
 * @example
 * ```ts
 * formatConfigProblem({ file: "conf/auth.xml", line: 4, element: "peer", problem: "weak PSK" });
 * // "conf/auth.xml:4: <peer>: weak PSK"
 * ```
 */
export function formatConfigProblem(details: ConfigErrorDetails): string {
  const where = details.line === undefined ? details.file : `${details.file}:${details.line}`;
  const element = details.element === undefined
    ? ""
    : ` <${details.element}${details.attribute === undefined ? "" : ` ${details.attribute}`}>:`;
  // One line, whatever a caller passes in.
  const problem = details.problem.replace(/[\r\n]+/g, " ");
  return `${where}:${element} ${problem}`;
}
