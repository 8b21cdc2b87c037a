/** Expiry flags as people write them: a duration from now (`30d`, `12h`, `90m`), an ISO date, or `never`. */
import { InvalidArgumentError } from 'commander';

const UNIT_MS = { m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** @returns the expiry as an ISO timestamp, or undefined for `never`. */
export function parseExpiry(text: string, now: number = Date.now()): string | undefined {
  if (text === 'never') return undefined;
  const duration = /^(\d+)([mhd])$/.exec(text);
  if (duration) {
    const ms = Number(duration[1]) * UNIT_MS[duration[2] as keyof typeof UNIT_MS];
    if (ms <= 0) throw new InvalidArgumentError(`${text}: a duration must be positive`);
    return new Date(now + ms).toISOString();
  }
  const at = Date.parse(text);
  if (Number.isNaN(at) || !/^\d{4}-\d{2}-\d{2}/.test(text)) throw new InvalidArgumentError(`${text}: not a duration (30d, 12h, 90m), an ISO date or "never"`);
  if (at <= now) throw new InvalidArgumentError(`${text} is in the past`);
  return new Date(at).toISOString();
}
