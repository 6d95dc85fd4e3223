import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import nodeResolve from "@rollup/plugin-node-resolve";
import type { Plugin, RollupOptions } from "rollup";
import { minify, ts } from "../rollup.config";
import { readStub, snippetTag } from "../sdk/scripts/snippet";
import { renderPage, SHOP_PAGES } from "./pages";

/**
 * Builds the demo store into dist/demo, after the product (rollup.config.ts; `npm run build` runs
 * both): the shop's scripts, its pages with the snippet pasted in as a merchant would paste it,
 * and copies of the SDK and the dashboard, which the demo's Worker serves from the same assets.
 */

const out = "dist/demo";

/** The demo's snippet: the SDK from the shop's own origin (the Worker serves both), the demo key. */
const DEMO_SNIPPET = { sdk: "/sdk/nudge.js", key: "pk_demo" };

function demoAssets(): Plugin {
  return {
    name: "demo-assets",
    writeBundle() {
      cpSync("demo-store/public", out, { recursive: true });
      const layout = readFileSync("demo-store/layout.html", "utf8").replace(
        "<!-- NUDGE_SNIPPET -->",
        snippetTag(readStub(), DEMO_SNIPPET),
      );
      for (const page of SHOP_PAGES) writeFileSync(join(out, page.file), renderPage(layout, page));
      mkdirSync(join(out, "sdk"), { recursive: true });
      for (const file of ["nudge.js", "onsite.js", "widgets.js"])
        cpSync(`dist/cdn/sdk/${file}`, join(out, "sdk", file));
      // The dashboard: app.js, its styles and the editors' chunks.
      rmSync(join(out, "admin"), { recursive: true, force: true });
      cpSync("dist/cdn/admin", join(out, "admin"), { recursive: true });
    },
  };
}

const config: RollupOptions = {
  input: {
    store: "demo-store/src/store.ts",
    mailbox: "demo-store/src/mailbox.ts",
    devpanel: "demo-store/src/devpanel.ts",
  },
  output: { dir: out, format: "es" },
  plugins: [nodeResolve(), ts(), minify(), demoAssets()],
};

export default config;
