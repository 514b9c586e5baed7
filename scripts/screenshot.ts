// Takes the README's screenshot of a running dashboard: npx tsx scripts/screenshot.ts <url> <api key> [out.png]
// (e.g. against `npm run demo`, with the key it prints).
import { launchBrowser } from "../test/support/browser";

const [url, key, out = "docs/dashboard.png"] = process.argv.slice(2);
if (!url || !key) {
  console.error("Usage: npx tsx scripts/screenshot.ts <dashboard url> <api key> [out.png]");
  process.exit(2);
}
const browser = await launchBrowser();
try {
  const page = await browser.newPage({ viewport: { width: 1320, height: 900 }, deviceScaleFactor: 1 });
  await page.goto(`${url}/signin`);
  await page.fill("#key", key);
  await page.click("button[type=submit]");
  await page.waitForURL(`${url}/`);
  await page.waitForTimeout(3500); // one poll of the live job figures
  await page.screenshot({ path: out, fullPage: true });
  console.log(`Saved ${out}`);
} finally {
  await browser.close();
}
