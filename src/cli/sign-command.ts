import { ExitCode, UsageError } from '../base/exit-codes.js';
import { Problems, parseBaseUrl } from '../base/problems.js';
import { loadConfig } from '../config/load-config.js';
import { fetchingReader } from '../config/remote-documents.js';
import { LinkRequestError, signLink } from '../links/sign-link.js';
import { linkJson, linkText, type SignedLink } from '../links/signed-link.js';
import type { SignRequest } from '../scheme-kit/sign-request.js';
import { type CommandInput, seconds, text, wholeNumber } from './command-input.js';

/** The SignRequest the options describe; usage errors for what is missing or not a number. */
function signRequestOf(input: CommandInput): SignRequest {
  const path = text(input.values, 'path');
  const ttlSec = seconds(text(input.values, 'ttl'), 'ttl');
  if (path === undefined || ttlSec === undefined) throw new UsageError('sign needs --path and --ttl');
  if (ttlSec <= 0) throw new UsageError('--ttl must be a positive number of seconds');
  const notBeforeSec = seconds(text(input.values, 'start'), 'start');
  return {
    path,
    // The lifetime counts from the start: --start tomorrow --ttl 3600 is valid for an hour tomorrow.
    expiresSec: (notBeforeSec ?? input.nowSec) + ttlSec,
    notBeforeSec,
    clientIp: text(input.values, 'ip'),
    scopeDepth: wholeNumber(text(input.values, 'scope-depth'), 'scope-depth', 'segments'),
    sessionId: text(input.values, 'session'),
    cookies: input.values.cookies === true ? true : undefined,
  };
}

/** The option that sets each field of a sign request. */
const optionOf: Readonly<Record<string, string>> = {
  path: '--path',
  expiresSec: '--ttl',
  notBeforeSec: '--start',
  clientIp: '--ip',
  scopeDepth: '--scope-depth',
  sessionId: '--session',
  cookies: '--cookies',
  route: '--route',
  baseUrl: '--base-url',
};

/** `tokengate sign`: prints a link the service would accept, signed with its route's first key. */
export async function signCommand(input: CommandInput): Promise<number> {
  const request = signRequestOf(input);
  const problems = new Problems();
  const baseUrl = parseBaseUrl(text(input.values, 'base-url'), '--base-url', problems);
  if (problems.list.length > 0) throw new UsageError(problems.list.join('; '));
  const loaded = loadConfig(input.configFile, process.env, await fetchingReader(input.configFile));
  let signed: SignedLink;
  try {
    signed = await signLink(loaded, request, { route: text(input.values, 'route'), baseUrl, nowSec: input.nowSec });
  } catch (error) {
    if (!(error instanceof LinkRequestError)) throw error;
    // Every problem on its own line, named by the option that set the field.
    throw new UsageError(
      error.problems
        .map(({ field, message }) =>
          field === undefined || optionOf[field] === undefined ? message : `${optionOf[field]}: ${message}`,
        )
        .join('\ntokengate: '),
    );
  }
  const route = loaded.config.routes.find((r) => r.name === signed.route);
  if (route?.keys[0]?.publicDemoSecret !== undefined) {
    process.stderr.write(
      `tokengate: warning: route "${signed.route}" signs with a PUBLISHED demo secret: anyone can make this link\n`,
    );
  }
  if (signed.encoded) process.stderr.write(`tokengate: signed the path percent-encoded as UTF-8: ${signed.path}\n`);
  process.stdout.write(input.values.json === true ? `${JSON.stringify(linkJson(signed), null, 2)}\n` : `${linkText(signed)}\n`);
  return ExitCode.ok;
}
