/**
 * The embedded default config: loopback listeners as the shipped nginx config expects, and two
 * demo routes signed with the *published* example secrets so the documented URLs work at once.
 * Anyone can forge tokens for these routes; `serve` says so loudly.
 */
export const defaultConfig = {
  listeners: [
    {
      name: 'auth',
      host: '127.0.0.1',
      port: 8080,
      uriHeader: 'X-Original-URI',
      clientIpHeader: 'X-Real-IP',
      methodHeader: 'X-Original-Method',
    },
  ],
  admin: { host: '127.0.0.1', port: 9090 },
  // One auth thread per CPU this process may use (on Node 20 the node engine serves one thread, and says so).
  workers: 'auto',
  // The signing API on the (loopback) admin listener, with an access token made at each start
  // and printed once to the terminal.
  signing: { randomToken: true },
  clockSkewSec: 30,
  routes: [
    {
      name: 'demo-azion',
      prefix: '/my/',
      scheme: 'azion',
      keys: [{ id: 'published-example', publicDemoSecret: 'mysecret' }],
    },
    {
      name: 'demo-alta',
      prefix: '/tv/',
      scheme: 'alta',
      keys: [{ id: 'published-example', publicDemoSecret: 'secret' }],
      // One token for /tv/<channel>/index.m3u8 covers every playlist and segment of that channel.
      stream: { playlist: 'index.m3u8', depth: 1 },
    },
  ],
} as const;
