/**
 * HLS and DASH through nginx.example.conf for every format whose token can cover a stream, played
 * by a real client: ffmpeg (Debian) reads a signed HLS stream in MPEG-TS with an AES-128 key, an
 * HLS stream in fMP4 (EXT-X-MAP init sections, an EXT-X-MEDIA audio rendition) and a DASH
 * manifest, end to end, through real nginx and the service. The HLS streams carry the token by
 * the playlist rewriting, DASH by the stream cookie. nginx's access log then shows every request
 * allowed, and the same token on another channel refused. The streams are made by ffmpeg too.
 */
import { execFile, execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gate } from '../../src/decision/authorize.js';
import { bunnySampleUrl } from '../helpers/bunny-sample.js';
import { covers, fixtureEnv, fixtureRoute, formatFixtures } from '../helpers/formats/index.js';
import { gateFor } from '../helpers/gates.js';
import { freePort, type RunningNginx, renderExampleConfig, startNginx } from '../helpers/nginx.js';
import { type RunningService, startService, tempDir, writeConfig } from '../helpers/service-process.js';
import { testConfig } from '../helpers/test-config.js';

/** The formats whose one token opens a stream's directory, and how: a scope N segments deep, or a "stream" route (alta). */
const streamFormats = ['alta', 'hmac', 'akamai', 'bunny', 'google-cdn', 'cloudfront', 'jwt'] as const;
const clientIp = '127.0.0.1';
const kinds = {
  'HLS, MPEG-TS with an AES-128 key': { dir: 'ts', entry: 'index.m3u8' },
  'HLS, fMP4 with an audio rendition': { dir: 'fmp4', entry: 'index.m3u8' },
  'DASH (the cookie)': { dir: 'dash', entry: 'manifest.mpd' },
} as const;

let dir: string;
let tokengate: RunningService;
let nginx: RunningNginx;
let gate: Gate;
const root = () => join(dir, 'root');

const routeOf = (id: string) => {
  const fixture = formatFixtures[id]!;
  const route = fixtureRoute(fixture, { prefix: `/s/${id}/` });
  // A "stream" route: a token for the channel's playlist opens every file of the channel.
  return id === 'alta' ? { ...route, stream: { playlist: 'index.m3u8', depth: 1 } } : route;
};

/** The query of a token for `/s/<id>/<channel>/<entry>` that opens the whole channel directory. */
function tokenQuery(id: string, channel: string, entry: string): string {
  const route = gate.routes.find((r) => r.name === id)!;
  // A stream route signs the channel's playlist, whichever file of it is named.
  const path = route.signedPath(`/s/${id}/${channel}/${entry}`) as string;
  const signed = route.scheme.sign({
    path,
    expiresSec: Math.floor(Date.now() / 1000) + 600,
    ...(id === 'alta' ? { clientIp, notBeforeSec: Math.floor(Date.now() / 1000) - 60 } : { scopeDepth: 3 }),
  });
  if (signed.carrier !== 'query') throw new Error(`${id} signed a ${signed.carrier}`);
  return signed.query;
}

