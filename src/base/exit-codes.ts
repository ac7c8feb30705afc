/** Documented exit codes of the `tokengate` command (docs/cli.md, "Exit codes"). */
export const ExitCode = {
  ok: 0,
  /** verify: the URL is denied (403). */
  denied: 1,
  /** verify: the signature is genuine but the token expired (410). */
  expired: 2,
  /** verify: the service could not decide (bad source, bad client IP). */
  undecided: 3,
  /** Wrong command-line usage (sysexits EX_USAGE). */
  usage: 64,
  /** The HTTP engine cannot run here (EX_UNAVAILABLE). */
  unavailable: 69,
  /** Internal error (EX_SOFTWARE). */
  software: 70,
  /** Cannot listen on a configured address (EX_OSERR). */
  listen: 71,
  /** Invalid configuration or unreadable key (EX_CONFIG). */
  config: 78,
} as const;

export class UsageError extends Error {
  readonly code = 'E_USAGE';
}
