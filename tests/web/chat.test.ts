/**
 * The web chat page in headless Chromium, served by real nginx (the native template) in front of
 * two real gateways (DEV_TOKENS=1) on real Redis and Kafka: sign-in, messages both ways with their
 * status, presence, an offline recipient's queued message delivered when they come back, and the
 * reconnecting banner across a gateway shutdown; the layout at 320, 420 and 1280 px (no sideways
 * scrolling, the page one viewport tall whatever the names and messages), a message over the
 * size limit refused before sending with its text kept. Screenshots land in test-artifacts/.
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Page } from 'playwright-core';
import { buildWeb } from '../../web/build';
import { ensureChromium, launchChromium, type RunningChromium } from '../support/chromium';
import { isolatedEnv, startGateway, type GatewayProcess } from '../support/gateways';
import { uniqueName } from '../support/infra';
import { startNginx, type RunningNginx } from '../support/nginx';

const ARTIFACTS = resolve(__dirname, '..', '..', 'test-artifacts');
/** Generous: two pages, two gateways and Kafka share two busy cores. */
const WAIT = { timeout: 30_000 };

const missing = ensureChromium();
if (missing !== undefined) console.warn(`[tests/web/chat] SKIPPED: ${missing}`);
const describeWithChromium = missing === undefined ? describe : describe.skip;

