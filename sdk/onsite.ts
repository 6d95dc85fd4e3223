import type { Host } from "./triggers/types";

/**
 * The only onsite code in the core (a few hundred bytes): ask the Worker which widgets are live
 * and, if any are, load the onsite chunk that arms their triggers. Everything else — triggers,
 * preact, the widgets — loads later and only on sites that use it. The chunks sit next to the SDK
 * on the Worker (`/sdk/onsite.js`, `/sdk/widgets.js`). The config answer carries an ETag, so the
 * browser revalidates it for a few bytes.
 */
export const onsiteChunk = { load: (url: string) => import(/* @vite-ignore */ /* webpackIgnore: true */ url) };

export function startOnsite(host: Host, onError: (e: unknown) => void): void {
  fetch(`${host.endpoint}/v1/sdk/config?key=${encodeURIComponent(host.key)}`)
    .then((r) => r.ok && r.json())
    .then(
      (config) =>
        config?.widgets?.length &&
        onsiteChunk.load(`${host.endpoint}/sdk/onsite.js`).then((m) => m.start(config, host)),
    )
    .catch(onError);
}
