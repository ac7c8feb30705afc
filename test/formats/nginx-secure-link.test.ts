/**
 * nginx secure_link: tokengate's `nginx-secure-link` scheme against real nginx running
 * `secure_link` + `secure_link_md5` (the oracle). The same raw requests go to nginx checking the
 * links itself and to nginx.example.conf asking tokengate; the answers must be the same, path
 * tricks included, from an IPv4 and an IPv6 client. The few requests where tokengate is
 * deliberately stricter are listed apart, each with nginx's answer and the reason.
 */

import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Problems } from '../../src/base/problems.js';
import { Verdict } from '../../src/base/verdict.js';
import { compileRoutes } from '../../src/config/compile-gate.js';
import { parseConfig, parseRoutes } from '../../src/config/parse-config.js';
import { authorize, findRoute } from '../../src/decision/authorize.js';
import { parseClientIp } from '../../src/request/client-ip.js';
import { nginxTarget } from '../../src/request/nginx-uri.js';
import { nginxAddressText } from '../../src/schemes/nginx-secure-link/nginx-address-text.js';
import { nginxSecureLink } from '../../src/schemes/nginx-secure-link/nginx-secure-link.js';
import { parseExpression } from '../../src/schemes/nginx-secure-link/secure-link-expression.js';
import { docBlock } from '../helpers/doc-blocks.js';
import { gateFor } from '../helpers/gates.js';
import { freePort, type RunningNginx, renderExampleConfig, startNginx, withTestPaths } from '../helpers/nginx.js';
import { RawConnection } from '../helpers/raw-http.js';
import { scannedBy } from '../helpers/scanned.js';
import { type RunningService, runCli, startService, tempDir, writeConfig } from '../helpers/service-process.js';

const vectors = JSON.parse(readFileSync(new URL('../vectors/nginx-secure-link.json', import.meta.url), 'utf8')) as {
  cases: { name: string; expression?: string; md5?: string; url: string; remote_addr?: string }[];
};
const documented = '$secure_link_expires$uri$remote_addr $secret';
const secret = 'secure-link-test-secret';
const gateWith = (options: Record<string, unknown>, key = secret, prefix = '/') =>
  gateFor([{ name: 'sl', prefix, scheme: 'nginx-secure-link', keys: [{ id: 'k', env: 'SL_KEY' }], options }], { SL_KEY: key });

/** The documented formula, written out: base64url(md5(expires + $uri + address + " " + secret)) without padding. */
const token = (uriBytes: Buffer | string, expires: number | string, address: string, key = secret) =>
  createHash('md5')
    .update(Buffer.concat([Buffer.from(String(expires)), Buffer.from(uriBytes), Buffer.from(`${address} ${key}`)]))
    .digest('base64url');

describe('nginx-secure-link: the published example', () => {
  const example = vectors.cases.find((c) => c.expression !== undefined)!;
  const gate = gateWith({ md5: example.expression!.replace(' secret', ' $secret') }, 'secret');
  it('verifies the nginx documentation example and expires at its end', () => {
    expect(authorize(gate, example.url, example.remote_addr, 2_000_000_000).verdict).toBe(Verdict.valid);
    expect(authorize(gate, example.url, example.remote_addr, 2147483647).verdict).toBe(Verdict.valid);
    expect(authorize(gate, example.url, example.remote_addr, 2147483648).verdict).toBe(Verdict.expired);
    expect(authorize(gate, example.url, '127.0.0.2', 2_000_000_000).verdict).toBe(Verdict.forged);
    expect(authorize(gate, example.url.replace('/s/link', '/s/lin'), '127.0.0.1', 2_000_000_000).verdict).toBe(Verdict.forged);
  });
  it('the signer writes the example link', () => {
    const signed = findRoute(gate, '/s/link')!.scheme.sign({ path: '/s/link', expiresSec: 2147483647, clientIp: '127.0.0.1' });
    expect(signed).toEqual({ carrier: 'query', query: example.url.slice(example.url.indexOf('?') + 1) });
  });
});

