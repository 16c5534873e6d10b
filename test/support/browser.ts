// Debian's Chromium, headless, driven by playwright-core: never a downloaded browser. Screenshots go to
// test/artifacts/ (not committed) so a person can look at each view after a run.

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { expect } from 'vitest';
import { ROOT, requireBinary } from './procs.js';

export const CHROMIUM = '/usr/bin/chromium';
export const ARTIFACTS = join(ROOT, 'test', 'artifacts');

export function launchChromium(): Promise<Browser> {
  requireBinary(CHROMIUM, 'apt-get install -y chromium');
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
}

/** Saves a full-page screenshot as test/artifacts/NAME.png and returns its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const path = join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

export async function logIn(page: Page, url: string, username: string, password: string): Promise<void> {
  await page.goto(url);
  await page.fill('input[name=username]', username);
  await page.fill('input[name=password]', password);
  await page.click('button[type=submit]');
}

export const DESK = { width: 1366, height: 768 };
export const PHONE = { width: 390, height: 844 };

/** The page at phone width has no sideways scroll (screenshot kept), then back to desk size. */
export async function fitsPhone(p: Page, name: string): Promise<void> {
  await p.setViewportSize(PHONE);
  await p.waitForTimeout(300);
  const width = await p.evaluate(() => document.documentElement.scrollWidth);
  await screenshot(p, `${name}-phone`);
  expect(width, `${name} fits a phone`).toBeLessThanOrEqual(PHONE.width);
  await p.setViewportSize(DESK);
}
