import type { Page } from 'playwright-core';

/** The keys of one IndexedDB object store in the page's origin ([] when the store does not exist). */
export function indexedDbKeys(page: Page, db: string, store: string): Promise<string[]> {
  return page.evaluate(
    async ([dbName, storeName]) => {
      // Opening a database that does not exist would create it empty, and the SDK's store would then
      // find it without its object store: look, don't touch.
      if (!(await indexedDB.databases()).some((d) => d.name === dbName)) return [];
      return new Promise<string[]>((resolve, reject) => {
        const open = indexedDB.open(dbName!);
        open.onerror = () => reject(open.error);
        open.onsuccess = () => {
          const handle = open.result;
          if (!handle.objectStoreNames.contains(storeName!)) {
            handle.close();
            return resolve([]);
          }
          const request = handle.transaction(storeName!, 'readonly').objectStore(storeName!).getAllKeys();
          request.onsuccess = () => {
            handle.close();
            resolve(request.result.map(String));
          };
          request.onerror = () => reject(request.error);
        };
      });
    },
    [db, store],
  );
}
