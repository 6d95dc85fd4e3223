import { createStore, delMany, promisifyRequest, setMany } from "idb-keyval";

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

export function idbOutbox<T>(): Outbox<T> {
  const store = createStore("nudge", "kv");
  return {
    _put: (items) => setMany(items, store),
    // One read transaction for keys and values, so they line up; bounded so a long offline
    // backlog is read a batch at a time rather than all at once on the main thread.
    _take: (n) =>
      store("readonly", (s) =>
        Promise.all([promisifyRequest(s.getAllKeys(null, n)), promisifyRequest(s.getAll(null, n))]),
      ).then(([keys, values]) => keys.map((k, i) => [k as string, values[i] as T])),
    _remove: (keys) => delMany(keys, store),
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
