// The chat page of `rws serve` in a real browser: Debian's Chromium,
// headless, driven by playwright-core (no browser download of its own).
//
//   node browser/chat.test.mjs 127.0.0.1:PORT     (or RWS_ADDR=127.0.0.1:PORT)
//   node browser/chat.test.mjs https://localhost:PORT SPKI_SHA256_BASE64
//
// Over https:// (the page then uses wss://), Chromium trusts the server's
// key by its SPKI hash (--ignore-certificate-errors-spki-list), and only it.
// CHROMIUM=PATH picks another Chromium than /usr/bin/chromium.
//
// Opening the page joins the lobby, or the room its address names
// (/?room=NAME or /#NAME), under a nickname the browser remembers. Two
// pages join one room (a new name each run) with two nicknames; a line
// typed in each appears, as "<nick>: <message>", in both; a third page, in
// another room, receives neither. With RWS_SERVER_PID and RWS_RESTART (the
// server's pid and the command that starts it again on the same address),
// the server is stopped (its pages see 1001 and wait to reconnect) and
// started again: the pages reconnect by themselves and chat again. Every
// wait is bounded; the whole run too.
import { spawn } from 'node:child_process';
import { chromium } from 'playwright-core';

const WAIT_MS = 10_000;
const TOTAL_MS = 60_000;
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

const target = process.argv[2] || process.env.RWS_ADDR || '';
const tls = target.startsWith('https://');
const spki = process.argv[3];
const addr = target.replace(/^\w+:\/\//, '').replace(/\/.*$/, '');
if (!addr || (tls && !spki)) {
  console.error('usage: node chat.test.mjs HOST:PORT | https://HOST:PORT SPKI_SHA256_BASE64');
  process.exit(2);
}
const base = `${tls ? 'https' : 'http'}://${addr}/`;

let passed = 0;
const check = (what) => {
  passed += 1;
  console.log(`PASS ${what}`);
};
const fail = (what) => {
  throw new Error(what);
};

let browser;
const watchdog = setTimeout(async () => {
  console.error(`FAIL the test took longer than ${TOTAL_MS / 1000} s`);
  await browser?.close().catch(() => {});
  process.exit(1);
}, TOTAL_MS);

// The chat lines of a page (its system lines left out).
const linesOf = (page) =>
  page.$$eval('#messages > li:not(.system)', (items) => items.map((li) => li.textContent));

// Waits until the chat line `text` is in `page`'s list.
async function waitForLine(page, name, text) {
  try {
    await page.waitForFunction(
      (want) => [...document.querySelectorAll('#messages > li')].some((li) => li.textContent === want),
      text,
      { timeout: WAIT_MS },
    );
  } catch {
    fail(`${name} did not show ${JSON.stringify(text)} within ${WAIT_MS / 1000} s; ` +
      `it shows ${JSON.stringify(await linesOf(page))}`);
  }
}

// Waits until `page`'s status is in `state` (open, closed, reconnecting).
async function waitForState(page, name, state, wait = WAIT_MS) {
  try {
    await page.waitForSelector(`#status[data-state="${state}"]`, { timeout: wait });
  } catch {
    fail(`${name} is not ${state} within ${wait / 1000} s: status ${JSON.stringify(await page.textContent('#status'))}`);
  }
}

// A new page at `address` (relative to the server's root): it joins a room
// at once.
async function open(context, name, address = '') {
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT_MS);
  page.on('pageerror', (e) => errors.push(`${name}: ${e.message}`));
  page.on('console', (m) => {
    // While the server is down, the browser logs each failed attempt.
    const expected = restarting && /WebSocket connection to .* failed/.test(m.text());
    if (m.type() === 'error' && !expected) errors.push(`${name}: console: ${m.text()}`);
  });
  const response = await page.goto(base + address);
  if (!response || response.status() !== 200) fail(`GET ${base + address}: status ${response?.status()}`);
  await waitForState(page, name, 'open');
  return page;
}

// Leaves the room the page is in, if any.
async function leave(page, name) {
  if ((await page.textContent('#join')) !== 'Leave') return;
  await page.click('#join');
  await waitForState(page, name, 'closed');
}

