import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";

/**
 * The seed of every fast-check property (test/fc-seed.ts): FC_SEED, else a fixed one when CI is
 * set, else null (a fresh seed per property, printed with any failure).
 */
const fcSeed = process.env.FC_SEED ? Number(process.env.FC_SEED) : process.env.CI ? 20261202 : null;
if (fcSeed !== null && !Number.isSafeInteger(fcSeed)) throw new Error(`FC_SEED must be an integer, not ${fcSeed}.`);

/** Unit tests: the SDK in happy-dom, the Worker inside workerd with a real (local) D1. */
export default defineConfig({
  define: { __DEV__: "true", __VERSION__: JSON.stringify("test"), __FC_SEED__: JSON.stringify(fcSeed) },
  test: {
    projects: [
      {
        extends: true,
        test: {
          name: "sdk",
          include: ["test/sdk/**/*.test.ts"],
          environment: "happy-dom",
          setupFiles: ["fake-indexeddb/auto", "./test/fc-seed.ts"],
        },
      },
      {
        extends: true,
        // The dashboard's editors (preact) in happy-dom against a stand-in API.
        test: { name: "dashboard", include: ["test/dashboard/**/*.test.ts"], environment: "happy-dom" },
      },
      {
        extends: true,
        test: {
          name: "promotions",
          include: ["test/promotions/**/*.test.ts"],
          environment: "node",
          setupFiles: ["./test/fc-seed.ts"],
        },
      },
      {
        extends: true,
        // Campaign statistics (worker/src/results/stats.ts): pure, plain Node.
        test: { name: "results", include: ["test/results/**/*.test.ts"], environment: "node" },
      },
      {
        extends: true,
        // Checks on the tree and its tooling, run as a merchant runs them: the Worker's import layers,
        // the snippet generator, the packed package.
        test: { name: "node", include: ["test/node/**/*.test.ts"], environment: "node" },
      },
      {
        extends: true,
        plugins: [
          cloudflareTest(async () => ({
            wrangler: { configPath: "./test/worker/wrangler.jsonc" },
            miniflare: { bindings: { TEST_MIGRATIONS: await readD1Migrations("./worker/migrations") } },
          })),
        ],
        test: {
          name: "worker",
          include: ["test/worker/**/*.test.ts"],
          // Every test here makes real D1 round trips (a property test, a hundred or more); 5 s
          // held on a quiet machine but not on a loaded one. A hang still fails, at 30 s.
          testTimeout: 30_000,
          setupFiles: ["./test/fc-seed.ts", "./test/worker/setup.ts"],
          // Loopback stand-ins for email/SMS providers (channels tests).
          globalSetup: ["./test/worker/provider-fakes.ts"],
        },
      },
    ],
  },
});
