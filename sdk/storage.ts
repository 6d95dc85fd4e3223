import { createStore, delMany, entries, setMany } from "idb-keyval";

/**
 * The persistent outbox: IndexedDB through idb-keyval, in Nudge's own database (never the
 * default store, which the merchant's code may use). When IndexedDB is missing or broken
 * (private modes, old browsers, blocked storage) it falls back to memory: events then survive
 * offline periods but not reloads.
 */
export interface Outbox<T> {
  _put(items: [string, T][]): Promise<void>;
  _all(): Promise<[string, T][]>;
  _remove(keys: string[]): Promise<void>;
}

export function memoryOutbox<T>(): Outbox<T> {
  const map = new Map<string, T>();
  return {
    _put: async (items) => {
      for (const [k, v] of items) map.set(k, v);
    },
    _all: async () => [...map],
    _remove: async (keys) => {
      for (const k of keys) map.delete(k);
    },
  };
}

export function idbOutbox<T>(): Outbox<T> {
  const store = createStore("nudge", "kv");
  return {
    _put: (items) => setMany(items, store),
    _all: () => entries<string, T>(store),
    _remove: (keys) => delMany(keys, store),
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
