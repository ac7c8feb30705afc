import { randomBytes } from 'node:crypto';
import { AccessGate } from '../admin/access.js';
import { Sessions } from '../admin/sessions.js';
import type { RevocationControl, SigningContext } from '../admin/signing-api.js';
import type { Logger } from '../base/log.js';
import type { LoadedConfig } from '../config/load-config.js';
import type { ServiceMetrics } from '../metrics/exposition.js';

/** The signing API's context when `signing` is configured: its access token from the config, or made now. */
export function signingContext(
  serving: { loaded: LoadedConfig },
  metrics: ServiceMetrics,
  revocations: RevocationControl,
  logger: Logger,
): { context: SigningContext; randomToken: string | undefined } | undefined {
  const { signing } = serving.loaded.config;
  if (signing === undefined) return undefined;
  const randomToken = signing.token === 'random' ? randomBytes(24).toString('base64url') : undefined;
  // A reload may change a token file: the gate follows the config now serving.
  let token = randomToken ?? serving.loaded.signingToken!;
  let access = new AccessGate(token);
  const context: SigningContext = {
    current: () => serving.loaded,
    get access() {
      const next = randomToken ?? serving.loaded.signingToken ?? token;
      if (next !== token) {
        token = next;
        access = new AccessGate(token);
      }
      return access;
    },
    sessions: new Sessions(),
    revocations,
    metrics,
    logger,
  };
  return { context, randomToken };
}
