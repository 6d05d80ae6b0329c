// Node's `ws` client (npm) against an rws echo server, over wss:// trusting
// only the CA given, or over ws://: text and binary messages of several sizes, each echo
// compared with what was sent, permessage-deflate as ws offers it, then a
// close with 1000. Prints PASS/FAIL lines; exits 1 if any check failed.
//
//   node interop/node/client.mjs wss://localhost:PORT/echo CA.pem
//   node interop/node/client.mjs ws://127.0.0.1:PORT/echo
import { readFileSync } from 'node:fs';
import WebSocket from 'ws';

const [url, caFile] = process.argv.slice(2);
if (!url || (url.startsWith('wss:') && !caFile)) {
  console.error('usage: node client.mjs wss://HOST:PORT/echo CA.pem | ws://HOST:PORT/echo');
  process.exit(2);
}
let failed = 0;
const check = (ok, what) => {
  console.log(`${ok ? 'PASS' : 'FAIL'} ${what}`);
  if (!ok) failed += 1;
};
const timer = setTimeout(() => {
  check(false, 'finished within 30 s');
  process.exit(1);
}, 30_000);

const big = Buffer.alloc(1 << 20);
for (let i = 0; i < big.length; i += 1) big[i] = (i * 7919) % 251;
const messages = [
  ['text "hello"', 'hello'],
  ['non-ASCII text', 'héllo wörld ✓ 🦀 '.repeat(50)],
  ['100 KiB repetitive text', 'abcdefgh'.repeat(12_800)],
  ['1 MiB binary of mixed bytes', big],
  ['empty binary', Buffer.alloc(0)],
];

const ws = new WebSocket(url, {
  ...(caFile ? { ca: readFileSync(caFile), ALPNProtocols: ['http/1.1'] } : {}),
  perMessageDeflate: true,
});
ws.on('error', (e) => {
  check(false, `connection: ${e.message}`);
  process.exit(1);
});
const received = [];
let waiting = null;
ws.on('message', (data, isBinary) => {
  received.push([data, isBinary]);
  if (waiting) waiting();
});
const next = () => new Promise((resolve) => {
  if (received.length) resolve(received.shift());
  else waiting = () => { waiting = null; resolve(received.shift()); };
});
ws.on('open', async () => {
  const socket = ws._socket;
  if (caFile) {
    check(socket.encrypted === true && socket.authorized === true,
      `TLS, the server's certificate verified against the CA (${socket.getProtocol()})`);
    check(socket.alpnProtocol === 'http/1.1', `ALPN agreed http/1.1 (${socket.alpnProtocol})`);
  } else {
    check(!socket.encrypted, 'plain TCP (ws://)');
  }
  check(ws.extensions.includes('permessage-deflate'),
    `permessage-deflate agreed (${ws.extensions || 'none'})`);
  for (const [what, payload] of messages) {
    ws.send(payload);
    const [data, isBinary] = await next();
    const binary = typeof payload !== 'string';
    const same = binary === isBinary
      && (binary ? Buffer.compare(Buffer.from(data), payload) === 0 : data.toString() === payload);
    check(same, `${what} echoed`);
  }
  ws.close(1000, 'done');
});
ws.on('close', (code) => {
  check(code === 1000, `closed with 1000 (got ${code})`);
  clearTimeout(timer);
  process.exit(failed ? 1 : 0);
});
