import { hash, randomBytes } from 'node:crypto';
import { AccessGate } from '../admin/access.js';
import { Sessions } from '../admin/sessions.js';
import type { RevocationControl, SigningContext } from '../admin/signing-api.js';
import type { Logger } from '../base/log.js';
import type { LoadedConfig } from '../config/load-config.js';
import type { ServiceMetrics } from '../metrics/exposition.js';

/**
 * The signing API's context when `signing` is configured: the signers' token digests from the
 * config now serving, and the token made at this start for a signer with `randomToken` (printed
 * once; it stays the same across reloads while that signer keeps `randomToken`).
 */
export function signingContext(
  serving: { loaded: LoadedConfig },
  metrics: ServiceMetrics,
  revocations: RevocationControl,
  logger: Logger,
): { context: SigningContext; randomToken: string | undefined } | undefined {
  const { signing } = serving.loaded.config;
  if (signing === undefined) return undefined;
  const hasRandom = signing.signers.some((signer) => signer.credential === 'random');
  const randomToken = hasRandom ? randomBytes(24).toString('base64url') : undefined;
  const randomDigest = randomToken === undefined ? undefined : hash('sha256', randomToken, 'buffer');
  /** Every signer's digest for a loaded config: its own, or the random one. */
  const digestsOf = (loaded: LoadedConfig) => {
    const digests = new Map(loaded.signerDigests);
    for (const signer of loaded.config.signing?.signers ?? []) {
      if (signer.credential === 'random' && randomDigest !== undefined) digests.set(signer.name, randomDigest);
    }
    return digests;
  };
  // A reload may change signers and tokens: the gate follows the config now serving.
  let gateFor = serving.loaded;
  let digests = digestsOf(gateFor);
  let access = new AccessGate(digests);
  const follow = () => {
    if (gateFor !== serving.loaded) {
      gateFor = serving.loaded;
      digests = digestsOf(gateFor);
      access = new AccessGate(digests);
    }
  };
  const context: SigningContext = {
    current: () => serving.loaded,
    get access() {
      follow();
      return access;
    },
    credentialOf(signer) {
      follow();
      const digest = digests.get(signer);
      return digest === undefined ? undefined : `token:${digest.toString('base64url', 0, 12)}`;
    },
    sessions: new Sessions(),
    revocations,
    metrics,
    logger,
  };
  return { context, randomToken };
}
