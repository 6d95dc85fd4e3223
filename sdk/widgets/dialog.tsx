import type { ComponentChildren } from "preact";
import { useLayoutEffect, useRef } from "preact/hooks";

const FOCUSABLE = "button,[href],input,select,textarea,[tabindex]:not([tabindex='-1'])";

/**
 * A modal dialog by the WAI-ARIA pattern: labelled by its heading, described by its first
 * paragraph, focus moved in on open, kept in with Tab/Shift+Tab, Escape and the backdrop close it,
 * and focus goes back where it was (the launcher, or the page) on close.
 */
export function Dialog(props: {
  id: string;
  label: string;
  close: () => void;
  closeLabel: string;
  children: ComponentChildren;
}) {
  const ref = useRef<HTMLDivElement>(null);
  useLayoutEffect(() => {
    const before = document.activeElement as HTMLElement | null;
    const first = ref.current?.querySelector<HTMLElement>("input,select,output+button,.primary") ?? ref.current;
    first?.focus();
    return () => before?.isConnected && before.focus();
  }, []);

  const onKey = (e: KeyboardEvent) => {
    if (e.key === "Escape") {
      e.stopPropagation();
      props.close();
    }
    if (e.key !== "Tab" || !ref.current) return;
    const items = [...ref.current.querySelectorAll<HTMLElement>(FOCUSABLE)].filter(
      (el) => !el.hasAttribute("disabled"),
    );
    const root = ref.current.getRootNode() as ShadowRoot;
    const i = items.indexOf(root.activeElement as HTMLElement);
    const next = e.shiftKey ? (i <= 0 ? items.length - 1 : i - 1) : i === items.length - 1 ? 0 : i + 1;
    e.preventDefault();
    items[next]?.focus();
  };

  return (
    // biome-ignore lint/a11y/noStaticElementInteractions: a mouse shortcut; Escape and the close button are the keyboard way
    // biome-ignore lint/a11y/useKeyWithClickEvents: as above
    <div class="backdrop" onClick={(e) => e.target === e.currentTarget && props.close()}>
      <div
        ref={ref}
        class="dialog"
        role="dialog"
        aria-modal="true"
        aria-labelledby={`${props.id}-title`}
        aria-describedby={`${props.id}-desc`}
        tabIndex={-1}
        onKeyDown={onKey}
      >
        <button type="button" class="close" aria-label={props.closeLabel} onClick={props.close}>
          <span aria-hidden="true">×</span>
        </button>
        <h2 id={`${props.id}-title`}>{props.label}</h2>
        {props.children}
      </div>
    </div>
  );
}