/** `text` as a regular expression that matches it exactly. */
const literally = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Streams made by ffmpeg from test sources: three 1 s segments of 128x96 video and a tone. */
function makeStreams(media: string): void {
  const input = ['-v', 'error', '-f', 'lavfi', '-i', 'testsrc=duration=3:size=128x96:rate=10'];
  const audio = ['-f', 'lavfi', '-i', 'sine=duration=3:sample_rate=22050'];
  const codecs = [
    '-c:v',
    'libx264',
    '-preset',
    'ultrafast',
    '-g',
    '10',
    '-c:a',
    'aac',
    '-b:a',
    '32k',
    '-map',
    '0:v',
    '-map',
    '1:a',
  ];
  const hls = ['-f', 'hls', '-hls_time', '1', '-hls_playlist_type', 'vod', '-master_pl_name', 'index.m3u8'];
  writeFileSync(join(media, 'enc.key.bin'), Buffer.from('00112233445566778899aabbccddeeff', 'hex'));
  writeFileSync(join(media, 'keyinfo'), `enc.key\n${join(media, 'enc.key.bin')}\n`);
  for (const sub of ['ts', 'fmp4', 'dash']) mkdirSync(join(media, sub));
  const run = (args: string[]) => execFileSync('ffmpeg', [...input, ...audio, ...codecs, ...args], { cwd: media, stdio: 'pipe' });
  run([
    ...hls,
    '-hls_key_info_file',
    'keyinfo',
    '-var_stream_map',
    'v:0,a:0',
    '-hls_segment_filename',
    'ts/v%v/seg-%d.ts',
    'ts/v%v/media.m3u8',
  ]);
  cpSync(join(media, 'enc.key.bin'), join(media, 'ts', 'v0', 'enc.key'));
  // ffmpeg 5.1 cannot encrypt fMP4 ("Encrypted fmp4 not yet supported"): the key is the TS stream's.
  run([
    ...hls,
    '-hls_segment_type',
    'fmp4',
    '-hls_fmp4_init_filename',
    'init.mp4',
    '-var_stream_map',
    'v:0,agroup:aud a:0,agroup:aud',
    '-hls_segment_filename',
    'fmp4/v%v/seg-%d.m4s',
    'fmp4/v%v/media.m3u8',
  ]);
  // With a SegmentTimeline the player asks for exactly the segments there are (no probing past the last).
  run(['-f', 'dash', '-seg_duration', '1', '-use_template', '1', '-use_timeline', '1', 'dash/manifest.mpd']);
}

/** Every file of a stream as the origin holds it, relative to its directory (what a player must fetch). */
function filesOf(root: string, sub = ''): string[] {
  return readdirSync(join(root, sub), { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? filesOf(root, `${sub}${entry.name}/`) : [`${sub}${entry.name}`],
  );
}

/** ffmpeg reads the whole stream at `url` (demuxing every segment, decrypting with the key); its exit code and errors. */
function play(url: string): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      'ffmpeg',
      ['-v', 'error', '-nostdin', '-rw_timeout', '5000000', '-i', url, '-map', '0', '-c', 'copy', '-f', 'null', '-'],
      { timeout: 30_000 },
      (error, _stdout, stderr) => resolve({ code: error === null ? 0 : ((error as { code?: number }).code ?? 1), stderr }),
    );
  });
}

/** nginx's access log lines (the example's format) for paths under `prefix`: status and verdict. */
function logged(prefix: string): { path: string; status: number; verdict: string }[] {
  const log = readFileSync(join(dir, 'nginx', 'tokengate-access.log'), 'utf8');
  return log
    .split('\n')
    .map((line) => /"[A-Z]+ (\S+) HTTP\/[\d.]+" (\d{3}) \d+ verdict="([^"]*)"/.exec(line))
    .filter((match) => match !== null && match[1]!.startsWith(prefix))
    .map((match) => ({ path: match![1]!, status: Number(match![2]), verdict: match![3]! }));
}

beforeAll(async () => {
  dir = tempDir();
  const media = join(dir, 'media');
  mkdirSync(media);
  makeStreams(media);
  const root = join(dir, 'root');
  for (const id of streamFormats) {
    for (const channel of id === 'bunny' ? ['news', 'sport', 'path'] : ['news', 'sport']) {
      for (const kind of Object.values(kinds))
        cpSync(join(media, kind.dir), join(root, 's', id, channel, kind.dir), { recursive: true });
    }
  }
  execFileSync('chmod', ['-R', 'a+rX', dir]);
  const fixtures = streamFormats.map((id) => formatFixtures[id]!);
  const routes = streamFormats.map(routeOf);
  gate = gateFor(routes, fixtureEnv(fixtures));
  const port = await freePort();
  const config = writeConfig(
    dir,
    testConfig({
      listeners: [{ port, uriHeader: 'X-Original-URI', clientIpHeader: 'X-Real-IP', methodHeader: 'X-Original-Method' }],
      routes,
    }),
  );
  tokengate = await startService(['serve', '--config', config], fixtureEnv(fixtures));
  const listenPort = await freePort();
  const prefix = join(dir, 'nginx');
  // With bunny's path form switched on, as a site with such links would.
  nginx = await startNginx(
    renderExampleConfig({ listenPort, tokengatePort: port, prefix, root }, ['bunny-path']),
    prefix,
    listenPort,
  );
}, 60_000);

