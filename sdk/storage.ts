import { promisifyRequest, type UseStore } from "idb-keyval";

/**
 * The persistent outbox: IndexedDB through idb-keyval, in Nudge's own database (never the
 * default store, which the merchant's code may use). Keys sort in the order events were made
 * (they are UUIDv7 message ids), so the oldest go first. When IndexedDB is missing or broken
 * (private modes, old browsers, blocked storage) the queue falls back to memory.
 */
export interface Outbox<T> {
  /** Writes (or overwrites: same key, same event) entries. */
  _put(items: [string, T][]): Promise<void>;
  /** The `n` oldest entries. */
  _take(n: number): Promise<[string, T][]>;
  _remove(keys: string[]): Promise<void>;
  _count(): Promise<number>;
}

export function memoryOutbox<T>(): Outbox<T> {
  const map = new Map<string, T>();
  return {
    _put: async (items) => {
      for (const [k, v] of items) map.set(k, v);
    },
    _take: async (n) => [...map].sort((a, b) => (a[0] < b[0] ? -1 : 1)).slice(0, n),
    _remove: async (keys) => {
      for (const k of keys) map.delete(k);
    },
    _count: async () => map.size,
  };
}

/**
 * idb-keyval's `createStore("nudge", "kv")`, but writes use relaxed durability: the browser hands
 * the commit to the OS without waiting for a disk flush (~60 ms per transaction here). The data
 * still survives closed tabs and browser crashes, which is what the outbox is for; only a power
 * cut right after a write could lose it.
 */
function relaxedStore(dbName: string, storeName: string): UseStore {
  let dbp: Promise<IDBDatabase> | undefined;
  const db = () => {
    if (!dbp) {
      const request = indexedDB.open(dbName);
      request.onupgradeneeded = () => request.result.createObjectStore(storeName);
      dbp = promisifyRequest(request);
      dbp.then(
        (d) => {
          d.onclose = () => {
            dbp = undefined;
          };
        },
        () => {
          dbp = undefined;
        },
      );
    }
    return dbp;
  };
  return (mode, callback) =>
    db().then((d) => callback(d.transaction(storeName, mode, { durability: "relaxed" }).objectStore(storeName)));
}

export function idbOutbox<T>(): Outbox<T> {
  const store = relaxedStore("nudge", "kv");
  return {
    // Not idb-keyval's setMany/delMany: their default-store parameter drags a second copy of
    // createStore into the bundle (~200 B gzip).
    _put: (items) =>
      store("readwrite", (s) => {
        for (const [k, v] of items) s.put(v, k);
        return promisifyRequest(s.transaction);
      }),
    // One read transaction for keys and values, so they line up; bounded so a long offline
    // backlog is read a batch at a time rather than all at once on the main thread.
    _take: (n) =>
      store("readonly", (s) =>
        Promise.all([promisifyRequest(s.getAllKeys(null, n)), promisifyRequest(s.getAll(null, n))]),
      ).then(([keys, values]) => keys.map((k, i) => [k as string, values[i] as T])),
    _remove: (keys) =>
      store("readwrite", (s) => {
        for (const k of keys) s.delete(k);
        return promisifyRequest(s.transaction);
      }),
    _count: () => store("readonly", (s) => promisifyRequest(s.count())),
  };
}

/** First-party, synchronous, for the few ids that every event needs. Never throws. */
export const local = {
  _get(key: string): string | null {
    try {
      return localStorage.getItem(key);
    } catch {
      return null;
    }
  },
  _set(key: string, value: string | null): void {
    try {
      if (value === null) localStorage.removeItem(key);
      else localStorage.setItem(key, value);
    } catch {
      // Storage disabled or full: the id lives for this page only.
    }
  },
};
