/**
 * docs/security.md names real things: `tandem` commands, subcommands and flags as commander defines them
 * (each command's module registered on a fresh program), R2 buckets of wrangler.toml, files of this
 * repository, error codes of protocol/errors.ts, the edge's tuning fields and the origin's variables.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { ERRORS } from '../protocol/errors.ts';
import { DEFAULT_TUNING } from '../worker/config.ts';
import { COMMANDS, createProgram } from '../stack/cli/commands.mjs';
import { readEnvironment, environmentNames } from './deploy-edge.ts';

const ROOT = join(import.meta.dirname, '..');
const doc = readFileSync(join(ROOT, 'docs', 'security.md'), 'utf8');
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');

async function commandFor(name: string): Promise<Command> {
  const entry = COMMANDS.find((c) => c.name === name);
  expect(entry, `tandem ${name}`).toBeDefined();
  const program = createProgram();
  ((await import(entry!.module)) as { register(p: Command): void }).register(program);
  return program.commands.find((c) => c.name() === name)!;
}

describe('docs/security.md', () => {
  it('runs only tandem commands, subcommands and flags that exist', async () => {
    const uses = [...doc.matchAll(/npx tandem ([\w-]+)([^`\n|]*)/g)];
    expect(uses.length).toBeGreaterThan(15);
    for (const [line, name = '', rest = ''] of uses) {
      let command = await commandFor(name);
      const sub = /^\s+([a-z][\w-]*)/.exec(rest)?.[1];
      const child = sub === undefined ? undefined : command.commands.find((c) => c.name() === sub);
      if (command.commands.length > 0) {
        expect(child, `${line}: a subcommand of tandem ${name}`).toBeDefined();
        command = child!;
      }
      const flags = command.options.map((o) => o.long);
      for (const [flag] of rest.matchAll(/--[a-z][a-z-]*/g)) expect(flags, `${line}: ${flag}`).toContain(flag);
    }
  });

  it('uploads only to the R2 buckets of wrangler.toml, under the keys the edge reads', () => {
    const buckets = environmentNames().map((env) => readEnvironment(env).r2Buckets.find((b) => b.binding === 'MODELS')?.bucket_name);
    const puts = [...doc.matchAll(/npx wrangler r2 object put ([\w-]+)\/(\S+) --file (\S+) --remote/g)];
    expect(puts.length).toBeGreaterThan(2);
    for (const [, bucket, key, file] of puts) {
      expect(buckets).toContain(bucket);
      expect(key).toMatch(/^_trust\/(root\/\d+\.dsse\.json|timestamp\.dsse\.json)$/);
      expect(file).toBe(`models/repository/${key}`);
    }
  });

  it('names error codes that exist, and log fields, tuning and variables the code uses', () => {
    const sources = ['origin/server.ts', 'origin/trust/repository-trust.ts', 'worker/storage/trust-metadata.ts', 'origin/config.ts'].map(read).join('\n');
    for (const [, token = ''] of doc.matchAll(/`([a-z]+(?:_[a-z]+)+)`/g)) {
      expect(Object.hasOwn(ERRORS, token) || sources.includes(token), token).toBe(true);
    }
    for (const [, field = ''] of doc.matchAll(/`(trust[A-Z]\w+)`/g)) expect(Object.keys(DEFAULT_TUNING), field).toContain(field);
    for (const [, name = ''] of doc.matchAll(/`(TANDEM_[A-Z_]+)`/g)) expect(read('origin/config.ts'), name).toContain(name);
  });

  it('names files that exist', () => {
    const paths = [...doc.matchAll(/`((?:deploy|worker|origin|protocol|models|stack|docs)\/[\w./-]+|wrangler\.toml)`/g)].map((m) => m[1]!);
    expect(paths.length).toBeGreaterThan(5);
    for (const path of paths) expect(existsSync(join(ROOT, path)), path).toBe(true);
  });

  it("is linked from the README's Signatures section", () => {
    const readme = read('README.md');
    const section = readme.slice(readme.indexOf('## Signatures and keys'), readme.indexOf('## Inference wire format'));
    expect(section).toMatch(/\]\(docs\/security\.md\)/);
  });
});
