/**
 * Corrupted artifact: the bytes stored in R2 under an artifact's hash were swapped. The edge must never
 * serve them as a success (a whole download is cut short of its Content-Length, then refused with 422
 * `artifact_hash_mismatch`; a Range is refused before any byte) nor cache them; once an operator puts the
 * right bytes back, the very next download must get them (swapped bytes in a cache would still be served).
 */
import { createHash } from 'node:crypto';
import { newResult, judge, sample, type ScenarioResult } from './report.ts';
import { KEYS, type RedteamStack } from './stack.ts';
import { artifactObjectKey } from '../../worker/storage/layout.ts';
import { describe } from './fuzz.ts';
import { send } from './http.ts';

const hash = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

export async function corruptedArtifact(stack: RedteamStack, rounds: number): Promise<ScenarioResult> {
  const result = newResult('corrupted artifact');
  const expected = new Map<string, number>();
  const crashedBefore = stack.crashes.length;
  result.rss.before = stack.rss();
  const { sha256, bytes } = stack.corrupt;
  const url = `${stack.edge.url}/v1/artifacts/${sha256}`;
  let cutShort = 0;
  let refused = 0;

  /** One download of the swapped bytes: anything but a complete 200 of the right bytes is fine; a complete 200 is not. */
  const attack = async (headers: Record<string, string>) => {
    result.tried++;
    try {
      const res = await send(url, { method: 'GET', headers });
      if (!res.complete) {
        cutShort++; // Headers went out before the last byte was hashed: the body failed short of its length.
        return;
      }
      if (res.status < 300) {
        result.wrong++;
        sample(result, `swapped bytes served as HTTP ${res.status} (${res.body.length} bytes, ${hash(res.body) === sha256 ? 'right' : 'WRONG'} hash)`);
        return;
      }
      const judged = judge(result, 'swapped artifact', 'GET', res.status, res.body.toString('utf8'), new Set(), expected);
      if (judged.code === 'artifact_hash_mismatch') refused++;
      else {
        result.wrong++;
        sample(result, `swapped artifact: HTTP ${res.status} ${judged.code ?? ''}`);
      }
    } catch (err) {
      result.lost++;
      sample(result, `swapped artifact: no answer: ${describe(err)}`);
    }
  };

  for (let i = 0; i < rounds; i++) {
    await attack({});
    await attack({ range: 'bytes=0-1023' });
    await attack({ range: `bytes=${bytes.length - 200}-` });
  }
  const status = JSON.parse(
    (await send(`${stack.edge.url}/v1/edge/status`, { method: 'GET', headers: { authorization: `Bearer ${KEYS.admin}` } })).body.toString('utf8'),
  ) as {
    refused?: { key: string }[];
  };
  const shown = status.refused?.some((r) => r.key === artifactObjectKey(sha256)) ?? false;
  if (!shown) result.missed.push('the swapped artifact is not on /v1/edge/status');

  // Repaired: the right bytes are served at once, whole and by Range.
  await stack.putObject(artifactObjectKey(sha256), bytes);
  for (let i = 0; i < 3; i++) {
    result.tried += 2;
    try {
      const whole = await send(url, { method: 'GET' });
      if (whole.status !== 200 || !whole.complete || hash(whole.body) !== sha256) {
        result.wrong++;
        sample(result, `after repair: HTTP ${whole.status}, ${whole.body.length} bytes, ${hash(whole.body) === sha256 ? 'right' : 'wrong'} hash`);
      }
      const part = await send(url, { method: 'GET', headers: { range: 'bytes=100-199' } });
      if (part.status !== 206 || Buffer.compare(part.body, bytes.subarray(100, 200)) !== 0) {
        result.wrong++;
        sample(result, `after repair, Range: HTTP ${part.status}`);
      }
    } catch (err) {
      result.lost++;
      sample(result, `after repair: no answer: ${describe(err)}`);
    }
  }
  result.crashes = stack.crashes.length - crashedBefore;
  result.rss.after = stack.rss();
  result.figures = { cutShort, refused };
  result.notes.push(
    `swapped bytes: ${cutShort} downloads cut short of their length, ${refused} refused with 422 artifact_hash_mismatch, 0 served; after repair the right bytes at once${shown ? '; listed on /v1/edge/status' : ''}`,
  );
  return result;
}
