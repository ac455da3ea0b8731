/**
 * One logger for the whole program. Line shape: `ike[#3] initiating IKE_SA to 198.51.100.1`.
 * Levels error < warn < info < debug < trace < private; key material is logged only at
 * `private`, which is never the default.
 */

export const LogLevel = {
  error: 0,
  warn: 1,
  info: 2,
  debug: 3,
  trace: 4,
  private: 5,
} as const;
export type LogLevelName = keyof typeof LogLevel;

export type Subsystem =
  | "main"
  | "ike"
  | "esp"
  | "net"
  | "cfg"
  | "auth"
  | "web"
  | "dispatch"
  | "hub"
  | "crypto"
  | "sys";

/** One emitted record, as handed to sinks. */
export interface LogRecord {
  time: Date;
  level: LogLevelName;
  subsystem: Subsystem;
  /** Optional object tag, e.g. the IKE SA's serial: rendered as `ike[#3]`. */
  tag: string | undefined;
  message: string;
}

export type LogSink = (record: LogRecord, line: string) => void;

const levelNames = Object.keys(LogLevel) as LogLevelName[];

/** True when `name` is a valid level name. */
export function isLogLevel(name: string): name is LogLevelName {
  return (levelNames as string[]).includes(name);
}

/** Renders a record the one way the program prints it. */
export function formatRecord(r: LogRecord): string {
  const tag = r.tag === undefined ? "" : `[${r.tag}]`;
  return `${r.time.toISOString()} ${r.level.padEnd(5)} ${r.subsystem}${tag} ${r.message}`;
}

class LogState {
  level: number = LogLevel.info;
  sinks: LogSink[] = [(_r, line) => console.error(line)];
}

const state = new LogState();

/** Sets the global threshold. */
export function setLogLevel(level: LogLevelName): void {
  state.level = LogLevel[level];
}

/** The current global threshold. */
export function getLogLevel(): LogLevelName {
  return levelNames[state.level]!;
}

/** Replaces all sinks (tests use this to capture lines); returns the previous ones. */
export function setLogSinks(sinks: LogSink[]): LogSink[] {
  const prev = state.sinks;
  state.sinks = sinks;
  return prev;
}

/** Adds a sink next to the existing ones; returns a function that removes it. */
export function addLogSink(sink: LogSink): () => void {
  state.sinks.push(sink);
  return () => {
    state.sinks = state.sinks.filter((s) => s !== sink);
  };
}

/**
 * A logger bound to a subsystem and an optional tag.
 *
 * @example
 * ```ts
 * const log = new Logger("ike", "#3");
 * log.info("initiating IKE_SA to 198.51.100.1");
 * ```
 */
export class Logger {
  readonly subsystem: Subsystem;
  readonly tag: string | undefined;

  constructor(subsystem: Subsystem, tag?: string) {
    this.subsystem = subsystem;
    this.tag = tag;
  }

  /** A logger for the same subsystem with another tag. */
  with(tag: string): Logger {
    return new Logger(this.subsystem, tag);
  }

  enabled(level: LogLevelName): boolean {
    return LogLevel[level] <= state.level;
  }

  log(level: LogLevelName, message: string): void {
    if (LogLevel[level] > state.level) return;
    const record: LogRecord = {
      time: new Date(),
      level,
      subsystem: this.subsystem,
      tag: this.tag,
      message,
    };
    const line = formatRecord(record);
    for (const sink of state.sinks) sink(record, line);
  }

  error(message: string): void {
    this.log("error", message);
  }
  warn(message: string): void {
    this.log("warn", message);
  }
  info(message: string): void {
    this.log("info", message);
  }
  debug(message: string): void {
    this.log("debug", message);
  }
  trace(message: string): void {
    this.log("trace", message);
  }
  /** Key material and secrets: emitted only when the level is `private`. */
  private(message: string): void {
    this.log("private", message);
  }
}
