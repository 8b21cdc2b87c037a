/**
 * docs/operations.md names real things: npm scripts and their flags, `tandem` subcommands and their flags,
 * files of this repository, and the error codes of protocol/errors.ts with their statuses.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERROR_STATUS } from '../protocol/errors.ts';

const ROOT = join(import.meta.dirname, '..');
const doc = readFileSync(join(ROOT, 'docs', 'operations.md'), 'utf8');
const scripts = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
/** Shell lines of the doc, with backslash continuations joined. */
const lines = doc.replace(/\\\n\s*/g, ' ').split('\n');

describe('docs/operations.md', () => {
  it('lists every error code with its HTTP status, in the order of protocol/errors.ts', () => {
    const rows = [...doc.matchAll(/^\| `([a-z_]+)` \| (\d{3}) \|/gm)].map((m) => [m[1], Number(m[2])]);
    expect(rows).toEqual(Object.entries(ERROR_STATUS));
  });

  it('runs only npm scripts that exist, with flags they take', () => {
    const runs = lines.flatMap((l) => [...l.matchAll(/npm run ([\w:-]+)((?: -- [^`|;&]*)?)/g)]);
    expect(runs.length).toBeGreaterThan(8);
    for (const [, script = '', args = ''] of runs) {
      expect(Object.keys(scripts), script).toContain(script);
      const entry = /tsx (deploy\/[\w-]+\.ts)/.exec(scripts[script]!)?.[1];
      if (!entry) continue;
      const source = readFileSync(join(ROOT, entry), 'utf8');
      // Flags before a second `--` are the script's own; after it they go to wrangler.
      const own = args.split(/ -- /)[1] ?? '';
      for (const [flag] of own.matchAll(/--[a-z-]+/g)) expect(source, `${script} ${flag}`).toMatch(new RegExp(`'?${flag.slice(2)}'?: \\{ type:`));
    }
  });

  it('uses only tandem subcommands and flags that exist', () => {
    const cli = Object.fromEntries(
      readdirSync(join(ROOT, 'models', 'cli'))
        .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))
        .map((f) => readFileSync(join(ROOT, 'models', 'cli', f), 'utf8'))
        .flatMap((text) => [...text.matchAll(/\.command\('([\w-]+)'\)/g)].map((m) => [m[1]!, text])),
    );
    const uses = lines.flatMap((l) => [...l.matchAll(/npx tandem ([\w-]+)([^`|]*)/g)]);
    expect(uses.length).toBeGreaterThan(4);
    for (const [, command = '', rest = ''] of uses) {
      expect(Object.keys(cli), command).toContain(command);
      for (const [flag] of rest.matchAll(/--[a-z-]+/g)) expect(cli[command], `tandem ${command} ${flag}`).toContain(`'${flag}`);
    }
  });

  it('names files that exist', () => {
    const paths = [...doc.matchAll(/`((?:deploy|worker|origin|protocol|models|docs)\/[\w./-]+|Dockerfile|\.dockerignore|wrangler\.toml)`/g)].map((m) => m[1]!);
    expect(paths.length).toBeGreaterThan(10);
    for (const path of paths) {
      if (path.startsWith('models/repository')) continue; // built by `npx tandem build-models`
      expect(existsSync(join(ROOT, path)), path).toBe(true);
    }
  });

  it('is linked from the README', () => {
    expect(readFileSync(join(ROOT, 'README.md'), 'utf8')).toMatch(/\]\(docs\/operations\.md\)/);
  });
});
