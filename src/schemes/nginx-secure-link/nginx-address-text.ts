import type { ClientIp } from '../../request/client-ip.js';

/** nginx's text of a client address (ngx_sock_ntop, ngx_inet6_ntop): what `$remote_addr` signs. */
export function nginxAddressText(ip: ClientIp): string {
  const groups = ip.v6;
  if (groups === undefined) return ip.mapped === true ? `::ffff:${ip.text}` : ip.text;
  // The longest run of two or more zero groups (the first on a tie) is "::".
  let zero = -1;
  let max = 1;
  let run = 0;
  let start = -1;
  for (let i = 0; i < 8; i++) {
    if (groups[i] !== 0) {
      if (max < run) {
        zero = start;
        max = run;
      }
      run = 0;
      continue;
    }
    if (run++ === 0) start = i;
  }
  if (max < run) {
    zero = start;
    max = run;
  }
  let count = 8;
  let text = '';
  if (zero === 0) {
    // A leading run: nginx writes the last 32 bits as IPv4 for "::a.b.c.d" shapes.
    const last = groups[7]!;
    if (max === 6 || (max === 7 && last >> 8 !== 0 && (last & 0xff) !== 1)) count = 6;
    text = ':';
  }
  for (let i = 0; i < count; i++) {
    if (i === zero) {
      text += ':';
      i += max - 1;
      continue;
    }
    text += groups[i]!.toString(16);
    if (i < 7) text += ':';
  }
  if (count === 6) text += `${groups[6]! >> 8}.${groups[6]! & 0xff}.${groups[7]! >> 8}.${groups[7]! & 0xff}`;
  return text;
}
