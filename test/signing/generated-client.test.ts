/**
 * The OpenAPI document as code generators take it: openapi-typescript (from the npm registry)
 * generates the API's types from the document the running service serves, the TypeScript
 * compiler checks a client written against them with openapi-fetch (strict; a call that breaks
 * the document's request schema must fail to compile), and the compiled client then signs,
 * verifies and is refused by the real service, reading each answer through the generated types.
 */
import { execFile } from 'node:child_process';
import { symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { docBlock } from '../helpers/doc-blocks.js';
import { startDefaultService, tempDir } from '../helpers/service-process.js';

const root = new URL('../../', import.meta.url).pathname;
let running: Awaited<ReturnType<typeof startDefaultService>>;

const run = (file: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env) =>
  new Promise<string>((resolve, reject) =>
    execFile(process.execPath, [file, ...args], { cwd, env, timeout: 60_000 }, (error, stdout, stderr) =>
      error ? reject(new Error(`${file} ${args.join(' ')}: ${stdout}${stderr || error.message}`)) : resolve(stdout),
    ),
  );

// The service as `npm start` runs it (the embedded default config), which the docs' snippets sign for.
beforeAll(async () => {
  running = await startDefaultService();
});

afterAll(async () => {
  await running?.service.stop();
});

/** The client a user would write against the generated types. */
const client = `
import createClient from 'openapi-fetch';
import type { components, paths } from './tokengate-api.js';

type Problem = components['schemas']['Problem'];

export async function useApi(baseUrl: string, token: string) {
  const api = createClient<paths>({ baseUrl, headers: { Authorization: \`Bearer \${token}\` } });
  const routes = await api.GET('/api/v1/routes');
  const signed = await api.POST('/api/v1/sign', { body: { path: '/tv/news/index.m3u8', ttlSec: 600, clientIp: '192.0.2.9' } });
  if (signed.data === undefined) throw new Error('not signed');
  const url: string = signed.data.url;
  const verdict = await api.POST('/api/v1/verify', { body: { url, clientIp: '192.0.2.9' } });
  const word: components['schemas']['Verdict']['verdict'] | undefined = verdict.data?.verdict;
  const refused = await api.POST('/api/v1/sign', {
    body: { path: '/tv/news/index.m3u8', ttlSec: 600, clientIp: '999.1.1.1', scopeDepth: 1 },
  });
  const problem: Problem | undefined = refused.error;
  // @ts-expect-error the request schema requires a path: a generator that lost it would compile this
  await api.POST('/api/v1/sign', { body: { ttlSec: 600 } });
  const stranger = createClient<paths>({ baseUrl });
  const anonymous = await stranger.GET('/api/v1/routes');
  return {
    routes: routes.data?.routes.map((route) => route.name),
    url,
    expiresSec: signed.data.expiresSec,
    word,
    refusedStatus: refused.response.status,
    problemType: problem?.type,
    pointers: problem?.errors?.map((error) => error.pointer),
    anonymous: { status: anonymous.response.status, type: anonymous.error?.type },
  };
}
`;

describe('a TypeScript client generated from the served OpenAPI document', () => {
  it('compiles strictly against the generated types and signs, verifies and is refused by the service', async () => {
    const dir = tempDir();
    symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'));
    // The generator reads the document from the running service, as a user's build would (docs/signing.md).
    const { admin, auth, token } = running;
    const env = { ...process.env, TOKENGATE_ADMIN: `http://127.0.0.1:${admin}`, TOKENGATE_TOKEN: token };
    await new Promise<void>((resolve, reject) =>
      execFile(
        'sh',
        ['-c', docBlock('docs/signing.md', 'openapi-typescript')],
        { cwd: dir, env, timeout: 60_000 },
        (error, _out, stderr) => (error ? reject(new Error(`openapi-typescript: ${stderr || error.message}`)) : resolve()),
      ),
    );
    writeFileSync(join(dir, 'client.ts'), client);
    // The documented client, printing what it got.
    writeFileSync(
      join(dir, 'doc-client.ts'),
      `${docBlock('docs/signing.md', 'openapi-fetch')}\nconsole.log(JSON.stringify({ data, error }));\n`,
    );
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          strict: true,
          target: 'es2022',
          module: 'nodenext',
          moduleResolution: 'nodenext',
          skipLibCheck: true,
          outDir: 'out',
          types: ['node'],
        },
        files: ['client.ts', 'doc-client.ts'],
      }),
    );
    writeFileSync(join(dir, 'package.json'), '{"type":"module"}');
    await run(join(root, 'node_modules/typescript/bin/tsc'), ['-p', 'tsconfig.json'], dir);
    const { useApi } = (await import(pathToFileURL(join(dir, 'out/client.js')).href)) as {
      useApi: (baseUrl: string, token: string) => Promise<Record<string, unknown>>;
    };
    const result = await useApi(`http://127.0.0.1:${admin}`, token);
    expect(result).toEqual({
      routes: ['demo-azion', 'demo-alta'],
      url: expect.stringMatching(/^\/tv\/news\/index\.m3u8\?token=[0-9a-f]{40}-/),
      expiresSec: expect.any(Number),
      word: 'valid',
      refusedStatus: 400,
      problemType: 'urn:tokengate:problem:invalid-request',
      pointers: ['/scopeDepth', '/clientIp'],
      anonymous: { status: 401, type: 'urn:tokengate:problem:access-token-required' },
    });
    // The link the generated client was handed opens the file for its client, and no other.
    const ask = (ip: string) =>
      fetch(`http://127.0.0.1:${auth}/`, {
        headers: { 'X-Original-URI': result.url as string, 'X-Real-IP': ip, 'X-Original-Method': 'GET' },
      });
    expect((await ask('192.0.2.9')).status).toBe(200);
    expect((await ask('192.0.2.10')).status).toBe(403);
    const documented = JSON.parse(await run(join(dir, 'out/doc-client.js'), [], dir, env)) as { data?: { url: string } };
    expect(documented).toEqual({
      data: expect.objectContaining({ url: expect.stringMatching(/^\/my\/clip\.mp4\?st=[\w-]{22}&e=\d{10}$/) }),
    });
  });
});
