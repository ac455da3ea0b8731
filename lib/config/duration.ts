/** Durations in configuration files: "30s", "5m", "4h", "1d" or plain seconds. */

const UNIT_SECONDS = { s: 1, m: 60, h: 3600, d: 86400 } as const;

/** Largest accepted duration: 365 days, far beyond any sensible lifetime or interval. */
export const MAX_DURATION_SECONDS = 365 * 86400;

/**
 * Parses a duration into whole seconds. Returns the seconds or a problem text.
 *
 * @example
 * ```ts
 * parseDuration("4h"); // 14400
 * parseDuration("90"); // 90
 * parseDuration("4 hours"); // 'cannot parse duration "4 hours" ...'
 * ```
 */
export function parseDuration(text: string): number | string {
  const match = /^(0|[1-9][0-9]*)([smhd]?)$/.exec(text);
  if (!match) {
    return `cannot parse duration "${text}" (write a number with an optional unit s, m, h or d: "30s", "5m", "4h", "1d")`;
  }
  const unit = (match[2] || "s") as keyof typeof UNIT_SECONDS;
  const seconds = Number(match[1]) * UNIT_SECONDS[unit];
  if (seconds > MAX_DURATION_SECONDS) {
    return `duration "${text}" is longer than the maximum of 365d`;
  }
  return seconds;
}
