/** Replaced at build time (rollup.config.ts) and in tests (test/vitest.config.ts). */
declare const __DEV__: boolean;
declare const __VERSION__: string;
