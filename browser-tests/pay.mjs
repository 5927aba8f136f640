// Drives Debian's chromium through the pay pages for a gateway test.
//
//   node pay.mjs CONFIG_JSON
//
// CONFIG_JSON: {"chromium": path, "artifacts": dir, "runs": [{"name", "url"
// (a bill's pay URL with ?lang=), "method": "fps" | "pps" | "card",
// "card": the test card number}]}
//
// Each run: the bill page, the chosen method's button; for FPS the code's
// page, then the sandbox bank's button, then waiting (the page polls and
// updates itself) until the receipt shows; for PPS the sandbox PPS page,
// "Pay", and the return to the gateway, which shows the bill paid. Every
// page is checked with axe-core and photographed at desktop and phone
// widths. Prints one JSON report on stdout.
import { readFileSync, mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { chromium } from "playwright-core";

const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
const config = JSON.parse(process.argv[2]);
mkdirSync(config.artifacts, { recursive: true });

const browser = await chromium.launch({
  executablePath: config.chromium,
  args: ["--no-sandbox", "--disable-dev-shm-usage"],
});
const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
const page = await context.newPage();
const log = [];
page.on("console", (m) => log.push(`console ${m.type()}: ${m.text()}`));
page.on("pageerror", (e) => log.push(`pageerror: ${e}`));

async function audit(name) {
  await page.evaluate(axeSource);
  const violations = await page.evaluate(async () => {
    const r = await window.axe.run(document, { runOnly: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.length }));
  });
  await page.screenshot({ path: `${config.artifacts}/${name}-desktop.png`, fullPage: true });
  await page.setViewportSize({ width: 390, height: 844 });
  await page.screenshot({ path: `${config.artifacts}/${name}-phone.png`, fullPage: true });
  await page.setViewportSize({ width: 1280, height: 900 });
  const text = await page.evaluate(() => {
    const copy = document.body.cloneNode(true);
    copy.querySelectorAll("[data-user-content], svg").forEach((e) => e.remove());
    document.body.after(copy);
    const t = copy.innerText;
    copy.remove();
    return t;
  });
  const lang = await page.evaluate(() => document.documentElement.lang);
  return { page: name, url: page.url(), lang, violations, text };
}

const report = { runs: [] };
for (const run of config.runs) {
  const pages = [];
  const started = Date.now();
  try {
    await page.goto(run.url);
    pages.push(await audit(`${run.name}-bill`));
    if (run.method === "card") {
      await Promise.all([page.waitForNavigation({ timeout: 10000 }), page.click('a[href*="/card"]')]);
    } else {
      await Promise.all([
        page.waitForNavigation({ timeout: 10000 }),
        page.click(`form:has(input[name="method"][value="${run.method}"]) button`),
      ]);
    }
    if (run.method === "card") {
      pages.push(await audit(`${run.name}-card`));
      await page.fill("#card-number", run.card);
      await page.fill("#card-month", "12");
      await page.fill("#card-year", "30");
      await page.fill("#card-cvc", "123");
      await page.click("#card-pay");
      // The bank's 3-D Secure challenge (the emulator's Stripe.js shows it).
      const confirm = page.getByRole("button", { name: "Complete authentication" });
      await confirm.waitFor({ timeout: 15000 });
      await page.screenshot({ path: `${config.artifacts}/${run.name}-3ds-desktop.png`, fullPage: true });
      await confirm.click();
      await page.waitForURL(/\/receipt/, { timeout: 20000 });
      pages.push(await audit(`${run.name}-receipt`));
    } else if (run.method === "fps") {
      pages.push(await audit(`${run.name}-fps`));
      // The bank credits the code; the page notices by itself.
      await Promise.all([
        page.waitForNavigation({ timeout: 10000 }),
        page.click('form[action$="/sandbox"] button'),
      ]);
      await page.waitForURL(/\/receipt/, { timeout: 20000 });
      pages.push(await audit(`${run.name}-receipt`));
    } else {
      pages.push(await audit(`${run.name}-pps`));
      await Promise.all([page.waitForNavigation({ timeout: 10000 }), page.click('button[value="approve"], form:has(input[value="approve"]) button')]);
      pages.push(await audit(`${run.name}-pps-done`));
      await Promise.all([page.waitForNavigation({ timeout: 10000 }), page.click("button.primary")]);
      await page.waitForLoadState("load");
      pages.push(await audit(`${run.name}-paid`));
    }
    report.runs.push({ name: run.name, pages, url: page.url(), ms: Date.now() - started });
  } catch (e) {
    const body = await page.evaluate(() => document.body && document.body.innerText).catch(() => null);
    report.runs.push({ name: run.name, pages, error: String(e), url: page.url(), body, ms: Date.now() - started });
  }
}
report.log = log;
await browser.close();
process.stdout.write(JSON.stringify(report));
