/** Flag parsers shared by the `tandem` commands: they run while commander parses, before any work starts. */
import { InvalidArgumentError } from 'commander';

/** A TCP port, 0 meaning "any free port". */
export function parsePort(text: string): number {
  const value = Number(text);
  if (!/^\d+$/.test(text) || value > 65535) throw new InvalidArgumentError(`not a port: ${text}`);
  return value;
}

/** Comma-separated or repeated values, collected into one list. */
export function collectList(text: string, previous: string[] = []): string[] {
  return [
    ...previous,
    ...text
      .split(',')
      .map((v) => v.trim())
      .filter(Boolean),
  ];
}
