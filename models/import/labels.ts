/**
 * `--labels FILE`: a classifier's class names, for the manifest's `classLabels`. The file is one label per
 * line, or a JSON array of strings; the count is checked against the outputs' fixed last dimensions, so a
 * labels file for another model is caught at import rather than read as wrong answers later.
 */
import { readFile } from 'node:fs/promises';
import { TandemError } from '../../protocol/errors.ts';
import type { TensorSpec } from '../../protocol/manifest.ts';

/**
 * @throws TandemError `bad_request` for a file that is empty, a JSON array of non-strings, or a text file
 * with a blank line between labels.
 */
export function parseLabels(text: string, file: string): string[] {
  const body = text.replace(/^\uFEFF/, '');
  if (body.trimStart().startsWith('[')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch (cause) {
      throw new TandemError('bad_request', `--labels ${file}: starts with "[" but is not a JSON array (${(cause as Error).message})`, { cause });
    }
    if (!Array.isArray(parsed) || !parsed.every((l) => typeof l === 'string')) {
      throw new TandemError('bad_request', `--labels ${file}: a JSON labels file must be an array of strings`);
    }
    if (parsed.length === 0) throw new TandemError('bad_request', `--labels ${file}: the array is empty`);
    return parsed;
  }
  const lines = body.split(/\r?\n/);
  while (lines.length > 0 && lines.at(-1)!.trim() === '') lines.pop();
  if (lines.length === 0) throw new TandemError('bad_request', `--labels ${file}: the file is empty; write one label per line, or a JSON array`);
  const blank = lines.findIndex((l) => l.trim() === '');
  if (blank >= 0) throw new TandemError('bad_request', `--labels ${file}: line ${blank + 1} is blank; every line is one label`);
  return lines.map((l) => l.trim());
}

export async function readLabels(file: string): Promise<string[]> {
  return parseLabels(await readFile(file, 'utf8'), file);
}

/**
 * @throws TandemError `bad_request` when some output has a fixed last dimension and none equals the number
 * of labels.
 */
export function checkLabelCount(labels: readonly string[], outputs: readonly TensorSpec[]): void {
  const fixed = outputs.map((o) => o.shape.at(-1)).filter((d): d is number => typeof d === 'number');
  if (fixed.length === 0 || fixed.includes(labels.length)) return;
  const described = outputs.map((o) => `"${o.name}" [${o.shape.join(', ')}]`).join(', ');
  throw new TandemError(
    'bad_request',
    `--labels: ${labels.length} labels, but no output's last dimension is ${labels.length} (outputs: ${described}); is this the labels file of another model?`,
  );
}
