/** Structured logging and counters. */
export {
  addLogSink,
  formatRecord,
  getLogLevel,
  isLogLevel,
  Logger,
  LogLevel,
  setLogLevel,
  setLogSinks,
} from "./logger.ts";
export type { LogLevelName, LogRecord, LogSink, Subsystem } from "./logger.ts";
export { Counters, SummedCounters } from "./counters.ts";
