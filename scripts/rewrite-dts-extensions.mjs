#!/usr/bin/env node
// Rewrites relative `.ts` import specifiers in emitted declaration files to `.js`, the form published
// ESM types use: TypeScript keeps `./x.ts` in .d.ts output even with rewriteRelativeImportExtensions,
// which only rewrites JavaScript. Usage: node scripts/rewrite-dts-extensions.mjs <folder>
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

const root = process.argv[2];
if (!root) {
  process.stderr.write('usage: rewrite-dts-extensions.mjs <folder>\n');
  process.exit(2);
}

/** @param {string} dir @returns {AsyncGenerator<string>} */
async function* declarationFiles(dir) {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* declarationFiles(path);
    else if (entry.name.endsWith('.d.ts')) yield path;
  }
}

let changed = 0;
for await (const file of declarationFiles(root)) {
  const text = await readFile(file, 'utf8');
  const rewritten = text.replace(/(from\s+|import\s*\(\s*)(['"])(\.{1,2}\/[^'"]+)\.ts\2/g, '$1$2$3.js$2');
  if (rewritten !== text) {
    await writeFile(file, rewritten);
    changed++;
  }
}
process.stdout.write(`rewrote .ts specifiers to .js in ${changed} declaration files under ${root}\n`);