describe('nginx-secure-link: configuration', () => {
  const problems = (options: Record<string, unknown>) => {
    const found = new Problems();
    nginxSecureLink.readOptions(options, 'options', found);
    return found.list.join('\n');
  };
  it.each([
    [{}, /md5: is required/],
    [{ md5: 42 }, /md5: must be the secure_link_md5 expression \(1 to 1024 characters\)/],
    [{ md5: '$secure_link_expires$uri secret' }, /no \$secret/],
    [{ md5: '$secure_link_expires$remote_addr $secret' }, /no \$uri/],
    [{ md5: '$uri $secret' }, /does not sign \(\$secure_link_expires\)/],
    [{ secureLink: '$arg_md5', md5: '$secure_link_expires$uri $secret' }, /secureLink has no end time/],
    [{ secureLink: '$arg_md5;$arg_e', md5: '$uri$secure_link_expires $secret' }, /secureLink: must be/],
    [{ secureLink: '$arg_md5,$arg_md5', md5: '$uri$secure_link_expires $secret' }, /two values/],
    [{ md5: '$secure_link_expires$uri$host $secret' }, /\$host is not a variable tokengate computes/],
    [{ md5: '$secure_link_expires$uri $ $secret' }, /not followed by a variable name/],
    [{ md5: '${secure_link_expires$uri $secret' }, /"\$\{" at 0 has no "\}"/],
    [{ md5: '${uri-x}$secure_link_expires $secret' }, /not a variable name/],
    [{ md5: '$secure_link_expires$uri$arg_md5 $secret' }, /which secureLink reads/],
    [{ md5: documented, salt: 'x' }, /salt: unknown field \(known: secureLink, md5\)/],
  ])('%j is refused', (options, message) => {
    expect(problems(options)).toMatch(message);
  });
  it('reads ${name}, any case, $document_uri, $http_ and $cookie_ variables', () => {
    expect(parseExpression('${URI}x$Http_User_Agent$cookie_sid$document_uri')).toEqual([
      { variable: 'uri' },
      { literal: 'x' },
      { variable: 'value', source: { from: 'http', name: 'user-agent' } },
      { variable: 'value', source: { from: 'cookie', name: 'sid' } },
      { variable: 'uri' },
    ]);
    expect(problems({ md5: '$secure_link_expires$uri$http_user_agent $secret' })).toBe('');
  });
  it('declares the headers its routes read, so the engines capture them', () => {
    const found = new Problems();
    const read = nginxSecureLink.readOptions(
      { secureLink: '$cookie_md5,$arg_e', md5: '$secure_link_expires$uri$http_x_user $secret' },
      'o',
      found,
    );
    expect(found.list).toEqual([]);
    expect(read.tokenHeaders).toEqual(['cookie', 'x-user']);
  });
  it('a route reading a header or cookie is refused on the uws engine, as the page says', () => {
    const routes = [
      {
        prefix: '/s/',
        scheme: 'nginx-secure-link',
        keys: [{ id: 'k', env: 'K' }],
        options: { md5: '$secure_link_expires$uri$cookie_sid $secret' },
      },
    ];
    const refused = parseConfig({ engine: 'uws', listeners: [{ port: 0, pathPrefix: '/t', clientIpInPath: true }], routes });
    expect(Array.isArray(refused) ? refused.join('\n') : '').toMatch(/engine "uws" cannot read safely/);
  });
});