async function join(page, name, room, nick) {
  await leave(page, name);
  await page.fill('#room', room);
  await page.fill('#nick', nick);
  await page.click('#join');
  try {
    await page.waitForSelector('#status[data-state="open"]', { timeout: WAIT_MS });
  } catch {
    fail(`${name} did not connect to room ${room}: status ${JSON.stringify(await page.textContent('#status'))}`);
  }
}

// Real typing, then Enter.
async function say(page, text) {
  await page.click('#message');
  await page.keyboard.type(text);
  await page.keyboard.press('Enter');
}

const errors = [];
let code = 0;
let restarted = null; // the server started again by this test
let restarting = false; // the server is being stopped and started again
try {
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      ...(tls ? [`--ignore-certificate-errors-spki-list=${spki}`] : [])],
    timeout: WAIT_MS * 3,
  });
  const run = `${process.pid}-${Date.now().toString(36)}`;
  const room = `browser-${run}`;
  const other = `other-${run}`;
  const [nick1, nick2, nick3] = ['alice', 'bob', 'carol'].map((n) => `${n}-${process.pid}`);
  // One context per page: three independent clients.
  const context1 = await browser.newContext();
  const page1 = await open(context1, 'page 1');
  const lobby = await page1.textContent('#status');
  if (!lobby.includes('room lobby')) fail(`page 1 opened on / is not in the lobby: ${JSON.stringify(lobby)}`);
  check(`${base} serves the chat page (${await page1.title()}), which joins the lobby at once`);
  const page2 = await open(await browser.newContext(), 'page 2', `?room=${room}`);
  const page3 = await open(await browser.newContext(), 'page 3', `#${other}`);
  for (const [page, name, want] of [[page2, 'page 2', room], [page3, 'page 3', other]]) {
    const said = await page.textContent('#status');
    if (!said.includes(`room ${want}`)) fail(`${name} is not in room ${want}: ${JSON.stringify(said)}`);
  }
  check('a page opened on /?room=NAME or /#NAME joins that room at once');

  await leave(page1, 'page 1');
  await page1.fill('#room', 'not a room!');
  await page1.click('#join');
  const state = await page1.getAttribute('#status', 'data-state');
  const said = await page1.textContent('#status');
  if (state !== 'closed' || !/invalid room/i.test(said)) {
    fail(`an invalid room name was not refused: data-state=${state}, status ${JSON.stringify(said)}`);
  }
  check('an invalid room name is refused before connecting');

  await join(page1, 'page 1', room, nick1);
  await page2.fill('#nick', nick2);
  await page3.fill('#nick', nick3);
  check(`pages 1 and 2 are in room ${room}, page 3 in room ${other}`);
  // The server tells who comes (subprotocol "chat"): page 2 was there first.
  await waitForLine(page2, 'page 2', `${nick1} joined (2 here).`);
  const present = await page1.$$eval('#messages > li.system', (items) => items.map((li) => li.textContent));
  if (!present.some((line) => /^Here: guest-\d+\.$/.test(line))) {
    fail(`page 1 was not told who was in the room: ${JSON.stringify(present)}`);
  }
  check(`page 2 sees "${nick1} joined (2 here).", page 1 who was there`);
  if (tls) {
    // A page on https:// may only open wss:// (mixed content is blocked).
    const protocol = await page1.evaluate(() => location.protocol);
    if (protocol !== 'https:') fail(`page 1 is on ${protocol}, not https:`);
    check('the page came over https:// and its WebSockets over wss://');
    // The page came over HTTP/2 (ALPN h2): its WebSockets may then be
    // streams of that connection (RFC 8441); run.sh checks the server's
    // log for which HTTP version carried them.
    const hop = await page1.evaluate(() => performance.getEntriesByType('navigation')[0].nextHopProtocol);
    if (hop !== 'h2') fail(`page 1 came over ${JSON.stringify(hop)}, not h2`);
    check('the page came over HTTP/2 (h2)');
  }

  const first = 'hello from page 1 — ünïcode & <b>no markup</b>';
  await say(page1, first);
  await waitForLine(page1, 'page 1', `${nick1}: ${first}`);
  await waitForLine(page2, 'page 2', `${nick1}: ${first}`);
  if (await page2.$('#messages b')) fail('a received message was rendered as HTML');
  check(`a line typed in page 1 appears in pages 1 and 2 as "${nick1}: …", as text`);

  const reply = 'and a reply from page 2';
  await say(page2, reply);
  await waitForLine(page2, 'page 2', `${nick2}: ${reply}`);
  await waitForLine(page1, 'page 1', `${nick2}: ${reply}`);
  const order = await linesOf(page1);
  if (JSON.stringify(order) !== JSON.stringify([`${nick1}: ${first}`, `${nick2}: ${reply}`])) {
    fail(`page 1 shows ${JSON.stringify(order)}`);
  }
  check('a reply typed in page 2 appears in both, in order');

  // Page 3's own line comes back to it after the room's; none of room's did.
  await say(page3, 'anyone here?');
  await waitForLine(page3, 'page 3', `${nick3}: anyone here?`);
  await page3.waitForTimeout(300);
  const elsewhere = await linesOf(page3);
  if (elsewhere.length !== 1) fail(`page 3, in another room, shows ${JSON.stringify(elsewhere)}`);
  if ((await linesOf(page1)).length !== 2) fail(`page 1 got page 3's line: ${JSON.stringify(await linesOf(page1))}`);
  check('a page in another room receives neither line, nor do they its');

  await page2.click('#join');
  try {
    await page2.waitForSelector('#status[data-state="closed"]', { timeout: WAIT_MS });
  } catch {
    fail(`page 2 did not leave: status ${JSON.stringify(await page2.textContent('#status'))}`);
  }
  const closed = await page2.textContent('#status');
  if (!/code 1000\b/.test(closed)) fail(`page 2 left with ${JSON.stringify(closed)}, not code 1000`);
  if (!(await page2.isEnabled('#room')) || (await page2.textContent('#join')) !== 'Join') {
    fail('page 2 cannot join again after leaving');
  }
  check(`Leave closes with 1000 (${closed})`);

  const again = await open(context1, 'page 1 again');
  const kept = await again.inputValue('#nick');
  if (kept !== nick1) fail(`a new page of page 1's browser has the nickname ${JSON.stringify(kept)}, not ${nick1}`);
  await again.close();
  check('the browser remembers the nickname');

  const pid = Number(process.env.RWS_SERVER_PID || 0);
  const restart = process.env.RWS_RESTART;
  if (pid && restart) {
    await join(page2, 'page 2', room, nick2);
    restarting = true;
    process.kill(pid, 'SIGINT');
    for (const [page, name] of [[page1, 'page 1'], [page2, 'page 2']]) {
      await waitForState(page, name, 'reconnecting');
      const said = await page.textContent('#status');
      if (!/code 1001\b/.test(said)) fail(`${name} says ${JSON.stringify(said)}, not code 1001`);
    }
    check('stopping the server: both pages see 1001 and wait to reconnect');
    // The old server lets its address go when it exits.
    for (let waited = 0; ; waited += 50) {
      try { process.kill(pid, 0); } catch { break; }
      if (waited > WAIT_MS) fail(`the server (pid ${pid}) did not exit within ${WAIT_MS / 1000} s`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    restarted = spawn('sh', ['-c', `exec ${restart}`], { stdio: 'ignore' });
    for (const [page, name] of [[page1, 'page 1'], [page2, 'page 2']]) {
      await waitForState(page, name, 'open', WAIT_MS * 3);
    }
    const back = 'back after the restart';
    await say(page1, back);
    await waitForLine(page2, 'page 2', `${nick1}: ${back}`);
    check('started again, the server has both pages back in the room by themselves, chatting');
  }

  if (errors.length) fail(`errors in the pages:\n  ${errors.join('\n  ')}`);
  console.log(`browser: ${passed} passed, 0 failed`);
} catch (e) {
  code = 1;
  console.error(`FAIL ${e.message}`);
  console.log(`browser: ${passed} passed, 1 failed`);
} finally {
  clearTimeout(watchdog);
  await browser?.close().catch(() => {});
  restarted?.kill('SIGTERM');
}
process.exit(code);
