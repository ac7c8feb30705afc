/** HMAC-SHA256 in plain JavaScript, resuming from precomputed ipad/opad midstates. */
const K = Int32Array.from([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01,
  0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc,
  0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
  0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08,
  0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
  0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);
const IV = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];
const W = new Int32Array(64);

/** Compresses the block already loaded in W[0..15] into the state `s`. */
function compress(s: Int32Array): void {
  for (let i = 16; i < 64; i++) {
    const x = W[i - 15]!;
    const y = W[i - 2]!;
    W[i] =
      (W[i - 16]! +
        (((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3)) +
        W[i - 7]! +
        (((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10))) |
      0;
  }
  let a = s[0]!;
  let b = s[1]!;
  let c = s[2]!;
  let d = s[3]!;
  let e = s[4]!;
  let f = s[5]!;
  let g = s[6]!;
  let h = s[7]!;
  for (let i = 0; i < 64; i++) {
    const t1 =
      (h +
        (((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7))) +
        ((e & f) ^ (~e & g)) +
        K[i]! +
        W[i]!) |
      0;
    const t2 =
      ((((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10))) + ((a & b) ^ (a & c) ^ (b & c))) | 0;
    h = g;
    g = f;
    f = e;
    e = (d + t1) | 0;
    d = c;
    c = b;
    b = a;
    a = (t1 + t2) | 0;
  }
  s[0] = (s[0]! + a) | 0;
  s[1] = (s[1]! + b) | 0;
  s[2] = (s[2]! + c) | 0;
  s[3] = (s[3]! + d) | 0;
  s[4] = (s[4]! + e) | 0;
  s[5] = (s[5]! + f) | 0;
  s[6] = (s[6]! + g) | 0;
  s[7] = (s[7]! + h) | 0;
}

function midstate(block: Uint8Array): Int32Array {
  const s = Int32Array.from(IV);
  for (let i = 0; i < 16; i++)
    W[i] = (block[4 * i]! << 24) | (block[4 * i + 1]! << 16) | (block[4 * i + 2]! << 8) | block[4 * i + 3]!;
  compress(s);
  return s;
}

export function jsMidstateHmac(secret: Buffer): (message: string) => Buffer {
  const block = new Uint8Array(64);
  block.set(secret.subarray(0, 64));
  const inner = midstate(block.map((byte) => byte ^ 0x36));
  const outer = midstate(block.map((byte) => byte ^ 0x5c));
  const state = new Int32Array(8);
  const out = Buffer.alloc(32);
  return (message) => {
    state.set(inner);
    const n = message.length;
    const blocks = (n + 72) >>> 6;
    let p = 0;
    for (let block = 0; block < blocks; block++) {
      for (let i = 0; i < 16; i++, p += 4) {
        let word = 0;
        if (p + 3 < n) {
          word =
            (message.charCodeAt(p) << 24) |
            (message.charCodeAt(p + 1) << 16) |
            (message.charCodeAt(p + 2) << 8) |
            message.charCodeAt(p + 3);
        } else {
          for (let k = 0; k < 4; k++) word |= (p + k < n ? message.charCodeAt(p + k) : p + k === n ? 0x80 : 0) << (24 - 8 * k);
          if (block === blocks - 1 && i === 15) word = (n + 64) * 8;
        }
        W[i] = word;
      }
      compress(state);
    }
    for (let i = 0; i < 8; i++) W[i] = state[i]!;
    W.fill(0, 8, 16);
    W[8] = 0x80000000 | 0;
    W[15] = (64 + 32) * 8;
    state.set(outer);
    compress(state);
    for (let i = 0; i < 8; i++) out.writeInt32BE(state[i]!, 4 * i);
    return out;
  };
}
