/**
 * The documents routes fetch (a jwt route's JWKS at `jwksUrl`): fetched before the config loads,
 * then again every route's `jwksRefreshSec` in the background, never while deciding. A changed
 * document reloads the config (every thread swaps to the new keys at once, and the verdict caches
 * with them); a failed fetch keeps the last keys and is logged.
 */
import type { Logger } from '../base/log.js';
import { fetchDocument, fetchDocuments, remoteUrls } from '../config/remote-documents.js';

export class RemoteDocuments {
  /** The body of each URL the serving config was loaded with (or, before any load, the first fetched). */
  private readonly good = new Map<string, Buffer>();
  /** A changed body a reload is trying now: good only once that reload succeeds. */
  private readonly trying = new Map<string, Buffer>();
  private timers: NodeJS.Timeout[] = [];
  private scheduled = '';

  constructor(
    private readonly configFile: string | undefined,
    private readonly logger: Logger,
  ) {}

  /**
   * The documents the config names now: the last good body of each, and a fetch of any URL not
   * fetched yet (at start, or newly named); an Error for one that could not be fetched.
   */
  async current(): Promise<Map<string, Buffer | Error>> {
    const urls = remoteUrls(this.configFile).map(({ url }) => url);
    const documents = await fetchDocuments(urls, new Map([...this.good, ...this.trying]));
    for (const [url, body] of documents) if (body instanceof Buffer && !this.good.has(url)) this.good.set(url, body);
    return documents;
  }

  /** After a reload: the bodies it loaded are good (it succeeded), or the ones it tried are dropped (it failed: tried again at the next refresh). */
  settled(loaded: boolean): void {
    if (loaded) for (const [url, body] of this.trying) this.good.set(url, body);
    this.trying.clear();
  }

  /** Fetches each URL the config names again every `refreshSec` (the least any route asks); `changed` runs when one changed. */
  schedule(changed: () => void): void {
    const every = new Map<string, number>();
    for (const { url, refreshSec } of remoteUrls(this.configFile))
      every.set(url, Math.min(every.get(url) ?? refreshSec, refreshSec));
    const plan = JSON.stringify([...every]);
    if (plan === this.scheduled) return;
    this.stop();
    this.scheduled = plan;
    for (const [url, refreshSec] of every) {
      const timer = setInterval(() => void this.refresh(url, changed), refreshSec * 1000);
      timer.unref();
      this.timers.push(timer);
    }
  }

  stop(): void {
    for (const timer of this.timers) clearInterval(timer);
    this.timers = [];
    this.scheduled = '';
  }

  private async refresh(url: string, changed: () => void): Promise<void> {
    const body = await fetchDocument(url);
    if (body instanceof Error) {
      this.logger.limited(`remote:${url}`, 'warn', 'a route document could not be fetched again; the last one stays in use', {
        url,
        reason: body.message,
      });
      return;
    }
    if (this.good.get(url)?.equals(body) === true) return;
    this.trying.set(url, body);
    this.logger.log('info', 'a route document changed; reloading the config', { url });
    changed();
  }
}
