/** Library API: sign and verify tokens from an application, with the same code the service runs. */

export { ConfigError } from './config/config-error.js';
export { type LoadedConfig, loadConfig } from './config/load-config.js';
export { authorize, type Decision, findRoute, type Gate, type Route } from './core/authorize.js';
export { canonicalIp } from './core/client-ip.js';
export type { SignedToken } from './core/token-scheme.js';
export { type Rejection, Verdict } from './core/verdict.js';
export { expiresIn, type HmacSignerOptions, hmacSigner } from './hmac-signer.js';
export { LinkRequestError } from './links/sign-link.js';
export { configSigner, type RouteSigner, routeSigner, type SignedLink, type SignerEnvironment } from './route-signer.js';
export { findScheme, schemes } from './schemes/registry.js';
export type { RouteKey, SchemeDefinition, SignRequest, TokenScheme } from './schemes/scheme.js';
