import { join } from 'node:path';
import { mkdir, writeFile } from 'node:fs/promises';
import { getPlatformProxy, unstable_readConfig } from 'wrangler';
import { WRANGLER_CONFIG } from '../../stack/seed-r2.ts';
export async function seedObjects(persistTo: string, objects: { key: string; body: Uint8Array | string }[]) {
  const config = unstable_readConfig({ config: WRANGLER_CONFIG }, { hideWarnings: true });
  const path = join(persistTo, 'seed2.wrangler.json');
  await mkdir(persistTo, { recursive: true });
  await writeFile(path, JSON.stringify({ name: config.name, compatibility_date: config.compatibility_date, r2_buckets: config.r2_buckets }));
  const proxy = await getPlatformProxy<{ MODELS: { put(k: string, b: unknown): Promise<unknown> } }>({ configPath: path, persist: { path: join(persistTo, 'v3') }, envFiles: [], remoteBindings: false });
  try { for (const o of objects) await proxy.env.MODELS.put(o.key, o.body); } finally { await proxy.dispose(); }
}
