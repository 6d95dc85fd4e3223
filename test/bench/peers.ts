import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * The peer SDKs that only the benchmark loads, at pinned versions. They are not dependencies of the
 * project — every `npm ci` would install them (posthog-js alone pulls in core-js and a dozen
 * more) for a measurement run by hand — so the bench installs them on first use into a scratch
 * folder outside the repository, one per set of versions, and loads them from there.
 * (@segment/analytics-next stays a dev dependency: the end-to-end tests load it too.)
 */
export const PEERS: Record<string, string> = {
  "posthog-js": "1.449.2",
  "@plausible-analytics/tracker": "0.4.6",
  "@snowplow/browser-tracker": "4.10.1",
};

const installedVersion = (modules: string, name: string) => {
  try {
    return (JSON.parse(readFileSync(join(modules, name, "package.json"), "utf8")) as { version?: string }).version;
  } catch {
    return undefined;
  }
};

/** The node_modules folder holding the peers at their pinned versions, installed if need be. */
export function peerModules(): string {
  const specs = Object.entries(PEERS).map(([name, version]) => `${name}@${version}`);
  const dir = join(
    tmpdir(),
    `nudge-bench-peers-${createHash("sha256").update(specs.join(" ")).digest("hex").slice(0, 12)}`,
  );
  const modules = join(dir, "node_modules");
  if (Object.entries(PEERS).every(([name, version]) => installedVersion(modules, name) === version)) return modules;
  console.log(`Installing the bench's peers into ${dir}: ${specs.join(" ")}`);
  mkdirSync(dir, { recursive: true });
  // Their install scripts are not needed to load their browser files: none run.
  execFileSync(
    "npm",
    [
      "install",
      "--no-save",
      "--no-package-lock",
      "--ignore-scripts",
      "--no-audit",
      "--no-fund",
      "--prefer-offline",
      "--prefix",
      dir,
      ...specs,
    ],
    { stdio: "inherit" },
  );
  for (const [name, version] of Object.entries(PEERS))
    if (installedVersion(modules, name) !== version) throw new Error(`${name}@${version} did not install into ${dir}.`);
  return modules;
}
