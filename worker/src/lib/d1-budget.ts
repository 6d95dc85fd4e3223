/**
 * Counts the D1 calls made through a database handle. A Worker invocation may make about 1 000
 * (D1's per-invocation query limit on the paid plan); the sweep stops claiming before it runs out,
 * so a long send finishes its round instead of failing mid-way. A `batch` is one call; so is each
 * `first`/`run`/`all`/`raw` of a statement.
 */
export interface Counted {
  db: D1Database;
  calls: () => number;
}

const REAL = Symbol("real statement");

/** The statement a proxy stands for: D1's batch wants its own objects. */
const unwrap = (s: D1PreparedStatement): D1PreparedStatement =>
  (s as unknown as Record<symbol, D1PreparedStatement | undefined>)[REAL] ?? s;

export function countCalls(db: D1Database): Counted {
  let calls = 0;
  const statement = (s: D1PreparedStatement): D1PreparedStatement =>
    new Proxy(s, {
      get(target, prop) {
        if (prop === REAL) return target;
        const v = Reflect.get(target, prop, target);
        if (typeof v !== "function") return v;
        if (prop === "bind") return (...args: unknown[]) => statement(v.apply(target, args));
        if (prop === "first" || prop === "run" || prop === "all" || prop === "raw")
          return (...args: unknown[]) => {
            calls++;
            return v.apply(target, args);
          };
        return v.bind(target);
      },
    });
  const counted = new Proxy(db, {
    get(target, prop) {
      const v = Reflect.get(target, prop, target);
      if (typeof v !== "function") return v;
      if (prop === "prepare") return (sql: string) => statement(target.prepare(sql));
      if (prop === "batch" || prop === "exec")
        return (...args: unknown[]) => {
          calls++;
          // Statements inside a batch were prepared through this proxy: hand D1 the real ones.
          const list = prop === "batch" ? (args[0] as D1PreparedStatement[]).map(unwrap) : args[0];
          return v.call(target, list, ...args.slice(1));
        };
      return v.bind(target);
    },
  });
  return { db: counted, calls: () => calls };
}
