#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { ConfigError } from '../config/config-error.js';
import { loadConfig } from '../config/load-config.js';
import type { SignRequest } from '../core/sign-request.js';
import { Verdict } from '../core/verdict.js';
import { ExitCode, UsageError } from '../exit-codes.js';
import { EngineError } from '../http/native-uws.js';
import { explain } from '../links/explain-link.js';
import { LinkRequestError, linkText, signLink } from '../links/sign-link.js';
import { createLogger, logLevelFrom, logLevels } from '../log.js';
import { schemes } from '../schemes/registry.js';
import { runService } from '../service/main-thread.js';

const usage = `tokengate: validates signed URLs for reverse proxies (200 allow, 403 deny, 410 expired)

Usage:
  tokengate serve  [--config FILE]
  tokengate sign   --path PATH --ttl SECONDS [--route NAME|PREFIX] [--ip IP|CIDR] [--start UNIX]
                   [--scope-depth N] [--session ID] [--config FILE]
  tokengate verify URL [--ip IP] [--now UNIX] [--config FILE]

Without --config (or TOKENGATE_CONFIG) the embedded demo config is used: PUBLIC demo secrets.
Secrets come only from key files or environment variables named in the config.

Schemes:
${schemes.map((s) => `  ${s.id.padEnd(8)} ${s.summary}`).join('\n')}

Exit codes: 0 ok/valid, 1 denied, 2 expired, 3 undecidable, 64 usage, 69 engine unavailable,
            70 internal error, 71 cannot listen, 78 bad config.
`;

const options = {
  config: { type: 'string' },
  path: { type: 'string' },
  ttl: { type: 'string' },
  route: { type: 'string' },
  ip: { type: 'string' },
  start: { type: 'string' },
  'scope-depth': { type: 'string' },
  session: { type: 'string' },
  now: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

function seconds(text: string | undefined, flag: string): number | undefined {
  if (text === undefined) return undefined;
  if (!/^[0-9]{1,10}$/.test(text)) throw new UsageError(`--${flag} must be a whole number of seconds`);
  return Number(text);
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  const [command, ...rest] = positionals;
  if (values.help || command === undefined || command === 'help') {
    process.stdout.write(usage);
    return command === undefined && !values.help ? ExitCode.usage : ExitCode.ok;
  }
  const configFile = values.config ?? process.env.TOKENGATE_CONFIG;
  const nowSec = seconds(values.now, 'now') ?? Math.floor(Date.now() / 1000);
  if (command === 'serve') {
    if (rest.length > 0) throw new UsageError('serve takes no arguments');
    const level = logLevelFrom(process.env);
    if (level === undefined) {
      throw new UsageError(
        `TOKENGATE_LOG_LEVEL must be one of ${logLevels.join(', ')} (its value is not shown: environment values may be secret)`,
      );
    }
    await runService(configFile, createLogger(level));
    return -1;
  }
  if (command === 'sign') {
    if (values.path === undefined || values.ttl === undefined) throw new UsageError('sign needs --path and --ttl');
    const ttlSec = seconds(values.ttl, 'ttl')!;
    if (ttlSec <= 0) throw new UsageError('--ttl must be a positive number of seconds');
    const request: SignRequest = {
      path: values.path,
      expiresSec: nowSec + ttlSec,
      notBeforeSec: seconds(values.start, 'start'),
      clientIp: values.ip,
      scopeDepth: seconds(values['scope-depth'], 'scope-depth'),
      sessionId: values.session,
    };
    const signed = signLink(loadConfig(configFile), request, { route: values.route, nowSec });
    if (signed.encoded) process.stderr.write(`tokengate: signed the path percent-encoded as UTF-8: ${signed.path}\n`);
    process.stdout.write(`${linkText(signed)}\n`);
    return ExitCode.ok;
  }
  if (command === 'verify') {
    if (rest.length !== 1) throw new UsageError('verify takes exactly one URL');
    const { decision, hints } = explain(loadConfig(configFile).gate, rest[0]!, values.ip, nowSec);
    const lines = [
      `verdict: ${decision.verdict}`,
      `route:   ${decision.route ? `${decision.route.name} (${decision.route.prefix}, ${decision.route.schemeId})` : '-'}`,
      `reason:  ${decision.detail}`,
      ...hints.map((hint) => `hint:    ${hint}`),
    ];
    if (decision.verdict === Verdict.allow)
      lines.push(`expires: ${new Date(decision.expiresSec * 1000).toISOString()} (in ${decision.expiresSec - nowSec} s)`);
    process.stdout.write(`${lines.join('\n')}\n`);
    if (decision.verdict === Verdict.allow) return ExitCode.ok;
    if (decision.verdict === Verdict.expired) return ExitCode.expired;
    if (decision.verdict === Verdict.badSource || decision.verdict === Verdict.error) return ExitCode.undecided;
    return ExitCode.denied;
  }
  throw new UsageError(`unknown command "${command}"`);
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (error: unknown) => {
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
  },
);
