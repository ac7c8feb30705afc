#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { ExitCode, UsageError } from '../base/exit-codes.js';
import { version } from '../base/version.js';
import { ConfigError } from '../config/config-error.js';
import { EngineError } from '../http/native-uws.js';
import { LinkRequestError } from '../links/sign-link.js';
import { checkCommand } from './check-command.js';
import { type CommandHandler, seconds, text } from './command-input.js';
import { type CommandName, commands, usage } from './commands.js';
import { revokeCommand } from './revoke-command.js';
import { serveCommand } from './serve-command.js';
import { signCommand } from './sign-command.js';
import { verifyCommand } from './verify-command.js';

/** Each command's handler: main parses the arguments, the handler does the rest. */
const handlers: Record<CommandName, CommandHandler> = {
  serve: serveCommand,
  sign: signCommand,
  verify: verifyCommand,
  revoke: revokeCommand,
  check: checkCommand,
};

function isCommand(name: string | undefined): name is CommandName {
  return name !== undefined && Object.hasOwn(commands, name);
}

/** --version, help and usage, answered before any command runs; undefined when `first` is a command. */
function answerWithoutCommand(first: string | undefined, args: readonly string[]): number | undefined {
  if (first === '--version' || first === '-v') {
    process.stdout.write(`tokengate ${version} (Node.js ${process.version})\n`);
    return ExitCode.ok;
  }
  if (first === 'help' && isCommand(args[0])) {
    process.stdout.write(`${commands[args[0]].usage}\n`);
    return ExitCode.ok;
  }
  if (isCommand(first)) return undefined;
  if (first === undefined || first === '--help' || first === '-h' || first === 'help') {
    process.stdout.write(usage);
    return first === undefined ? ExitCode.usage : ExitCode.ok;
  }
  throw new UsageError(`unknown command "${first}"`);
}

async function main(argv: string[]): Promise<number> {
  const [first, ...args] = argv;
  const answered = answerWithoutCommand(first, args);
  if (answered !== undefined) return answered;
  const command = first as CommandName;
  const { values, positionals: rest } = parseArgs({
    args,
    options: commands[command].options,
    allowPositionals: true,
    strict: true,
  }) as { values: Record<string, string | boolean | undefined>; positionals: string[] };
  if (values.help === true) {
    process.stdout.write(`${commands[command].usage}\n`);
    return ExitCode.ok;
  }
  const configFile = text(values, 'config') ?? process.env.TOKENGATE_CONFIG;
  if (configFile === '') {
    throw new UsageError(
      text(values, 'config') === undefined
        ? 'TOKENGATE_CONFIG is set but empty (unset it for the embedded default config)'
        : '--config is empty',
    );
  }
  const nowSec = seconds(text(values, 'now'), 'now') ?? Math.floor(Date.now() / 1000);
  return handlers[command]({ values, rest, configFile, nowSec });
}

/** The exit code and stderr line for what main threw: usage, config, engine, or a bug. */
function reportFailure(error: unknown): void {
  const message = error instanceof Error ? error.message : String(error);
  if (
    error instanceof UsageError ||
    error instanceof LinkRequestError ||
    (error as { code?: string }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' ||
    (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')
  ) {
    process.stderr.write(`tokengate: ${message}\nRun "tokengate --help" for usage.\n`);
    process.exitCode = ExitCode.usage;
  } else if (error instanceof ConfigError) {
    process.stderr.write(`tokengate: invalid config ${message}\n`);
    process.exitCode = ExitCode.config;
  } else if (error instanceof EngineError) {
    process.stderr.write(`tokengate: ${message}\n`);
    process.exitCode = ExitCode.unavailable;
  } else {
    process.stderr.write(`tokengate: internal error: ${error instanceof Error ? error.stack : message}\n`);
    process.exitCode = ExitCode.software;
  }
}

main(process.argv.slice(2)).then((code) => {
  if (code >= 0) process.exitCode = code;
}, reportFailure);
