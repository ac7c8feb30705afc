/** A configuration or usage problem: carries a stable code and every problem found, each with its path. */
export class ConfigError extends Error {
  readonly code = 'E_CONFIG';
  readonly problems: readonly string[];

  constructor(source: string, problems: readonly string[]) {
    super(`${source}: ${problems.length} problem(s)\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}
