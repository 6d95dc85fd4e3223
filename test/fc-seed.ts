import fc from "fast-check";
import type { RunDetails } from "fast-check";

/**
 * Property tests run with one seed for the whole suite: FC_SEED when given, a fixed one under CI
 * (so a red CI is the code's fault, never the dice's), else a fresh one per property. A failure
 * names its seed and the command that replays it. Set by test/vitest.config.ts (`define`).
 */
declare const __FC_SEED__: number | null;

const report = (details: RunDetails<unknown>) => {
  if (!details.failed) return;
  throw new Error(
    `${fc.defaultReportMessage(details)}\n\nReplay this run with FC_SEED=${details.seed} ` +
      `(e.g. FC_SEED=${details.seed} npx vitest run --config test/vitest.config.ts <file> -t '<test name>').`,
  );
};

fc.configureGlobal({
  ...(__FC_SEED__ === null ? {} : { seed: __FC_SEED__ }),
  // Used by async properties too (fast-check refuses both reporters at once).
  reporter: report,
});
