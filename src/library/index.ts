/** Library API: sign and verify tokens from an application, with the same code the service runs. */

export { type Rejection, Verdict } from '../base/verdict.js';
export { ConfigError } from '../config/config-error.js';
export { type LoadedConfig, loadConfig } from '../config/load-config.js';
export { authorize, type Decision, findRoute, type Gate, type Route } from '../decision/authorize.js';
export { LinkRequestError } from '../links/sign-link.js';
export { canonicalIp } from '../request/client-ip.js';
export type { RouteKey, Scheme, SchemeDefinition, SignRequest, TokenScheme } from '../scheme-kit/scheme-definition.js';
export type { SignedToken } from '../scheme-kit/token-scheme.js';
export { findScheme, schemes } from '../schemes/registry.js';
export { expiresIn, type HmacSignerOptions, hmacSigner } from './hmac-signer.js';
export { configSigner, type RouteSigner, routeSigner, type SignedLink, type SignerEnvironment } from './route-signer.js';
