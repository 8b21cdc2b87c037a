/**
 * docs/operations.md names real things: npm scripts and their flags, `tandem` subcommands and their flags,
 * files of this repository, and the error codes of protocol/errors.ts with their statuses and retry column.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fileURLToPath } from 'node:url';
import { ERRORS } from '../protocol/errors.ts';
import { COMMANDS } from '../stack/cli/commands.mjs';

const ROOT = join(import.meta.dirname, '..');
const doc = readFileSync(join(ROOT, 'docs', 'operations.md'), 'utf8');
const scripts = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
/** Shell lines of the doc, with backslash continuations joined. */
const lines = doc.replace(/\\\n\s*/g, ' ').split('\n');

describe('docs/operations.md', () => {
  it('lists every error code with its HTTP status and retry column, in the order of protocol/errors.ts', () => {
    const rows = [...doc.matchAll(/^\| `([a-z_]+)` \| (\d{3}) \| (yes|no) \|/gm)].map((m) => [m[1], Number(m[2]), m[3] === 'yes']);
    expect(rows).toEqual(Object.entries(ERRORS).map(([code, { status, retryable }]) => [code, status, retryable]));
  });

  it('runs only npm scripts that exist, with flags they take', () => {
    for (const [, script = ''] of lines.flatMap((l) => [...l.matchAll(/npm run ([\w:-]+)/g)])) {
      expect(Object.keys(scripts), script).toContain(script);
    }
  });

  it('uses only tandem subcommands and flags that exist', () => {
    // A command's source: its module, and the deploy/ module it hands its flags to, if any.
    const cli = Object.fromEntries(
      COMMANDS.map(({ name, module }) => {
        const path = fileURLToPath(module);
        const text = readFileSync(path, 'utf8');
        const delegate = /import\('(\.\.\/\.\.\/deploy\/[\w-]+\.ts)'\)/.exec(text)?.[1];
        return [name, delegate ? text + readFileSync(join(path, '..', delegate), 'utf8') : text];
      }),
    );
    const uses = lines.flatMap((l) => [...l.matchAll(/npx tandem ([\w-]+)([^`|]*)/g)]);
    expect(uses.length).toBeGreaterThan(8);
    for (const [, command = '', rest = ''] of uses) {
      expect(Object.keys(cli), command).toContain(command);
      // Flags after a second `--` go to wrangler.
      const own = rest.split(/ -- /)[0] ?? '';
      for (const [flag] of own.matchAll(/--[a-z-]+/g)) {
        expect(cli[command], `tandem ${command} ${flag}`).toMatch(new RegExp(`'${flag}|'?${flag.slice(2)}'?: \\{ type:`));
      }
    }
  });

  it('names files that exist', () => {
    const paths = [...doc.matchAll(/`((?:deploy|worker|origin|protocol|models|stack|e2e|docs)\/[\w./-]+|Dockerfile|\.dockerignore|wrangler\.toml)`/g)].map(
      (m) => m[1]!,
    );
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
