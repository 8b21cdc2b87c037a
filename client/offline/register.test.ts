import { afterEach, describe, expect, it, vi } from 'vitest';
import { registerOfflineShell } from './register.ts';

/** A page as far as registerOfflineShell sees it: its load state and navigator.serviceWorker.register. */
function stubPage(readyState: DocumentReadyState, withServiceWorker = true) {
  const register = vi.fn(async (url: string | URL, options: RegistrationOptions) => ({ url: String(url), options }));
  const listeners: (() => void)[] = [];
  const document = { readyState };
  vi.stubGlobal('document', document);
  vi.stubGlobal('window', { addEventListener: (type: string, listener: () => void) => type === 'load' && listeners.push(listener) });
  vi.stubGlobal('navigator', withServiceWorker ? { serviceWorker: { register } } : {});
  const load = () => {
    document.readyState = 'complete';
    for (const listener of listeners.splice(0)) listener();
  };
  return { register, load };
}

afterEach(() => {
  vi.unstubAllGlobals();
});

describe('registerOfflineShell', () => {
  it('registers /sw.js, bypassing the HTTP cache for it, once the page has loaded', async () => {
    const { register, load } = stubPage('interactive');
    const registering = registerOfflineShell();
    await Promise.resolve();
    expect(register).not.toHaveBeenCalled();
    load();
    expect(await registering).toEqual({ url: '/sw.js', options: { updateViaCache: 'none' } });
  });

  it('registers at once on a loaded page, with the given url and scope', async () => {
    const { register } = stubPage('complete');
    await registerOfflineShell({ url: '/app/shell.js', scope: '/app/' });
    expect(register).toHaveBeenCalledWith('/app/shell.js', { scope: '/app/', updateViaCache: 'none' });
  });

  it('resolves with undefined where the browser has no service workers', async () => {
    stubPage('complete', false);
    expect(await registerOfflineShell()).toBeUndefined();
  });

  it("rejects as the browser's register does (a missing script)", async () => {
    const { register } = stubPage('complete');
    register.mockRejectedValueOnce(new TypeError('Failed to register a ServiceWorker: A bad HTTP response code (404)'));
    await expect(registerOfflineShell()).rejects.toThrow(/404/);
  });
});
