/**
 * A promise a test settles: `held` waits until `release()`.
 * @example
 * const { held, release } = gate();
 * const create = async () => { await held; return session; }; // Held until the test calls release().
 */
export function gate(): { held: Promise<void>; release: () => void } {
  let release = () => {};
  const held = new Promise<void>((resolve) => (release = resolve));
  return { held, release };
}
