/**
 * google-cdn and cloudfront read `baseUrl` and `hostHeader` with one reader (scheme-kit/signed-origin.ts):
 * the same options give both formats the same value or the same problems. Each format's test runs these.
 */
import { Problems } from '../../src/base/problems.js';
import type { Scheme } from '../../src/scheme-kit/scheme-definition.js';

const badOrigin = 'o.baseUrl: must be "http(s)://host[:port]": no path, no trailing "/"';
const badHeader = 'o.hostHeader: must be a header name of letters, digits and "-"';
const ok = 'https://cdn.example.com';

/** Options, and what they read as: the origin and header name in lowercase, or every problem. */
export const signedOriginCases: [Record<string, unknown>, { baseUrl: string; hostHeader?: string } | string[]][] = [
  [{ baseUrl: ok }, { baseUrl: ok }],
  [
    { baseUrl: 'https://CDN.Example.COM:8443', hostHeader: 'X-Forwarded-Host' },
    { baseUrl: 'https://cdn.example.com:8443', hostHeader: 'x-forwarded-host' },
  ],
  [{ baseUrl: 'http://a.b:1' }, { baseUrl: 'http://a.b:1' }],
  [{ baseUrl: 'http://a.b:65535' }, { baseUrl: 'http://a.b:65535' }],
  [{ baseUrl: `https://${'a'.repeat(253)}` }, { baseUrl: `https://${'a'.repeat(253)}` }],
  [
    { baseUrl: ok, hostHeader: 'h'.repeat(64) },
    { baseUrl: ok, hostHeader: 'h'.repeat(64) },
  ],
  [{}, ['o.baseUrl: is required: the "https://host[:port]" signers write before the path']],
  [{ baseUrl: `https://${'a'.repeat(254)}` }, [badOrigin]],
  [{ baseUrl: `${ok}/` }, [badOrigin]],
  [{ baseUrl: `${ok}/x` }, [badOrigin]],
  [{ baseUrl: `${ok}:0` }, [badOrigin]],
  [{ baseUrl: `${ok}:65536` }, [badOrigin]],
  [{ baseUrl: `${ok}:` }, [badOrigin]],
  [{ baseUrl: 'ftp://cdn.example.com' }, [badOrigin]],
  // The host is case-insensitive; the scheme is written in lowercase, as signers write it.
  [{ baseUrl: 'HTTPS://cdn.example.com' }, [badOrigin]],
  [{ baseUrl: 'https://user@cdn.example.com' }, [badOrigin]],
  [{ baseUrl: 42 }, [badOrigin]],
  [{ baseUrl: null }, [badOrigin]],
  [{ baseUrl: ok, hostHeader: 'X_Host' }, [badHeader]],
  [{ baseUrl: ok, hostHeader: '' }, [badHeader]],
  [{ baseUrl: ok, hostHeader: 'h'.repeat(65) }, [badHeader]],
  [{ baseUrl: ok, hostHeader: true }, [badHeader]],
  [{ baseUrl: 'https://cdn.example.com/', hostHeader: 'X Host' }, [badOrigin, badHeader]],
];

/** What a format reads of `options`: its origin and header name, or its problems. */
export function readSignedOrigin(scheme: Scheme, options: Record<string, unknown>): object | string[] {
  const problems = new Problems();
  const { value } = scheme.readOptions(options, 'o', problems);
  if (!problems.empty) return problems.list;
  return {
    baseUrl: 'baseUrl' in value ? value.baseUrl : undefined,
    ...('hostHeader' in value && value.hostHeader !== undefined ? { hostHeader: value.hostHeader } : {}),
  };
}
