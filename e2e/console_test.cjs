// The web console in a browser (run by e2e/console_test.sh): Debian's Chromium, headless, driven
// by playwright-core, with every request to an address other than loopback aborted. Logs in as
// the demo's user, sees the demo's node RUNNING, opens the application and a microservice, and
// fails on any page error other than the map's (its tiles and script come from the Internet).
// Screenshots go to <out>-dashboard.png, -node.png, -application.png and -microservice.png.
// Usage: node console_test.cjs URL EMAIL PASSWORD OUT-PREFIX
'use strict';
const path = require('path');
const fs = require('fs');

const [url, email, password, out] = process.argv.slice(2);
const pwDir = process.env.IOFOG_PLAYWRIGHT_DIR || '/usr/local/share/iofog-playwright';
const { chromium } = require(path.join(pwDir, 'node_modules', 'playwright-core'));

const STEP_MS = 20000;
const errors = [];
let passed = 0;
const ok = (what) => {
  passed++;
  console.log(`ok: ${what}`);
};

function isLoopback(u) {
  const h = new URL(u).hostname;
  return h === '127.0.0.1' || h === 'localhost' || h === '[::1]';
}

async function main() {
  const profile = fs.mkdtempSync('/tmp/iofog-console-profile.');
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.IOFOG_CHROMIUM || '/usr/bin/chromium',
    headless: true,
    viewport: { width: 1400, height: 900 },
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    let aborted = 0;
    await ctx.route('**/*', (r) => {
      if (isLoopback(r.request().url())) return r.continue();
      aborted++;
      return r.abort();
    });
    const page = ctx.pages()[0] || (await ctx.newPage());
    page.setDefaultTimeout(STEP_MS);
    page.on('pageerror', (e) => {
      // The map (Google Maps script and tiles) cannot load offline; nothing else may fail.
      if (/google map/i.test(e.message)) return;
      errors.push(`page error: ${e.message}`);
    });
    page.on('response', (r) => {
      if (isLoopback(r.url()) && r.status() >= 500) errors.push(`${r.status()} from ${r.url()}`);
    });

    await page.goto(url, { waitUntil: 'domcontentloaded' });
    await page.locator('#email').fill(email);
    await page.locator('#password').fill(password);
    await page.getByRole('button', { name: /^save$/i }).click();
    await page.getByText('Authenticated!').waitFor();
    ok('logged in');

    // The dashboard: the node edge-1, counted RUNNING.
    await page.getByText('edge-1', { exact: true }).first().waitFor();
    await page.getByText('1 RUNNING').first().waitFor();
    await page.screenshot({ path: `${out}-dashboard.png` });
    ok('the node edge-1 is listed, 1 agent RUNNING');

    // The node's own view says RUNNING.
    await page.getByText('edge-1', { exact: true }).first().click();
    await page.getByText(/^agent details$/i).waitFor();
    await page.getByText(/^running$/i).first().waitFor();
    await page.screenshot({ path: `${out}-node.png` });
    ok('the node view shows RUNNING');
    await page.goto(url, { waitUntil: 'domcontentloaded' }); // the login stays (local storage)
    await page.getByText('edge-1', { exact: true }).first().waitFor();

    // The application and its microservices.
    const tabs = page.getByText(/^applications$/i);
    await tabs.last().click();
    await page.getByText('demo', { exact: true }).first().click();
    await page.getByText(/^application details$/i).waitFor();
    await page.getByText('sensor-to-viewer').waitFor();
    const running = await page.getByText(/^running$/i).count();
    if (running < 3) throw new Error(`the application view shows ${running} RUNNING, expected 3`);
    await page.screenshot({ path: `${out}-application.png` });
    ok('application demo: 3 microservices RUNNING, route sensor-to-viewer');

    await page.getByText('sensor', { exact: true }).first().click();
    await page.getByText(/^microservices? details$/i).waitFor();
    await page.getByText(/^resources utilization$/i).waitFor();
    await page.screenshot({ path: `${out}-microservice.png`, fullPage: true });
    ok('microservice sensor opened');

    console.log(`requests to other addresses aborted: ${aborted}`);
  } finally {
    await ctx.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
}

main()
  .catch((e) => errors.push(`step failed: ${e.message.split('\n')[0]}`))
  .finally(() => {
    for (const e of errors) console.log(`FAIL: ${e}`);
    console.log(`${passed} passed, ${errors.length} failed`);
    process.exit(errors.length === 0 && passed === 5 ? 0 : 1);
  });
