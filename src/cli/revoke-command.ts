import { ExitCode, UsageError } from '../base/exit-codes.js';
import { type LoadedConfig, loadConfig } from '../config/load-config.js';
import { fetchingReader } from '../config/remote-documents.js';
import { applyChange, type Revocation, RevocationBook } from '../decision/revocations.js';
import { openStore, revocationsNeeded } from '../state/open-store.js';
import type { RevocationStore } from '../state/revocation-store.js';
import { makeRevocation, RevokeError, type RevokeRequest } from '../state/revoke.js';
import { type CommandInput, seconds, text } from './command-input.js';

/** The target flags, each one kind of revocation (`link`: a whole URL, revoked by its fingerprint). */
const targets = ['link', 'fp', 'session', 'key', 'prefix'] as const;
/** makeRevocation's field names as the command's flags. */
const flagOf: Readonly<Record<string, string>> = { issuedBefore: 'issued-before', until: 'until', clientIp: 'ip' };

const iso = (sec: number) => new Date(sec * 1000).toISOString().replace('.000Z', 'Z');

/** One line per revocation, newest first: id, kind, value, route, end, who, note. */
function listLines(entries: readonly Revocation[]): string[] {
  if (entries.length === 0) return ['no revocations in force'];
  return [...entries]
    .sort((a, b) => b.createdSec - a.createdSec || a.id.localeCompare(b.id))
    .map((e) =>
      [
        e.id,
        e.kind,
        e.value,
        `route=${e.route ?? '*'}`,
        ...(e.issuedBeforeSec === undefined ? [] : [`issued-before=${iso(e.issuedBeforeSec)}`]),
        `until=${iso(e.untilSec)}`,
        ...(e.by === undefined ? [] : [`by=${e.by}`]),
        ...(e.note === undefined ? [] : [`note=${JSON.stringify(e.note)}`]),
      ].join('  '),
    );
}

/** The store's failure as the command's own: exit 69, the reason (never a credential). */
async function withStore<T>(store: RevocationStore, act: () => Promise<T>): Promise<T | number> {
  try {
    return await act();
  } catch (error) {
    if (error instanceof UsageError) throw error;
    process.stderr.write(`tokengate: the revocation store (${store.where}) failed: ${(error as Error).message}\n`);
    return ExitCode.unavailable;
  } finally {
    await store.close();
  }
}

function requestOf(input: CommandInput): RevokeRequest {
  const given = targets.filter((flag) => text(input.values, flag) !== undefined);
  if (given.length !== 1) {
    throw new UsageError(
      'revoke takes exactly one of --link URL, --fp FP, --session ID, --key ID (with --route) or --prefix PATH',
    );
  }
  const kind = given[0]!;
  if (input.rest.length > 0) throw new UsageError('revoke takes no positional arguments (quote a URL given to --link)');
  return {
    kind,
    value: text(input.values, kind)!,
    route: text(input.values, 'route'),
    issuedBeforeSec: seconds(text(input.values, 'issued-before'), 'issued-before'),
    untilSec: seconds(text(input.values, 'until'), 'until'),
    clientIp: text(input.values, 'ip'),
    note: text(input.values, 'note'),
    by: 'cli',
  };
}

/**
 * `tokengate revoke`: writes to the store the config names (the file beside the config, or Redis)
 * directly; a running service picks the change up within a second. `--list` and `--remove` read
 * and edit the list.
 */
export async function revokeCommand(input: CommandInput): Promise<number> {
  const book = new RevocationBook();
  const loaded = loadConfig(input.configFile, process.env, await fetchingReader(input.configFile), undefined, {
    revocations: book,
  });
  if (!revocationsNeeded(loaded)) {
    throw new UsageError('no route of this config checks revocations (set "revocation" on a route; see docs/revocation.md)');
  }
  const store = openStore(loaded.config.state, { baseDir: loaded.baseDir, env: process.env });
  const json = input.values.json === true;
  const removes = input.values.remove as string[] | undefined;
  if (input.values.list === true || removes !== undefined) {
    if (targets.some((flag) => text(input.values, flag) !== undefined)) {
      throw new UsageError('--list and --remove take no target (--link, --fp, --session, --key, --prefix)');
    }
    return withStore(store, async () => {
      if (removes !== undefined) {
        const removed = await store.remove(removes);
        process.stdout.write(json ? `${JSON.stringify({ removed })}\n` : `removed ${removed} of ${removes.length}\n`);
        return removed === removes.length ? ExitCode.ok : ExitCode.denied;
      }
      const { entries, refused } = await store.load(input.nowSec);
      for (const problem of refused) process.stderr.write(`tokengate: stored entry refused: ${problem}\n`);
      process.stdout.write(
        json ? `${JSON.stringify({ revocations: entries }, null, 2)}\n` : `${listLines(entries).join('\n')}\n`,
      );
      return ExitCode.ok;
    });
  }
  const request = requestOf(input);
  return withStore(store, async () => {
    // The list in force, so a link already revoked reads as revoked, not as refused.
    applyChange(book, { full: (await store.load(input.nowSec)).entries });
    const entry = await revocationFor(request, loaded, input.nowSec);
    await store.put(entry);
    process.stdout.write(json ? `${JSON.stringify({ revocation: entry }, null, 2)}\n` : `revoked: ${listLines([entry])[0]}\n`);
    return ExitCode.ok;
  });
}

/** makeRevocation with its problems as a usage error that names the flags. */
async function revocationFor(request: RevokeRequest, loaded: LoadedConfig, nowSec: number): Promise<Revocation> {
  try {
    return await makeRevocation(
      request,
      { routes: loaded.routes, gate: loaded.gate, clockSkewSec: loaded.config.clockSkewSec },
      nowSec,
    );
  } catch (error) {
    if (!(error instanceof RevokeError)) throw error;
    const flag = (field: string) => (field === request.kind ? request.kind : (flagOf[field] ?? field));
    throw new UsageError(error.problems.map((p) => `--${flag(p.field)} ${p.message}`).join('; '));
  }
}
