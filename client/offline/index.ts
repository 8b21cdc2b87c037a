/** `@tandem-ml/client/offline`: the offline app shell's one call. */
export { type OfflineShellOptions, registerOfflineShell } from './register.ts';
