/**
 * Reading a file that may not be there: the model repository's optional files (a chosen version, a
 * rollout record, trust metadata, pinned root keys) are absent until somebody writes them, and absence is
 * an answer, not an error. Every other failure (permissions, a directory in its place) still throws.
 */
import { readFile } from 'node:fs/promises';

/** True for a file-system error that says the path does not exist. */
export function isNotFound(cause: unknown): boolean {
  return (cause as NodeJS.ErrnoException | null)?.code === 'ENOENT';
}

/** The file's UTF-8 text, or undefined when there is no such file. */
export async function readTextIfPresent(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (cause) {
    if (isNotFound(cause)) return undefined;
    throw cause;
  }
}
