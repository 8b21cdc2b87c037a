/**
 * How every signed document (manifest, root, timestamp record, rollout record) is read once its DSSE
 * signatures verify: the payload as strict UTF-8 JSON, then its schema, each failure `manifest_invalid`
 * (signed, but not a valid document) with a message naming the document and every problem.
 */
import { TandemError } from './errors.ts';

const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/** What is read of a zod schema's verdict (zod/mini's `safeParse`). */
export interface DocumentSchema<T> {
  safeParse(value: unknown): { success: true; data: T } | { success: false; error: { issues: readonly { path: readonly PropertyKey[]; message: string }[] } };
}

/**
 * @param what the document, as messages name it: "manifest", "root", "timestamp", "rollout".
 * @throws TandemError `manifest_invalid` when the payload is not UTF-8 JSON.
 */
export function payloadJson(payload: Uint8Array, what: string): unknown {
  try {
    return JSON.parse(decoder.decode(payload));
  } catch (cause) {
    throw new TandemError('manifest_invalid', `signed ${what} payload is not UTF-8 JSON`, { cause });
  }
}

/**
 * @param what the document, as messages name it: "root document", "timestamp record", "rollout record".
 * @throws TandemError `manifest_invalid` naming every problem: `invalid <what>: path: message; ...`.
 */
export function parseDocument<T>(schema: DocumentSchema<T>, value: unknown, what: string): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw new TandemError(
    'manifest_invalid',
    `invalid ${what}: ${result.error.issues.map((i) => `${i.path.map(String).join('.') || '(root)'}: ${i.message}`).join('; ')}`,
  );
}
