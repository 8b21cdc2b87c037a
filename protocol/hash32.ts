/**
 * A fast, stable 32-bit string hash: FNV-1a with murmur3's finaliser, so nearby strings ("client-1",
 * "client-2") spread evenly. Not a security hash. The edge buckets canary clients with it and the model
 * builder derives seeds with it, so its output must never change (model bytes depend on it).
 */
export function hash32(text: string, salt = 0): number {
  let h = (0x811c9dc5 ^ salt) >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