describeWithChromium('web chat page in Chromium', () => {
  let gateways: GatewayProcess[] = [];
  let edge: RunningNginx;
  let browser: RunningChromium;
  let webRoot: string;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    webRoot = mkdtempSync(join(tmpdir(), 'postbox-web-'));
    // nginx workers run as nobody.
    chmodSync(webRoot, 0o755);
    await buildWeb(webRoot);
    const env = { ...isolatedEnv(), DEV_TOKENS: '1' };
    gateways = await Promise.all([startGateway({ env }), startGateway({ env })]);
    edge = await startNginx({ upstreamPorts: gateways.map((gateway) => gateway.port), webRoot });
    browser = await launchChromium();
    mkdirSync(ARTIFACTS, { recursive: true });
  }, 240_000);

  afterAll(async () => {
    await browser?.close();
    await edge?.stop();
    await Promise.all(gateways.map((gateway) => gateway.stop()));
    if (webRoot !== undefined) rmSync(webRoot, { recursive: true, force: true });
  });

  afterEach(() => {
    // An uncaught exception in the page fails the test that caused it.
    expect(pageErrors.splice(0)).toEqual([]);
  });

  async function signIn(user: string, peer: string): Promise<Page> {
    const page = await browser.context.newPage();
    page.on('pageerror', (error) => pageErrors.push(`${user}: ${error.message}`));
    await page.goto(`${edge.httpUrl}/`);
    await page.getByLabel('Your user id').fill(user);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('#whoami[data-gateway]').waitFor(WAIT);
    await page.getByLabel('Chat with').fill(peer);
    return page;
  }

  async function send(page: Page, body: string, status: 'sent' | 'queued'): Promise<void> {
    await page.getByRole('textbox', { name: 'Message', exact: true }).fill(body);
    await page.getByRole('button', { name: 'Send' }).click();
    await page.locator(`#messages li.mine[data-status="${status}"]`, { hasText: body }).waitFor(WAIT);
  }

  const received = (page: Page, body: string) =>
    page.locator('#messages li.message:not(.mine)', { hasText: body });

  async function presence(page: Page, state: 'online' | 'offline'): Promise<string> {
    const indicator = page.locator(`#presence[data-state="${state}"]`);
    await indicator.waitFor(WAIT);
    return indicator.innerText();
  }

  const screenshot = (page: Page, name: string) =>
    page.screenshot({ path: join(ARTIFACTS, `web-chat-${name}.png`), fullPage: true });

  /** Sizes that reveal overflow: the page must fit its viewport in both directions. */
  const pageBox = (page: Page) =>
    page.evaluate(() => ({
      scrollWidth: document.documentElement.scrollWidth,
      scrollHeight: document.documentElement.scrollHeight,
      width: window.innerWidth,
      height: window.innerHeight,
    }));

  const boxOf = async (page: Page, selector: string) => {
    const box = await page.locator(selector).boundingBox();
    if (box === null) throw new Error(`${selector} is not displayed`);
    return box;
  };

  test('alice and bob chat both ways; bob away gets alice’s queued message when he comes back', async () => {
    const [alice, bob] = [uniqueName('alice'), uniqueName('bob')];
    const alicePage = await signIn(alice, bob);
    let bobPage = await signIn(bob, alice);

    expect(await presence(alicePage, 'online')).toBe(`${bob} is online`);
    expect(await presence(bobPage, 'online')).toBe(`${alice} is online`);

    await send(alicePage, 'hi bob', 'sent');
    await received(bobPage, 'hi bob').waitFor(WAIT);
    await send(bobPage, 'hello alice <b>not bold</b>', 'sent');
    await received(alicePage, 'hello alice <b>not bold</b>').waitFor(WAIT);
    // Bodies are text, never markup.
    expect(await alicePage.locator('#messages b').count()).toBe(0);
    expect(await received(bobPage, 'hi bob').getAttribute('data-from')).toBe(alice);

    await bobPage.close();
    await presence(alicePage, 'offline');
    await send(alicePage, 'while you were away', 'queued');

    bobPage = await signIn(bob, alice);
    await received(bobPage, 'while you were away').waitFor(WAIT);
    // The first message was acknowledged when bob's first page showed it: not delivered again.
    expect(await received(bobPage, 'hi bob').count()).toBe(0);
    expect(await received(bobPage, 'while you were away').count()).toBe(1);
    expect(await presence(alicePage, 'online')).toBe(`${bob} is online`);

    // A note to oneself comes back as a delivered message with the same id: shown once.
    await alicePage.getByLabel('Chat with').fill(alice);
    await send(alicePage, 'note to self', 'sent');
    await alicePage.locator('#messages li.mine[data-delivered]', { hasText: 'note to self' }).waitFor(WAIT);
    expect(await alicePage.locator('#messages li', { hasText: 'note to self' }).count()).toBe(1);

    await screenshot(alicePage, 'alice');
    await screenshot(bobPage, 'bob');
    await Promise.all([alicePage.close(), bobPage.close()]);
  });

  test('at 320, 420 and 1280 px: no sideways overflow, one viewport tall, long names in their own boxes', async () => {
    // Long (valid) ids, as real deployments have: e-mail-like or tenant-prefixed.
    const erin = `${uniqueName('erin')}@tenant-with-a-long-name.example.com`;
    const frank = `${uniqueName('frank')}@tenant-with-a-long-name.example.com`;
    const erinPage = await signIn(erin, frank);
    const frankPage = await signIn(frank, erin);
    await presence(erinPage, 'online');
    // More messages than fit: the list scrolls in its own box, the page does not grow.
    for (let i = 1; i <= 16; i += 1) await send(erinPage, `message ${i} ${'lorem ipsum '.repeat(i)}`, 'sent');
    await received(frankPage, 'message 16').waitFor(WAIT);

    // 70 KB is over the 64 KiB the gateway's welcome states: refused on the page, nothing sent,
    // the text stays in the box, and no 70 KB bubble stretches the page.
    const compose = erinPage.getByRole('textbox', { name: 'Message', exact: true });
    const tooLong = 'x'.repeat(70_000);
    await compose.fill(tooLong);
    await erinPage.getByRole('button', { name: 'Send' }).click();
    await expect(erinPage.locator('#compose-error').innerText()).resolves.toBe(
      'Not sent: the message is 70,000 bytes, the limit is 65,536 bytes (UTF-8). Shorten it and send again.',
    );
    expect(await compose.inputValue()).toBe(tooLong);
    expect(await erinPage.locator('#messages li').count()).toBe(16);

    for (const width of [320, 420, 1280]) {
      for (const page of [erinPage, frankPage]) await page.setViewportSize({ width, height: 720 });
      const box = await pageBox(erinPage);
      expect({ width, scrollWidth: box.scrollWidth }).toEqual({ width, scrollWidth: box.width });
      expect({ width, pageHeight: box.scrollHeight }).toEqual({ width, pageHeight: box.height });
      expect(await pageBox(frankPage)).toMatchObject({ scrollWidth: width, scrollHeight: 720 });
      // The list scrolls inside itself.
      const list = await erinPage.locator('#messages').evaluate((el) => ({
        scroll: el.scrollHeight,
        client: el.clientHeight,
      }));
      expect(list.scroll).toBeGreaterThan(list.client);
      // "Sign out" shares the title's row; the presence sits under the field, whatever the name.
      const [title, signOut] = [await boxOf(erinPage, '.top h1'), await boxOf(erinPage, '#sign-out')];
      expect(signOut.y).toBeLessThan(title.y + title.height);
      expect(signOut.y + signOut.height).toBeGreaterThan(title.y);
      const [field, status] = [await boxOf(erinPage, '#peer'), await boxOf(erinPage, '#presence')];
      expect(status.y).toBeGreaterThanOrEqual(field.y + field.height);
      expect(status.x + status.width).toBeLessThanOrEqual(width);
      await screenshot(erinPage, `${width}px`);
    }
    await screenshot(frankPage, '1280px-peer');
    await Promise.all([erinPage.close(), frankPage.close()]);
  });

  test('an invalid peer id says which rule it breaks, and nothing is sent to it', async () => {
    const page = await signIn(uniqueName('gina'), 'not valid!');
    const rule = 'a user id is 1-128 characters of A-Z a-z 0-9 . _ @ : -';
    await page.locator('#presence[data-state="invalid"]').waitFor(WAIT);
    expect(await page.locator('#presence').innerText()).toBe(`"not valid!" is not a valid user id: ${rule}`);
    const compose = page.getByRole('textbox', { name: 'Message', exact: true });
    await compose.fill('hello?');
    await page.getByRole('button', { name: 'Send' }).click();
    await expect(page.locator('#compose-error').innerText()).resolves.toBe(`Not sent: ${rule}.`);
    expect(await compose.inputValue()).toBe('hello?');
    expect(await page.locator('#messages li').count()).toBe(0);
    await page.close();
  });

  test('a banner shows while the page reconnects after its gateway shuts down; sends work after', async () => {
    const [carol, dave] = [uniqueName('carol'), uniqueName('dave')];
    const carolPage = await signIn(carol, dave);
    const davePage = await signIn(dave, carol);
    const before = await carolPage.locator('#whoami').getAttribute('data-gateway');
    const gateway = gateways.find((candidate) => candidate.id === before);
    expect(gateway).toBeDefined();

    await presence(carolPage, 'online');
    // The banner may be up only briefly (a 1012 close reconnects at once): record every change,
    // and what the header and the peer's presence said at that moment.
    await carolPage.evaluate(() => {
      const banner = document.getElementById('banner');
      if (banner === null) throw new Error('no #banner');
      new MutationObserver(() => {
        if (banner.hidden || document.body.dataset.bannerSeen !== undefined) return;
        document.body.dataset.bannerSeen = banner.textContent ?? '';
        document.body.dataset.whoamiSeen = document.getElementById('whoami')?.textContent ?? '';
        document.body.dataset.presenceSeen = document.getElementById('presence')?.textContent ?? '';
      }).observe(banner, { attributes: true, childList: true });
    });
    await gateway?.stop();

    await carolPage.locator(`#whoami[data-gateway]:not([data-gateway="${before}"])`).waitFor(WAIT);
    expect(await carolPage.locator('body').getAttribute('data-banner-seen')).toMatch(/reconnecting/);
    // While reconnecting: no gateway named, and the peer is not called offline.
    expect(await carolPage.locator('body').getAttribute('data-whoami-seen')).toBe(
      `Signed in as ${carol} · reconnecting…`,
    );
    expect(await carolPage.locator('body').getAttribute('data-presence-seen')).toBe(`${dave}: reconnecting…`);
    await carolPage.locator('#banner').waitFor({ ...WAIT, state: 'hidden' });

    await send(carolPage, 'still here', 'sent');
    await received(davePage, 'still here').waitFor(WAIT);
    await screenshot(carolPage, 'after-reconnect');
    await Promise.all([carolPage.close(), davePage.close()]);
  });
});
