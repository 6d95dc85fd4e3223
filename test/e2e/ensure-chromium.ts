/**
 * End-to-end tests drive a real Chromium. This finds one, installs Debian's package when it can
 * (root with apt-get, as on CI), and otherwise stops with the exact command to run — it never
 * lets the e2e suite skip silently.
 */
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";

export const CANDIDATES = [process.env.NUDGE_CHROMIUM, "/usr/bin/chromium", "/usr/bin/chromium-browser"];

export function findChromium(): string | undefined {
  return CANDIDATES.find((p): p is string => !!p && existsSync(p));
}

function main(): void {
  if (findChromium()) return;
  const root = process.getuid?.() === 0;
  if (root && existsSync("/usr/bin/apt-get")) {
    console.log("Chromium not found: installing Debian's chromium package (apt-get) …");
    execFileSync("apt-get", ["update", "-qq"], { stdio: "inherit" });
    execFileSync("apt-get", ["install", "-y", "-qq", "chromium"], {
      stdio: "inherit",
      env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
    });
    if (findChromium()) return;
  }
  console.error(
    "End-to-end tests need Chromium and none was found.\n" +
      "  Debian/Ubuntu: sudo apt-get update && sudo apt-get install -y chromium\n" +
      "  Elsewhere: install Chromium and set NUDGE_CHROMIUM=/path/to/chromium",
  );
  process.exit(1);
}

if (import.meta.url === `file://${process.argv[1]}`) main();