afterAll(async () => {
  await nginx?.stop();
  await tokengate?.stop();
});

describe.each(streamFormats)('streams through nginx.example.conf: %s', (id) => {
  it.each(Object.entries(kinds))(`%s: ffmpeg plays it, every request allowed ${covers(id)}`, async (_name, kind) => {
    const channel = `/s/${id}/news/${kind.dir}/`;
    const query = tokenQuery(id, `news/${kind.dir}`, kind.entry);
    const played = await play(`http://127.0.0.1:${nginx.port}${channel}${kind.entry}?${query}`);
    expect(played.code, played.stderr).toBe(0);
    expect(played.stderr).toBe('');
    // Every file of the stream was asked for (playlists, renditions, segments, init sections,
    // the key) and served: 200, or 206 for the byte ranges ffmpeg reads. nginx writes its
    // access line after the answer: wait for the last ones to show.
    const files = filesOf(join(dir, 'media', kind.dir)).map((file) => `${channel}${file}`);
    const asked = () => [...new Set(logged(channel).map((line) => line.path))].sort();
    await expect.poll(asked, { timeout: 5000 }).toEqual(files.sort());
    const refused = logged(channel).filter((line) => (line.status !== 200 && line.status !== 206) || line.verdict !== 'valid');
    expect(refused).toEqual([]);
  });

  it(`rewriting puts the token on every reference of an HLS playlist, and nothing else of the query ${covers(id)}`, async () => {
    const base = `http://127.0.0.1:${nginx.port}/s/${id}/news/`;
    for (const [stream, playlists] of [
      ['ts', ['index.m3u8', 'v0/media.m3u8']],
      ['fmp4', ['index.m3u8', 'v0/media.m3u8', 'v1/media.m3u8']],
    ] as const) {
      const query = tokenQuery(id, `news/${stream}`, 'index.m3u8');
      for (const playlist of playlists) {
        // Other query text before the token (bunny signs every parameter of its query: none there).
        const extra = id === 'bunny' ? '' : 'utm_source=%3Cx%3E&';
        const response = await fetch(`${base}${stream}/${playlist}?${extra}${query}`);
        expect(response.status).toBe(200);
        const text = await response.text();
        // Segment lines, and the URI="..." of EXT-X-KEY, EXT-X-MAP and EXT-X-MEDIA.
        const references = [
          ...text.split('\n').filter((line) => line !== '' && !line.startsWith('#')),
          ...[...text.matchAll(/URI="([^"]+)"/g)].map((match) => match[1]!),
        ];
        expect(references.length).toBeGreaterThan(0);
        for (const reference of references)
          expect(reference, `${stream}/${playlist}`).toMatch(new RegExp(`^[^?]+\\?${literally(query)}$`));
        expect(text).not.toContain('utm_source');
      }
    }
  });

  it(`the token of one channel opens no file of another ${covers(id)}`, async () => {
    const query = tokenQuery(id, 'news/ts', 'index.m3u8');
    const other = `/s/${id}/sport/ts/`;
    const played = await play(`http://127.0.0.1:${nginx.port}${other}index.m3u8?${query}`);
    expect(played.code).not.toBe(0);
    await expect.poll(() => logged(other).length, { timeout: 5000 }).toBeGreaterThan(0);
    expect(logged(other).map((line) => line.status)).toEqual(logged(other).map(() => 403));
    // Nor a segment asked for directly with it, or with its cookie.
    const segment = await fetch(`http://127.0.0.1:${nginx.port}${other}v0/seg-0.ts?${query}`);
    expect(segment.status).toBe(403);
    const byCookie = await fetch(`http://127.0.0.1:${nginx.port}${other}v0/seg-0.ts`, {
      headers: { Cookie: `tokengate=${query}` },
    });
    expect(byCookie.status).toBe(403);
    const own = await fetch(`http://127.0.0.1:${nginx.port}/s/${id}/news/ts/v0/seg-0.ts`, {
      headers: { Cookie: `tokengate=${query}` },
    });
    expect(own.status).toBe(200);
  });
});

