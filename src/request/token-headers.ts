/** Request headers a scheme reads (cookies, a token header), as the proxy forwarded them. */
export interface TokenHeaders {
  /** The value, undefined when absent, null when the header appeared more than once. */
  get(lowercaseName: string): string | undefined | null;
}

export const noHeaders: TokenHeaders = Object.freeze({ get: () => undefined });