describe('nginx-secure-link: warnings and config problems', () => {
  const compile = (routes: unknown[]) => {
    const parsed = parseRoutes(routes);
    if ('problems' in parsed) throw new Error(parsed.problems.join());
    return compileRoutes(parsed, { baseDir: '/', env: { K: secret } });
  };
  const route = (md5: string, prefix = '/s/') => ({
    name: 'sl',
    prefix,
    scheme: 'nginx-secure-link',
    keys: [{ id: 'k', env: 'K' }],
    options: { md5 },
  });
  it('warns where a value can move into the next, as the documented expression lets it', () => {
    expect(compile([route(documented)]).warnings).toEqual([expect.stringContaining('$uri and $remote_addr are adjacent')]);
    expect(compile([route('$secure_link_expires$remote_addr$uri $secret')]).warnings).toEqual([]);
    expect(compile([route('$secure_link_expires$uri $remote_addr $secret')]).warnings).toEqual([]);
    expect(compile([route('$secure_link_expires$uri$arg_u$http_x_t $secret')]).warnings).toHaveLength(2);
    // The move the warning describes, shown: a link for /a/b1 from 2.3.4.5 opens /a/b from 12.3.4.5.
    const gate = compile([route(documented, '/a/')]).gate;
    const live = 1_900_000_060;
    const uri = `/a/b1?md5=${token('/a/b1', live, '2.3.4.5')}&expires=${live}`;
    expect(authorize(gate, uri.replace('/a/b1?', '/a/b?'), '12.3.4.5', 1_900_000_000).verdict).toBe(Verdict.valid);
  });
  it('refuses two prefixes that nginx reads as one', () => {
    const other = { name: 'az', prefix: '/%C3%A9/', scheme: 'azion', keys: [{ id: 'k', env: 'K' }] };
    expect(compile([route(documented, '/%c3%a9/'), other]).problems).toEqual([
      expect.stringContaining('the same prefix as nginx reads it'),
    ]);
  });
  it('a stream scope counts its segments after the prefix as nginx reads it', () => {
    const streamRoute = { ...route('$secure_link_expires$uri $secret', '/t%2Cv/'), stream: { playlist: 'index.m3u8', depth: 1 } };
    const gate = gateFor([streamRoute], { K: secret });
    const live = 1_900_000_060;
    const md5 = createHash('md5').update(`${live}/t,v/c/index.m3u8 ${secret}`).digest('base64url');
    const q = `md5=${md5}&expires=${live}`;
    expect(authorize(gate, `/t,v/c/seg-1.ts?${q}`, undefined, 1_900_000_000).verdict).toBe(Verdict.valid);
    expect(authorize(gate, `/t%2Cv/c/x/../seg-1.ts?${q}`, undefined, 1_900_000_000).verdict).toBe(Verdict.valid);
    expect(authorize(gate, `/t,v/d/seg-1.ts?${q}`, undefined, 1_900_000_000).verdict).toBe(Verdict.forged);
  });
});

