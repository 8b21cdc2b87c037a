import type { Browser, BrowserContext } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';
import { launchChromium } from './browser.ts';
import { startE2eStack, type E2eStack, type E2eStackOptions } from './stack.ts';

export interface E2eSession {
  readonly env: E2eStack;
  readonly browser: Browser;
  /** A fresh profile per test: empty IndexedDB, empty HTTP cache. */
  readonly context: BrowserContext;
}

/** Registers the hooks an end-to-end file needs: one stack and one Chromium per file, a context per test. */
export function useE2eSession(options: E2eStackOptions = {}): E2eSession {
  const session = {} as { env: E2eStack; browser: Browser; context: BrowserContext };
  beforeAll(async () => {
    [session.env, session.browser] = await Promise.all([startE2eStack((line) => console.log(line), options), launchChromium()]);
  });
  afterAll(async () => {
    await session.browser?.close();
    await session.env?.stop();
  });
  beforeEach(async () => {
    session.context = await session.browser.newContext();
  });
  afterEach(async () => {
    await session.context?.close();
  });
  return session;
}
