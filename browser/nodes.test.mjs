// The chat page across two `rws serve --redis` nodes, in Debian's Chromium
// (headless, driven by playwright-core), with a real redis-server between
// them (browser/run.sh starts them all).
//
//   REDIS_STOP='cmd' REDIS_START='cmd' node browser/nodes.test.mjs HOST:PORT1 HOST:PORT2
//
// A page on each node joins one room (a new name each run): a line typed
// in either appears in both. Then Redis is stopped (REDIS_STOP): both pages
// say the link to the other servers is lost, keep their connections, and
// a line typed on node 1 reaches node 1's page only. Redis is started again
// (REDIS_START): both pages say the link is back, and lines cross again.
// Every wait is bounded; the whole run too.
import { execSync, spawn } from 'node:child_process';
import { chromium } from 'playwright-core';

const WAIT_MS = 10_000;
const TOTAL_MS = 60_000;
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const [addr1, addr2] = process.argv.slice(2);
const stopRedis = process.env.REDIS_STOP;
const startRedis = process.env.REDIS_START;
if (!addr1 || !addr2 || !stopRedis || !startRedis) {
  console.error("usage: REDIS_STOP='cmd' REDIS_START='cmd' node nodes.test.mjs HOST:PORT1 HOST:PORT2");
  process.exit(2);
}

let passed = 0;
const check = (what) => {
  passed += 1;
  console.log(`PASS ${what}`);
};
const fail = (what) => {
  throw new Error(what);
};

let browser;
let redis = null; // the Redis started again by this test
const watchdog = setTimeout(async () => {
  console.error(`FAIL the test took longer than ${TOTAL_MS / 1000} s`);
  await browser?.close().catch(() => {});
  redis?.kill('SIGTERM');
  process.exit(1);
}, TOTAL_MS);

const itemsOf = (page) =>
  page.$$eval('#messages > li', (items) => items.map((li) => li.textContent));

// Waits until a line of `page` passes `test` (a string: equal to it; a
// RegExp: matches it).
async function waitForLine(page, name, want) {
  const source = want instanceof RegExp ? want.source : null;
  const text = want instanceof RegExp ? null : want;
  try {
    await page.waitForFunction(
      ([source, text]) => [...document.querySelectorAll('#messages > li')].some((li) =>
        source !== null ? new RegExp(source).test(li.textContent) : li.textContent === text),
      [source, text],
      { timeout: WAIT_MS },
    );
  } catch {
    fail(`${name} did not show ${want} within ${WAIT_MS / 1000} s; it shows ${JSON.stringify(await itemsOf(page))}`);
  }
}

async function say(page, text) {
  await page.click('#message');
  await page.keyboard.type(text);
  await page.keyboard.press('Enter');
}

const errors = [];
let code = 0;
try {
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    timeout: WAIT_MS * 3,
  });
  const room = `nodes-${process.pid}-${Date.now().toString(36)}`;
  const pages = [];
  for (const [addr, nick] of [[addr1, 'ann'], [addr2, 'bob']]) {
    const page = await (await browser.newContext()).newPage();
    page.setDefaultTimeout(WAIT_MS);
    page.on('pageerror', (e) => errors.push(`${nick}: ${e.message}`));
    const response = await page.goto(`http://${addr}/?room=${room}`);
    if (!response || response.status() !== 200) fail(`GET http://${addr}/: status ${response?.status()}`);
    await page.waitForSelector('#status[data-state="open"]');
    await page.fill('#nick', nick);
    pages.push(page);
  }
  const [ann, bob] = pages;
  check(`a page on each node joins room ${room}`);

  // Both nodes follow the room's channel once their member joined; the
  // first line may be said just before: say it until it crosses.
  for (let tries = 0; ; tries += 1) {
    await say(ann, `hello ${tries}`);
    try {
      await bob.waitForFunction(
        (want) => [...document.querySelectorAll('#messages > li')].some((li) => li.textContent.startsWith(want)),
        'ann: hello',
        { timeout: 1000 },
      );
      break;
    } catch {
      if (tries >= 5) fail(`bob never got a line of ann's: ${JSON.stringify(await itemsOf(bob))}`);
    }
  }
  await say(bob, 'hi ann, from the other node');
  await waitForLine(ann, 'ann', 'bob: hi ann, from the other node');
  check('a line typed on either node appears on the other');

  execSync(stopRedis, { stdio: 'ignore' });
  for (const [page, name] of [[ann, 'ann'], [bob, 'bob']]) {
    await waitForLine(page, name, /link to the other servers is lost/);
    const state = await page.getAttribute('#status', 'data-state');
    if (state !== 'open') fail(`${name}'s connection is ${state} while Redis is down`);
  }
  check('Redis stopped: both pages say the link is lost, and stay connected');

  await say(ann, 'only on node 1');
  await waitForLine(ann, 'ann', 'ann: only on node 1');
  check("meanwhile a line reaches its own node's members");

  redis = spawn('sh', ['-c', `exec ${startRedis}`], { stdio: 'ignore' });
  for (const [page, name] of [[ann, 'ann'], [bob, 'bob']]) {
    await waitForLine(page, name, /link to the other servers is back/);
  }
  const lost = (await itemsOf(bob)).filter((line) => line.includes('only on node 1'));
  if (lost.length) fail(`bob got a line said while Redis was down: ${JSON.stringify(lost)}`);
  check('Redis started again: both pages say the link is back (the line said meanwhile never reached bob)');

  await say(bob, 'together again');
  await waitForLine(ann, 'ann', 'bob: together again');
  await say(ann, 'indeed');
  await waitForLine(bob, 'bob', 'ann: indeed');
  check('lines cross between the nodes again');

  if (errors.length) fail(`errors in the pages:\n  ${errors.join('\n  ')}`);
  console.log(`browser (two nodes): ${passed} passed, 0 failed`);
} catch (e) {
  code = 1;
  console.error(`FAIL ${e.message}`);
  console.log(`browser (two nodes): ${passed} passed, 1 failed`);
} finally {
  clearTimeout(watchdog);
  await browser?.close().catch(() => {});
  redis?.kill('SIGTERM');
}
process.exit(code);
