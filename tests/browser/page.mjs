// Loads a URL in Debian's chromium (headless, driven by playwright-core) and
// prints what a person would see, as one JSON line: the facts read off the
// rendered DOM, every request the page made, and every console error (a CSP
// violation is one), script error or dialog. Saves a screenshot.
//
//   node page.mjs URL SCREENSHOT.png [USER_AGENT]
import { chromium } from 'playwright-core';

const [url, screenshot, userAgent] = process.argv.slice(2);
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--no-first-run'],
});
try {
  const context = await browser.newContext({
    viewport: { width: 1280, height: 900 },
    deviceScaleFactor: 1,
    ...(userAgent ? { userAgent } : {}),
  });
  const page = await context.newPage();
  const requests = [];
  const problems = [];
  page.on('request', (r) => requests.push(r.url()));
  page.on('console', (m) => {
    if (m.type() === 'error' || m.type() === 'warning') problems.push(`console ${m.type()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`script error: ${e}`));
  page.on('dialog', async (d) => {
    problems.push(`dialog: ${d.message()}`);
    await d.dismiss();
  });
  const response = await page.goto(url, { waitUntil: 'load' });
  // The refresh script's first round (after 5 s) sets the health badge.
  await page.waitForFunction(() => document.getElementById('health')?.textContent === 'healthy', null, {
    timeout: 20000,
  });
  const facts = await page.evaluate(() => {
    const text = (sel) => document.querySelector(sel)?.textContent ?? null;
    return {
      title: document.title,
      hostname: text('.host strong'),
      version: text('.version'),
      heading: text('h1'),
      message: text('.message'),
      accent: getComputedStyle(document.documentElement).getPropertyValue('--accent').trim(),
      swatch: getComputedStyle(document.querySelector('.swatch')).backgroundColor,
      band: getComputedStyle(document.querySelector('header')).borderTopColor,
      health: text('#health'),
      uptime: text('#uptime'),
      visits: text('#visits'),
      userAgent: [...document.querySelectorAll('th')].find((th) => th.textContent === 'user agent')
        ?.nextElementSibling?.textContent ?? null,
      config: text('pre'),
      scripts: document.scripts.length,
      injected: document.querySelectorAll('img, iframe, object, embed, form, link').length,
    };
  });
  await page.screenshot({ path: screenshot, fullPage: true });
  console.log(JSON.stringify({ status: response.status(), headers: response.headers(), facts, requests, problems }));
} finally {
  await browser.close();
}
