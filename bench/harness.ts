/**
 * A small timing harness for pure functions: warm-up, then rounds of N calls, reporting the median
 * (and spread) in ns per call. Plain Node, no test runner in between: what the service runs.
 */
export interface Measurement {
  readonly name: string;
  readonly medianNs: number;
  readonly minNs: number;
  readonly maxNs: number;
}

export function measure(name: string, fn: (i: number) => unknown, callsPerRound = 200_000, rounds = 9): Measurement {
  for (let i = 0; i < callsPerRound; i++) fn(i);
  const perCall: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < callsPerRound; i++) fn(i);
    perCall.push(Number(process.hrtime.bigint() - start) / callsPerRound);
  }
  perCall.sort((a, b) => a - b);
  return { name, medianNs: perCall[rounds >> 1]!, minNs: perCall[0]!, maxNs: perCall[rounds - 1]! };
}

/** Runs the cases interleaved round by round, so machine noise hits them alike. */
export function compare(
  title: string,
  cases: Record<string, (i: number) => unknown>,
  callsPerRound = 200_000,
  rounds = 9,
): Measurement[] {
  const names = Object.keys(cases);
  const samples = new Map<string, number[]>(names.map((name) => [name, []]));
  for (const fn of Object.values(cases)) for (let i = 0; i < callsPerRound; i++) fn(i);
  for (let r = 0; r < rounds; r++) {
    for (const name of names) {
      const fn = cases[name]!;
      const start = process.hrtime.bigint();
      for (let i = 0; i < callsPerRound; i++) fn(i);
      samples.get(name)!.push(Number(process.hrtime.bigint() - start) / callsPerRound);
    }
  }
  const results = names.map((name) => {
    const xs = samples.get(name)!.sort((a, b) => a - b);
    return { name, medianNs: xs[rounds >> 1]!, minNs: xs[0]!, maxNs: xs[rounds - 1]! };
  });
  const baseline = results[0]!.medianNs;
  process.stdout.write(`\n${title}\n`);
  for (const m of results) {
    process.stdout.write(
      `  ${m.name.padEnd(58)} ${m.medianNs.toFixed(0).padStart(6)} ns  (${m.minNs.toFixed(0)}-${m.maxNs.toFixed(0)})  ${(baseline / m.medianNs).toFixed(2)}x\n`,
    );
  }
  return results;
}
