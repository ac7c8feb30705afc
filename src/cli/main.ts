#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { ExitCode, UsageError } from '../base/exit-codes.js';
import { createLogger, logLevelFrom, logLevels } from '../base/log.js';
import { Problems } from '../base/problems.js';
import { Verdict } from '../base/verdict.js';
import { version } from '../base/version.js';
import { ConfigError } from '../config/config-error.js';
import { loadConfig } from '../config/load-config.js';
import { parseBaseUrl } from '../config/parse-signing.js';
import { EngineError } from '../http/native-uws.js';
import { CapturedHeaders } from '../http/request-sources.js';
import { explain } from '../links/explain-link.js';
import { LinkRequestError, linkJson, linkText, signLink } from '../links/sign-link.js';
import type { SignRequest } from '../scheme-kit/sign-request.js';
import { runService } from '../service/main-thread.js';
import { type CommandName, commands, usage } from './commands.js';

function wholeNumber(text: string | undefined, flag: string, unit: string): number | undefined {
  if (text === undefined) return undefined;
  if (!/^[0-9]{1,10}$/.test(text)) throw new UsageError(`--${flag} must be a whole number of ${unit}`);
  return Number(text);
}

const seconds = (text: string | undefined, flag: string) => wholeNumber(text, flag, 'seconds');

function isCommand(name: string | undefined): name is CommandName {
  return name !== undefined && Object.hasOwn(commands, name);
}

async function main(argv: string[]): Promise<number> {
  const [first, ...args] = argv;
  if (first === '--version' || first === '-v') {
    process.stdout.write(`tokengate ${version} (Node.js ${process.version})\n`);
    return ExitCode.ok;
  }
  if (first === 'help' && isCommand(args[0])) {
    process.stdout.write(`${commands[args[0]].usage}\n`);
    return ExitCode.ok;
  }
  if (!isCommand(first)) {
    if (first === undefined || first === '--help' || first === '-h' || first === 'help') {
      process.stdout.write(usage);
      return first === undefined ? ExitCode.usage : ExitCode.ok;
    }
    throw new UsageError(`unknown command "${first}"`);
  }
  const command = first;
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
  const text = (name: string) => values[name] as string | undefined;
  const configFile = text('config') ?? process.env.TOKENGATE_CONFIG;
  if (configFile === '') {
    throw new UsageError(
      text('config') === undefined
        ? 'TOKENGATE_CONFIG is set but empty (unset it for the embedded default config)'
        : '--config is empty',
    );
  }
  const nowSec = seconds(text('now'), 'now') ?? Math.floor(Date.now() / 1000);
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
    const path = text('path');
    const ttlSec = seconds(text('ttl'), 'ttl');
    if (path === undefined || ttlSec === undefined) throw new UsageError('sign needs --path and --ttl');
    if (ttlSec <= 0) throw new UsageError('--ttl must be a positive number of seconds');
    const notBeforeSec = seconds(text('start'), 'start');
    const request: SignRequest = {
      path,
      // The lifetime counts from the start: --start tomorrow --ttl 3600 is valid for an hour tomorrow.
      expiresSec: (notBeforeSec ?? nowSec) + ttlSec,
      notBeforeSec,
      clientIp: text('ip'),
      scopeDepth: wholeNumber(text('scope-depth'), 'scope-depth', 'segments'),
      sessionId: text('session'),
      cookies: values.cookies === true ? true : undefined,
    };
    const problems = new Problems();
    const baseUrl = parseBaseUrl(text('base-url'), '--base-url', problems);
    if (problems.list.length > 0) throw new UsageError(problems.list.join('; '));
    const loaded = loadConfig(configFile);
    const signed = signLink(loaded, request, { route: text('route'), baseUrl, nowSec });
    const route = loaded.config.routes.find((r) => r.name === signed.route);
    if (route?.keys[0]?.publicDemoSecret !== undefined) {
      process.stderr.write(
        `tokengate: warning: route "${signed.route}" signs with a PUBLISHED demo secret: anyone can make this link\n`,
      );
    }
    if (signed.encoded) process.stderr.write(`tokengate: signed the path percent-encoded as UTF-8: ${signed.path}\n`);
    process.stdout.write(values.json === true ? `${JSON.stringify(linkJson(signed), null, 2)}\n` : `${linkText(signed)}\n`);
    return ExitCode.ok;
  }
  if (rest.length !== 1) throw new UsageError('verify takes exactly one URL');
  const headers = new CapturedHeaders();
  if (text('cookie') !== undefined) headers.add('cookie', text('cookie')!);
  const header = text('header');
  if (header !== undefined) {
    const match = /^([A-Za-z0-9-]+):[ \t]*(.*)$/.exec(header);
    if (match === null) throw new UsageError('--header must be "NAME: VALUE"');
    headers.add(match[1]!.toLowerCase(), match[2]!);
  }
  const { decision, hints, details } = explain(loadConfig(configFile).gate, rest[0]!, text('ip'), nowSec, headers);
  const lines = [
    `verdict: ${decision.verdict}`,
    `route:   ${decision.route ? `${decision.route.name} (${decision.route.prefix}, ${decision.route.schemeId})` : '-'}`,
    `reason:  ${decision.detail}`,
    ...(details.keyId === undefined ? [] : [`key:     ${details.keyId}`]),
    // The decision log's "fp": the same token, the same fingerprint.
    ...(details.fingerprint === undefined ? [] : [`fp:      ${details.fingerprint}`]),
    ...hints.map((hint) => `hint:    ${hint}`),
  ];
  const end = new Date(decision.expiresSec * 1000).toISOString();
  if (decision.verdict === Verdict.allow) lines.push(`expires: ${end} (in ${decision.expiresSec - nowSec} s)`);
  if (decision.verdict === Verdict.expired) lines.push(`expired: ${end} (${nowSec - decision.expiresSec} s ago)`);
  process.stdout.write(`${lines.join('\n')}\n`);
  if (decision.verdict === Verdict.allow) return ExitCode.ok;
  if (decision.verdict === Verdict.expired) return ExitCode.expired;
  if (decision.verdict === Verdict.badSource || decision.verdict === Verdict.error) return ExitCode.undecided;
  return ExitCode.denied;
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
