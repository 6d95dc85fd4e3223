import type { ComponentChildren } from "preact";
import { useEffect, useState } from "preact/hooks";

/** Loads `load()` again whenever `deps` change; gives loading, error and data states. */
export function useData<T>(load: () => Promise<T>, deps: unknown[]) {
  const [state, setState] = useState<{ data?: T; error?: string; loading: boolean }>({ loading: true });
  const [version, setVersion] = useState(0);
  // The caller names what `load` depends on (deps), like useEffect itself.
  useEffect(() => {
    let live = true;
    setState((s) => ({ ...s, loading: true }));
    load().then(
      (data) => live && setState({ data, loading: false }),
      (e: unknown) => live && setState({ error: e instanceof Error ? e.message : String(e), loading: false }),
    );
    return () => {
      live = false;
    };
  }, [...deps, version]);
  return { ...state, reload: () => setVersion((v) => v + 1) };
}

/** Shows loading and error states around the page's content. */
export function Loaded<T>({
  state,
  children,
}: {
  state: { data?: T; error?: string; loading: boolean };
  children: (data: T) => ComponentChildren;
}) {
  if (state.error)
    return (
      <p role="alert" class="error">
        {state.error}
      </p>
    );
  if (state.data === undefined)
    return (
      <p class="loading" role="status">
        Loading…
      </p>
    );
  return <>{children(state.data)}</>;
}

/** A table that scrolls sideways on narrow screens, reachable with the keyboard. */
export function Table({ label, children }: { label: string; children: ComponentChildren }) {
  return (
    // A labelled section is a region; focusable so a keyboard can scroll it sideways.
    // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrollable region must be focusable to scroll by keyboard
    <section class="scroll" aria-label={label} tabIndex={0}>
      <table>
        <caption>{label}</caption>
        {children}
      </table>
    </section>
  );
}

export function Tiles({ items }: { items: [string, string, string?][] }) {
  return (
    <dl class="tiles">
      {items.map(([name, value, hint]) => (
        <div class="tile" key={name}>
          <dt>{name}</dt>
          <dd>
            {value}
            {hint ? <small>{hint}</small> : null}
          </dd>
        </div>
      ))}
    </dl>
  );
}

export const PERIODS: [string, string][] = [
  ["7", "Last 7 days"],
  ["30", "Last 30 days"],
  ["90", "Last 90 days"],
  ["", "All time"],
];

export function PeriodPicker({ value, onChange }: { value: string; onChange: (v: string) => void }) {
  return (
    <p class="period">
      <label for="period">Period</label>{" "}
      <select id="period" value={value} onChange={(e) => onChange((e.target as HTMLSelectElement).value)}>
        {PERIODS.map(([v, name]) => (
          <option key={v} value={v}>
            {name}
          </option>
        ))}
      </select>
    </p>
  );
}

export const periodQuery = (days: string) => (days ? `?days=${days}` : "");
