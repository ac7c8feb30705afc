import type { Fields } from '../base/problems.js';
import type { IpWindow, LimitSpec } from '../decision/limits.js';
import type { Scheme } from '../scheme-kit/scheme-definition.js';

const maxCount = 1_000_000_000;
const maxWindowSec = 30 * 86400;

/** `{ "max": N, "windowSec": S }`; `defaultWindowSec` when the window is left out. */
function ipWindow(fields: Fields, name: string, defaultWindowSec: number): IpWindow | undefined {
  const inner = fields.object(name);
  if (inner === undefined) return undefined;
  if (!inner.has('max')) inner.add('max', 'is required (how many distinct client IPs)');
  const max = inner.int('max', 1, 1, 1_000_000);
  const windowSec = inner.int('windowSec', defaultWindowSec, 1, maxWindowSec);
  inner.done();
  return { max, windowSec };
}

/**
 * A route's `limits` (docs/limits.md), or undefined when absent. At least one limit; `per:
 * "session"` only for formats whose links carry a session id.
 */
export function parseRouteLimits(fields: Fields, scheme: Scheme | undefined): LimitSpec | undefined {
  const inner = fields.object('limits');
  if (inner === undefined) return undefined;
  const per = inner.oneOf('per', ['link', 'session'], 'link', 'what each counter counts');
  if (per === 'session' && scheme !== undefined && !scheme.signOptions.includes('sessionId')) {
    inner.add('per', `"session" needs a format whose links carry a session id (hmac); ${scheme.id} links have none`);
  }
  const uses = inner.optionalInt('uses', 1, maxCount);
  const perSecond = inner.optionalInt('perSecond', 1, 1_000_000);
  const clientIps = ipWindow(inner, 'clientIps', 86400);
  const viewers = ipWindow(inner, 'viewers', 30);
  const onStoreDown = inner.oneOf('onStoreDown', ['deny', 'allow'], 'deny', 'when the counters cannot be reached');
  if (uses === undefined && perSecond === undefined && clientIps === undefined && viewers === undefined) {
    fields.add('limits', 'must set at least one of "uses", "perSecond", "clientIps", "viewers"');
  }
  inner.done();
  return { per, uses, perSecond, clientIps, viewers, onStoreDown };
}