describe('nginx-secure-link: $remote_addr as nginx writes it', () => {
  it.each([
    ['127.0.0.1', '127.0.0.1'],
    ['::1', '::1'],
    ['::ffff:192.0.2.1', '::ffff:192.0.2.1'],
    ['::192.0.2.1', '::192.0.2.1'],
    ['::102', '::0.0.1.2'],
    ['::2', '::2'],
    ['1::', '1::'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['2001:DB8::0:1', '2001:db8::1'],
    ['1:0:0:2:0:0:0:3', '1:0:0:2::3'],
    ['1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8'],
    ['1:0:2:3:4:5:6:7', '1:0:2:3:4:5:6:7'],
  ])('%s is %s', (address, text) => {
    expect(nginxAddressText(parseClientIp(address)!)).toBe(text);
  });
});

describe('nginx-secure-link: request values', () => {
  const gate = gateWith({ md5: '$secure_link_expires$uri$arg_user$http_x_tenant$cookie_sid $secret' });
  const now = 1_900_000_000;
  const expires = now + 60;
  const headers = (tenant: string | null | undefined, cookie: string | null | undefined) => ({
    get: (name: string) => (name === 'x-tenant' ? tenant : name === 'cookie' ? cookie : undefined),
  });
  const md5 = (path: string, user: string, tenant: string, sid: string) =>
    createHash('md5').update(`${expires}${path}${user}${tenant}${sid} ${secret}`).digest('base64url');
  it('signs the raw $arg_ value, the header and the cookie; an absent one is empty', () => {
    const m = md5('/f', 'al%20ice', 't1', 's9');
    expect(
      authorize(gate, `/f?user=al%20ice&md5=${m}&expires=${expires}`, undefined, now, headers('t1', 'a=1; SID=s9')).verdict,
    ).toBe(Verdict.valid);
    expect(authorize(gate, `/f?USER=al%20ice&md5=${m}&expires=${expires}`, undefined, now, headers('t1', 'sid=s9')).verdict).toBe(
      Verdict.valid,
    );
    const empty = md5('/f', '', '', '');
    expect(authorize(gate, `/f?md5=${empty}&expires=${expires}`, undefined, now, headers(undefined, undefined)).verdict).toBe(
      Verdict.valid,
    );
    expect(
      authorize(gate, `/f?user=x&md5=${empty}&expires=${expires}`, undefined, now, headers(undefined, undefined)).verdict,
    ).toBe(Verdict.forged);
  });
  it('refuses a value given twice (nginx would take the first; an origin may read the last)', () => {
    const m = md5('/f', 'alice', 't1', 's9');
    const q = `md5=${m}&expires=${expires}`;
    const decide = (uri: string, tenant: string | null, cookie: string | null) =>
      authorize(gate, uri, undefined, now, headers(tenant, cookie)).verdict;
    expect(decide(`/f?user=alice&${q}`, 't1', 'sid=s9')).toBe(Verdict.valid);
    expect(decide(`/f?user=alice&User=bob&${q}`, 't1', 'sid=s9')).toBe(Verdict.malformed);
    expect(decide(`/f?user=alice&%75ser=bob&${q}`, 't1', 'sid=s9')).toBe(Verdict.malformed);
    expect(decide(`/f?user=alice&${q}`, null, 'sid=s9')).toBe(Verdict.malformed);
    expect(decide(`/f?user=alice&${q}`, 't1', 'sid=s9; SID=x')).toBe(Verdict.malformed);
    expect(decide(`/f?user=alice&${q}`, 't1', null)).toBe(Verdict.malformed);
    expect(decide(`/f?user=alice&${q}&md5=${m}`, 't1', 'sid=s9')).toBe(Verdict.malformed);
  });
  it('refuses a header or cookie value outside ASCII (a door that decodes UTF-8 would hash other bytes)', () => {
    const m = md5('/f', 'alice', 'A', 's9');
    const q = `user=alice&md5=${m}&expires=${expires}`;
    expect(authorize(gate, `/f?${q}`, undefined, now, headers('A', 'sid=s9')).verdict).toBe(Verdict.valid);
    for (const [tenant, cookie] of [
      ['\u0141', 'sid=s9'],
      ['\u6c41', 'sid=s9'],
      ['\u00c1', 'sid=s9'],
      ['A', 'sid=\u0161'],
    ] as const) {
      expect(authorize(gate, `/f?${q}`, undefined, now, headers(tenant, cookie)).verdict).toBe(Verdict.malformed);
    }
  });

  it('the signer refuses what it cannot know', () => {
    expect(() => findRoute(gate, '/f')!.scheme.sign({ path: '/f', expiresSec: expires })).toThrow(/\$arg_user/);
    const noExpiry = gateWith({ secureLink: '$arg_md5', md5: '$uri $secret' });
    expect(() => findRoute(noExpiry, '/f')!.scheme.sign({ path: '/f', expiresSec: expires })).toThrow(/never expire/);
    const bound = gateWith({ md5: documented });
    expect(() => findRoute(bound, '/f')!.scheme.sign({ path: '/f', expiresSec: expires })).toThrow(/client IP/);
    const unbound = gateWith({ md5: '$secure_link_expires$uri $secret' });
    expect(() => findRoute(unbound, '/f')!.scheme.sign({ path: '/f', expiresSec: expires, clientIp: '192.0.2.1' })).toThrow(
      /cannot sign clientIp/,
    );
  });
  it('a route without an end time: tokens never expire, an added expires is ignored as nginx ignores it', () => {
    const forever = gateWith({ secureLink: '$arg_md5', md5: '$uri $secret' });
    const m = createHash('md5').update(`/f ${secret}`).digest('base64url');
    expect(authorize(forever, `/f?md5=${m}`, undefined, 9_999_999_999).verdict).toBe(Verdict.valid);
    expect(authorize(forever, `/f?md5=${m}&expires=1`, undefined, now).verdict).toBe(Verdict.valid);
  });
});

describe('nginx-secure-link: reading the query is linear in it', () => {
  const gate = gateWith({ md5: '$secure_link_expires$uri$arg_user $secret' });
  it.each([
    ['"&" only', (n: number) => '&'.repeat(n)],
    ['names without "="', (n: number) => 'a&'.repeat(n / 2)],
    ['one "=" at the end', (n: number) => `${'&'.repeat(n)}x=1`],
  ])('%s: indexOf scans at most 3 characters per query character', (_name, make) => {
    for (const n of [1000, 8000]) {
      const query = make(n);
      const scanned = scannedBy(() => authorize(gate, `/f?${query}`, '192.0.2.1', 1_900_000_000));
      expect(scanned).toBeLessThanOrEqual(3 * query.length);
    }
  });
});

describe('nginx-secure-link: routes are chosen on $uri, raw-path routes keep their rules', () => {
  const gate = gateFor(
    [
      {
        name: 'sl',
        prefix: '/dl/',
        scheme: 'nginx-secure-link',
        keys: [{ id: 'k', env: 'SL_KEY' }],
        options: { md5: documented },
      },
      { name: 'az', prefix: '/my/', scheme: 'azion', keys: [{ id: 'k', env: 'AZ_KEY' }] },
    ],
    { SL_KEY: secret, AZ_KEY: 'azion-secret-for-tests' },
  );
  const now = 1_900_000_000;
  const expires = now + 60;
  const sl = (path: string) => `md5=${token(path, expires, '192.0.2.1')}&expires=${expires}`;
  const decide = (uri: string) => authorize(gate, uri, '192.0.2.1', now);
  it('an nginx route gets nginx’s reading of the path, whatever the spelling', () => {
    expect(decide(`/dl/a.bin?${sl('/dl/a.bin')}`).verdict).toBe(Verdict.valid);
    expect(decide(`/my/../dl/./a.bin?${sl('/dl/a.bin')}`).verdict).toBe(Verdict.valid);
    expect(decide(`/%64l//a.bin?${sl('/dl/a.bin')}`).verdict).toBe(Verdict.valid);
    expect(decide(`/dl/..%2fmy/a.bin?${sl('/my/a.bin')}`).verdict).not.toBe(Verdict.valid);
  });
  it('a spelling that nginx reads as a raw-path route is that route’s, with its strict rules', () => {
    // nginx serves /my/x for these: the azion route decides, and it refuses spellings it does not sign.
    expect(decide(`/dl/../my/x?${sl('/my/x')}`).verdict).toBe(Verdict.badUri);
    expect(decide(`/%6dy/x?${sl('/my/x')}`).verdict).toBe(Verdict.badUri);
    expect(decide(`/dl/%2e%2e/my/x?${sl('/my/x')}`).verdict).toBe(Verdict.badUri);
    expect(decide('/my/x').verdict).toBe(Verdict.missing);
    expect(decide('/other').verdict).toBe(Verdict.noRoute);
  });
});

describe('nginx-secure-link: the same answers as real nginx secure_link', () => {
  const dir = tempDir();
  const root = join(dir, 'root');
  const files: Record<string, Buffer> = {
    '/s/link': Buffer.from('/s/link'),
    '/s/a b.txt': Buffer.from('/s/a b.txt'),
    '/s/été.txt': Buffer.from('/s/été.txt'),
    '/s/sub/deep.ts': Buffer.from('/s/sub/deep.ts'),
    '/s/a+b': Buffer.from('/s/a+b'),
  };
  let oracle: RunningNginx;
  let shipped: RunningNginx;
  let tokengate: RunningService;
  let tokengatePortOf: number;
  const now = () => Math.floor(Date.now() / 1000);

  beforeAll(async () => {
    for (const name of Object.keys(files)) {
      mkdirSync(join(root, name, '..'), { recursive: true });
      writeFileSync(join(root, name), `file ${name}\n`);
    }
    execFileSync('chmod', ['-R', 'a+rX', dir]);
    writeFileSync(join(dir, 'sl.key'), `${secret}\n`);
    const tokengatePort = await freePort();
    const configFile = writeConfig(dir, {
      listeners: [{ port: tokengatePort, uriHeader: 'X-Original-URI', clientIpHeader: 'X-Real-IP' }],
      admin: { port: 0 },
      routes: [
        {
          name: 'sl',
          prefix: '/',
          scheme: 'nginx-secure-link',
          keys: [{ id: 'k', file: 'sl.key' }],
          options: { md5: documented },
        },
        {
          name: 'cookie',
          prefix: '/c/',
          scheme: 'nginx-secure-link',
          keys: [{ id: 'k', file: 'sl.key' }],
          options: { md5: '$secure_link_expires$uri|$cookie_sid $secret' },
        },
      ],
    });
    tokengate = await startService(['serve', '--config', configFile]);
    tokengatePortOf = tokengatePort;
    const shippedPort = await freePort();
    const shippedPrefix = join(dir, 'shipped');
    const shippedConfig = renderExampleConfig({ listenPort: shippedPort, tokengatePort, prefix: shippedPrefix, root }).replace(
      `listen 127.0.0.1:${shippedPort};`,
      `listen 127.0.0.1:${shippedPort};\n        listen [::1]:${shippedPort};`,
    );
    shipped = await startNginx(shippedConfig, shippedPrefix, shippedPort);
    const oraclePort = await freePort();
    const oraclePrefix = join(dir, 'oracle');
    const oracleConfig = withTestPaths(
      [
        'events {}',
        'http {',
        '    server {',
        `        listen 127.0.0.1:${oraclePort};`,
        `        listen [::1]:${oraclePort};`,
        `        root ${root};`,
        '        location /c/ {',
        '            secure_link $arg_md5,$arg_expires;',
        `            secure_link_md5 "$secure_link_expires$uri|$cookie_sid ${secret}";`,
        '            if ($secure_link = "") { return 403; }',
        '            if ($secure_link = "0") { return 410; }',
        '            return 200 "ok";',
        '        }',
        '        location / {',
        '            secure_link $arg_md5,$arg_expires;',
        `            secure_link_md5 "$secure_link_expires$uri$remote_addr ${secret}";`,
        '            if ($secure_link = "") { return 403; }',
        '            if ($secure_link = "0") { return 410; }',
        '        }',
        '    }',
        '}',
        '',
      ].join('\n'),
      oraclePrefix,
    );
    oracle = await startNginx(oracleConfig, oraclePrefix, oraclePort);
  });
  afterAll(() => Promise.all([oracle?.stop(), shipped?.stop(), tokengate?.stop()]));

  async function answer(port: number, host: string, target: string): Promise<string> {
    const connection = await RawConnection.open(port, host);
    try {
      connection.write(`GET ${target} HTTP/1.1\r\nHost: files\r\nConnection: close\r\n\r\n`);
      const response = await connection.read();
      return response.status === 200 ? `200 ${response.body}` : String(response.status);
    } finally {
      connection.destroy();
    }
  }
  const both = async (host: string, target: string) => ({
    nginx: await answer(oracle.port, host, target),
    tokengate: await answer(shipped.port, host, target),
  });

  /** Raw spellings nginx reads as `path` (percent-encoded as a client would, then tricks). */
  const spellings = (path: string): string[] => {
    const encoded = path
      .split('/')
      .map((segment) => encodeURIComponent(segment))
      .join('/');
    const [, first = '', ...rest] = encoded.split('/');
    return [
      encoded,
      `/${first}/./${rest.join('/')}`,
      `/${first}//${rest.join('/')}`,
      `//${first}/${rest.join('/')}`,
      `/x/../${first}/${rest.join('/')}`,
      `/${first}/y/%2e%2e/${rest.join('/')}`,
      `/${first}%2F${rest.join('/')}`,
      `/%${first.charCodeAt(0).toString(16)}${first.slice(1)}/${rest.join('/')}`,
      `/${first}/${rest.join('/')}/.`,
      `/${first}/${rest.join('/')}/x/..`,
      `/../${first}/${rest.join('/')}`,
      `/${first}/${rest.join('/').toUpperCase()}`,
    ];
  };

  it('identical answers for genuine, expired, foreign and malformed links, path tricks included, from IPv4 and IPv6', async () => {
    const differences: string[] = [];
    let compared = 0;
    const statuses = new Set<string>();
    for (const [host, address] of [
      ['127.0.0.1', '127.0.0.1'],
      ['::1', '::1'],
    ] as const) {
      const t = now();
      for (const path of Object.keys(files)) {
        const bytes = Buffer.from(path, 'utf8');
        const live = t + 300;
        const dead = t - 300;
        const queries = [
          `md5=${token(bytes, live, address)}&expires=${live}`,
          `expires=${live}&md5=${token(bytes, live, address)}==`,
          `MD5=${token(bytes, live, address)}&Expires=${live}&other=1`,
          `md5=${token(bytes, dead, address)}&expires=${dead}`,
          `md5=${token(bytes, live, address === '::1' ? '127.0.0.1' : '::1')}&expires=${live}`,
          `md5=${token(bytes, live, address)}&expires=${live + 1}`,
          `md5=${token(bytes, live, address)}`,
          `expires=${live}`,
          `md5=&expires=${live}`,
          `md5=${token(bytes, live, address)}&expires=`,
          `md5=${token(bytes, live, address, 'other-secret')}&expires=${live}`,
          `md5=${token('/s/other', live, address)}&expires=${live}`,
          `md5=${token(bytes, live, address).slice(1)}&expires=${live}`,
          `md5=${token(bytes, live, address)}&expires=${live}x`,
          '',
        ];
        for (const spelling of spellings(path)) {
          for (const query of queries) {
            const target = query === '' ? spelling : `${spelling}?${query}`;
            const got = await both(host, target);
            compared++;
            statuses.add(got.nginx.slice(0, 3));
            if (got.nginx !== got.tokengate)
              differences.push(`${host} ${target}: nginx ${got.nginx}, tokengate ${got.tokengate}`);
          }
        }
      }
    }
    expect(differences).toEqual([]);
    // Every answer occurs, or the comparison proves little.
    expect([...statuses].sort()).toEqual(['200', '400', '403', '410']);
    expect(compared).toBeGreaterThan(700);
  });

  it('reads $cookie_ as nginx does, and refuses a cookie nginx could read twice', async () => {
    const live = now() + 300;
    const link = (sid: string) =>
      `/c/f?md5=${createHash('md5').update(`${live}/c/f|${sid} ${secret}`).digest('base64url')}&expires=${live}`;
    const send = async (port: number, request: string) => {
      const connection = await RawConnection.open(port);
      try {
        connection.write(request);
        return (await connection.read()).status;
      } finally {
        connection.destroy();
      }
    };
    const asNginx = (target: string, cookie: string) =>
      send(oracle.port, `GET ${target} HTTP/1.1\r\nHost: files\r\nCookie: ${cookie}\r\nConnection: close\r\n\r\n`);
    const asTokengate = (target: string, cookie: string) =>
      send(
        tokengatePortOf,
        `GET /auth HTTP/1.1\r\nHost: t\r\nX-Original-URI: ${target}\r\nX-Real-IP: 127.0.0.1\r\nCookie: ${cookie}\r\nConnection: close\r\n\r\n`,
      );
    // Same answers: nginx's separators, spaces, case, and values that run to ";" (a "," included).
    for (const [cookie, signedFor] of [
      ['sid=alice', 'alice'],
      ['a=1; SID=alice', 'alice'],
      ['a=1,sid=alice', 'alice'],
      ['sid = alice', 'alice'],
      ['sidx=1; sid=alice', 'alice'],
      ['a=1', ''],
      ['sid\t=alice', ''],
      ['sid=bob', 'alice'],
    ] as const) {
      const target = link(signedFor);
      expect([cookie, await asTokengate(target, cookie)]).toEqual([cookie, await asNginx(target, cookie)]);
    }
    // Stricter: nginx reads the first "sid" (bob), an application may read the other: refused.
    expect(await asNginx(link('bob'), 'a=1, sid=bob; sid=alice')).toBe(200);
    expect(await asTokengate(link('alice'), 'a=1, sid=bob; sid=alice')).toBe(403);
    expect(await asTokengate(link('bob'), 'a=1, sid=bob; sid=alice')).toBe(403);
    // A value running past a "," holds another cookie's start: nginx reads "alice, b=2"; tokengate refuses "sid" seen twice only when it is.
    expect(await asNginx(link('alice, b=2'), 'sid=alice, b=2')).toBe(200);
    expect(await asTokengate(link('alice, b=2'), 'sid=alice, b=2')).toBe(200);
  });

  it("tokengate's signer makes links real nginx accepts", async () => {
    const gate = gateWith({ md5: documented });
    for (const path of Object.keys(files)) {
      const encoded = path
        .split('/')
        .map((segment) => encodeURIComponent(segment))
        .join('/');
      const signed = findRoute(gate, encoded)!.scheme.sign({ path: encoded, expiresSec: now() + 60, clientIp: '127.0.0.1' });
      if (signed.carrier !== 'query') throw new Error('query expected');
      expect(await answer(oracle.port, '127.0.0.1', `${encoded}?${signed.query}`)).toBe(
        `200 ${Buffer.from(`file ${path}\n`).toString('latin1')}`,
      );
    }
  });

  it('deliberately stricter than nginx: these genuine-looking links are denied by tokengate only', async () => {
    const path = '/s/link';
    const live = now() + 300;
    const good = token(path, live, '127.0.0.1');
    // The same digest with other low bits in its last character ("A" → "B"): nginx ignores them.
    const sibling = good.slice(0, 21) + String.fromCharCode(good.charCodeAt(21) + 1);
    const leadingZero = `0${live}`;
    const cases: [string, string, string][] = [
      [
        `${path}?md5=${sibling}&expires=${live}`,
        '200',
        'a second spelling of the same digest (tokengate takes one spelling only)',
      ],
      [`${path}?md5=${good}=x&expires=${live}`, '200', 'text after "=" padding is ignored by nginx'],
      [
        `${path}?md5=${token(path, leadingZero, '127.0.0.1')}&expires=${leadingZero}`,
        '200',
        'an end time with a leading zero (with "$uri$secure_link_expires" it lets a path digit move into the time)',
      ],
      [`${path}?md5=${good}&expires=${live}&md5=x`, '200', 'md5 given twice: nginx takes the first'],
      [`${path}?md5=${good}&expires=${live}#x`, '200', 'a raw "#": nginx drops it and what follows'],
    ];
    for (const [target, nginxAnswer, why] of cases) {
      const got = await both('127.0.0.1', target);
      expect(got.nginx.slice(0, 3), why).toBe(nginxAnswer);
      expect(got.tokengate, why).toBe('403');
    }
  });
});

describe('docs/formats/nginx-secure-link.md', () => {
  const page = readFileSync(new URL('../../docs/formats/nginx-secure-link.md', import.meta.url), 'utf8');
  it('the route shown loads, and its sign command makes the link the documented formula gives', async () => {
    const dir = tempDir();
    const shown = JSON.parse(docBlock('docs/formats/nginx-secure-link.md', 'nginx-secure-link-route')) as {
      keys: { id: string; file: string }[];
    };
    writeFileSync(join(dir, 'secure-link-secret'), 'my-secret\n');
    shown.keys[0]!.file = join(dir, 'secure-link-secret');
    const configFile = writeConfig(dir, {
      listeners: [{ port: 0, uriHeader: 'X-Original-URI', clientIpHeader: 'X-Real-IP' }],
      routes: [shown],
    });
    const command = /`tokengate (sign --route downloads [^`]*)`/.exec(page)![1]!.split(' ');
    const result = await runCli([...command, '--config', configFile]);
    expect(result.code, result.stderr).toBe(0);
    const link = result.stdout.trim();
    const expires = /expires=(\d+)/.exec(link)![1]!;
    expect(link).toBe(`/s/file.bin?md5=${token('/s/file.bin', expires, '192.0.2.10', 'my-secret')}&expires=${expires}`);
  });
  it('its example of $uri is what nginxTarget computes', () => {
    expect(page).toContain('`/x/../s//%6cink` is `/s/link`');
    expect(nginxTarget('/x/../s//%6cink')).toEqual({ path: '/s/link', query: '' });
  });
});
