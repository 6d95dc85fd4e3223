import { promisifyRequest, type UseStore } from "idb-keyval";

/**
 * A batch of events as stored and sent: its key (`<first messageId>.<event count>`), its events'
 * JSON, and the JSON of the context they share (sent once, as the batch's `context`). Stored whole
 * as one record (the key inside it too, so one read gets both). Records and spills of SDKs before
 * the shared context have no third item: their events carry their context each.
 */
export type Batch = [key: string, events: string[], context?: string];

/**
 * The persistent outbox: IndexedDB through idb-keyval, in Nudge's own database (never the
 * default store, which the merchant's code may use). Keys sort in the order events were made
 * (they start with a UUIDv7 message id), so the oldest go first. When IndexedDB is missing or
 * broken (private modes, old browsers, blocked storage) the queue falls back to memory.
 */
export interface Outbox {
  /** Writes (or overwrites: same key, same content) batches. */
  _put(batches: Batch[]): Promise<void>;
  /** The `n` oldest batches. */
  _take(n: number): Promise<Batch[]>;
  _remove(keys: string[]): Promise<void>;
  /** Every key, oldest first. */
  _keys(): Promise<string[]>;
}

export function memoryOutbox(): Outbox {
  const map = new Map<string, Batch>();
  const keys = async () => [...map.keys()].sort();
  return {
    _put: async (batches) => {
      for (const b of batches) map.set(b[0], b);
    },
    _take: async (n) => (await keys()).slice(0, n).map((k) => map.get(k) as Batch),
    _remove: async (keys) => {
      for (const k of keys) map.delete(k);
    },
    _keys: keys,
  };
}

/**
 * idb-keyval's `createStore(dbName, storeName)`, but writes use relaxed durability: the browser hands
 * the commit to the OS without waiting for a disk flush (~60 ms per transaction here). The data
 * still survives closed tabs and browser crashes, which is what the outbox is for; only a power
 * cut right after a write could lose it.
 */
function relaxedStore(dbName: string, storeName: string): UseStore {
  let dbp: Promise<IDBDatabase> | undefined;
  // Closed by the browser (storage cleared, for one) or failed to open: open again next time.
  const forget = () => {
    dbp = undefined;
  };
  const db = () => {
    if (!dbp) {
      const request = indexedDB.open(dbName);
      request.onupgradeneeded = () => request.result.createObjectStore(storeName);
      dbp = promisifyRequest(request);
      dbp.then((d) => {
        d.onclose = forget;
      }, forget);
    }
    return dbp;
  };
  return (mode, callback) =>
    db().then((d) => callback(d.transaction(storeName, mode, { durability: "relaxed" }).objectStore(storeName)));
}

export function idbOutbox(): Outbox {
  // Its own database, not the `nudge` one earlier builds kept a record per event in: those records
  // have another shape, and a version upgrade of a shared database would wait on every tab still
  // running an older SDK.
  const store = relaxedStore("nudge-outbox", "kv");
  return {
    // Not idb-keyval's setMany/delMany: their default-store parameter drags a second copy of
    // createStore into the bundle (~200 B gzip).
    _put: (batches) =>
      store("readwrite", (s) => {
        for (const b of batches) s.put(b, b[0]);
        return promisifyRequest(s.transaction);
      }),
    // Bounded, so a long offline backlog is read a few batches at a time rather than all at once
    // on the main thread.
    _take: (n) => store("readonly", (s) => promisifyRequest(s.getAll(null, n))),
    _remove: (keys) =>
      store("readwrite", (s) => {
        for (const k of keys) s.delete(k);
        return promisifyRequest(s.transaction);
      }),
    _keys: () => store("readonly", (s) => promisifyRequest(s.getAllKeys() as IDBRequest<string[]>)),
  };
}

/*
 * localStorage: first-party, synchronous, for the few ids that every event needs, and what a page
 * leaves for the next. Never throws. Plain functions rather than an object's methods: the
 * minifier names each in one letter at every call.
 */

export function localGet(key: string): string | null | undefined {
  try {
    return localStorage.getItem(key);
  } catch {
    // Storage disabled: as if nothing were stored.
  }
}

/** Without a value: removes the key. */
export function localSet(key: string, value?: string): void {
  try {
    if (value === undefined) localStorage.removeItem(key);
    else localStorage.setItem(key, value);
  } catch {
    // Storage disabled or full: the id lives for this page only.
  }
}

/**
 * Removes every entry whose key starts with `prefix` — what earlier pages left for the next one
 * — and returns them, parsed (an entry that does not parse is dropped).
 */
export function localTake(prefix: string): [string, unknown][] {
  const out: [string, unknown][] = [];
  try {
    for (const key of Object.keys(localStorage))
      if (key.startsWith(prefix)) {
        try {
          out.push([key, JSON.parse(localStorage.getItem(key) as string)]);
        } catch {}
        localStorage.removeItem(key);
      }
  } catch {
    // Storage disabled: nothing was left.
  }
  return out;
}
