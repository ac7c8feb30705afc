/**
 * Command-line options of the bench scripts: strict (an unknown or malformed option is refused
 * before anything runs or is written), `--help` prints the usage and exits 0.
 */
import { parseArgs } from 'node:util';

export interface BenchOption {
  readonly type: 'string' | 'boolean';
  /** Shown in the usage: "--name=<value>" (string) or "--name" (boolean), then this text. */
  readonly help: string;
  readonly value?: string;
}

type Values<T extends Record<string, BenchOption>> = {
  [K in keyof T]: T[K]['type'] extends 'boolean' ? boolean : string | undefined;
};

/** Exit code for refused arguments (EX_USAGE, as the CLI). */
const usageExit = 64;

export function benchArgs<T extends Record<string, BenchOption>>(
  command: string,
  summary: string,
  options: T,
  argv: readonly string[] = process.argv.slice(2),
): Values<T> {
  const lines = Object.entries(options).map(([name, option]) => {
    const flag = option.type === 'boolean' ? `--${name}` : `--${name}=<${option.value ?? 'value'}>`;
    return `  ${flag.padEnd(28)} ${option.help}`;
  });
  const usage = `usage: ${command} [options]\n${summary}\n\noptions:\n${lines.join('\n')}\n  ${'--help'.padEnd(28)} print this and exit\n`;
  const config = Object.fromEntries([
    ...Object.entries(options).map(([name, option]) => [name, { type: option.type }]),
    ['help', { type: 'boolean' }],
  ]) as Record<string, { type: 'string' | 'boolean' }>;
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({ args: [...argv], options: config, strict: true, allowPositionals: false }).values;
  } catch (error) {
    process.stderr.write(`${command}: ${(error as Error).message}\n\n${usage}`);
    process.exit(usageExit);
  }
  if (values.help === true) {
    process.stdout.write(usage);
    process.exit(0);
  }
  for (const [name, option] of Object.entries(options)) {
    if (option.type === 'boolean') values[name] = values[name] === true;
    else if (values[name] === '') {
      process.stderr.write(`${command}: --${name} needs a value\n\n${usage}`);
      process.exit(usageExit);
    }
  }
  return values as Values<T>;
}

/** A positive number from an option, or the usage error. */
export function positiveNumber(command: string, name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const number = Number(value);
  if (!Number.isFinite(number) || number <= 0) {
    process.stderr.write(`${command}: --${name} must be a positive number, got "${value}"\n`);
    process.exit(usageExit);
  }
  return number;
}
