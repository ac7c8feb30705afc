import type { Logger } from '../base/log.js';
import type { SignerCredential, SigningConfig } from '../config/config.js';
import type { LoadedConfig } from '../config/load-config.js';

const demoBanner = [
  '',
  '  ###########################################################################',
  '  #  WARNING: tokengate is running with the PUBLISHED DEMO SECRETS.          #',
  '  #  Anyone can sign valid tokens for these routes. Demo use only:           #',
  '  #  give a config file with your own keys (--config) before real traffic.   #',
  '  ###########################################################################',
  '',
  '',
].join('\n');

/** A config's warnings, one log line each, and the banner on stderr when it uses published demo secrets. */
export function sayWarnings(loaded: LoadedConfig, logger: Logger): void {
  for (const warning of loaded.warnings) logger.log('warn', warning);
  if (loaded.demoSecrets) process.stderr.write(demoBanner);
}

/** `signing` as the config writes it (`signers`, or one `tokenFile`, `tokenEnv` or `randomToken`): the documented words, never a token. */
function signingAsWritten(signing: SigningConfig | undefined): unknown {
  if (signing === undefined) return undefined;
  const { signers, written, ...rest } = signing;
  const source = (credential: SignerCredential | undefined) =>
    credential === undefined
      ? {}
      : credential === 'random'
        ? { randomToken: true }
        : 'file' in credential
          ? { tokenFile: credential.file }
          : 'env' in credential
            ? { tokenEnv: credential.env }
            : { tokenSha256: `${credential.sha256.slice(0, 8)}…` };
  if (written !== 'signers') return { ...source(signers[0]?.credential), ...rest };
  return { signers: signers.map(({ credential, ...signer }) => ({ ...signer, ...source(credential) })), ...rest };
}

/** The effective config for the startup log: key sources (paths, variable names), never key material. */
export function effectiveConfig(loaded: LoadedConfig): unknown {
  return {
    ...loaded.config,
    signing: signingAsWritten(loaded.config.signing),
    routes: loaded.config.routes.map((route) => ({
      ...route,
      scheme: route.scheme.id,
      keys: route.keys.map((key) =>
        key.publicDemoSecret === undefined ? key : { ...key, publicDemoSecret: '[published demo secret]' },
      ),
    })),
  };
}