describe('the stream cookie takes nothing from the request but the token and a plain directory', () => {
  it(`a genuine link whose directory holds ";", "," or a space (nginx decodes them) is served without a cookie ${covers('hmac')}`, async () => {
    const query = tokenQuery('hmac', 'news/ts', 'index.m3u8');
    for (const dir of ['x%3BDomain=evil.example', 'x%2C%20Max-Age=99999', 'x%3B%20SameSite=None']) {
      // The playlist exists under the decoded name (a site with uploaded folder names).
      const folder = join(root(), 's', 'hmac', 'news', decodeURIComponent(dir));
      mkdirSync(folder, { recursive: true });
      cpSync(join(root(), 's', 'hmac', 'news', 'ts', 'index.m3u8'), join(folder, 'index.m3u8'));
      execFileSync('chmod', ['-R', 'a+rX', folder]);
      const response = await fetch(`http://127.0.0.1:${nginx.port}/s/hmac/news/${dir}/index.m3u8?${query}`);
      // Before the directory's grammar, the first answered "Set-Cookie: tokengate=...; Path=/s/hmac/news/x;Domain=evil.example/; ...".
      expect([response.status, response.headers.get('set-cookie')], dir).toEqual([200, null]);
    }
    const plain = await fetch(`http://127.0.0.1:${nginx.port}/s/hmac/news/ts/index.m3u8?${query}`);
    expect(plain.headers.get('set-cookie')).toBe(`tokengate=${query}; Path=/s/hmac/news/ts/; HttpOnly; Secure; SameSite=Lax`);
  });
});

describe('bunny path tokens: the token segment stays in every relative name, no rewriting', () => {
  it.each(Object.entries(kinds))(
    `%s: ffmpeg plays it through the #[bunny-path] location ${covers('bunny')}`,
    async (_name, kind) => {
      const channel = `/s/bunny/path/${kind.dir}/`;
      const fixture = formatFixtures.bunny!;
      const signed = bunnySampleUrl(`https://cdn.example.com${channel}${kind.entry}`, fixture.keys[0].material, {
        expires: Math.floor(Date.now() / 1000) + 600,
        pathAllowed: '/s/bunny/path/',
        isDirectory: true,
      });
      const target = signed.slice('https://cdn.example.com'.length);
      expect(target).toMatch(/^\/bcdn_token=HS256-[^/]+&token_path=%2Fs%2Fbunny%2Fpath%2F&expires=\d{10}\/s\/bunny\/path\//);
      const played = await play(`http://127.0.0.1:${nginx.port}${target}`);
      expect(played.code, played.stderr).toBe(0);
      const files = filesOf(join(dir, 'media', kind.dir)).map((file) => `${channel}${file}`);
      const asked = () => [...new Set(logged(channel).map((line) => line.path))].sort();
      await expect.poll(asked, { timeout: 5000 }).toEqual(files.sort());
      expect(logged(channel).filter((line) => (line.status !== 200 && line.status !== 206) || line.verdict !== 'valid')).toEqual(
        [],
      );
    },
  );
});
