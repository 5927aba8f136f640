// Drives Debian's chromium through the sign-in pages for a gateway test.
//
//   node signin.mjs CONFIG_JSON
//
// CONFIG_JSON: {"chromium": path, "artifacts": dir, "department": its redirect URI, "runs": [{"name", "url",
// "action": "register" | "signin" | "autofill" | "card" | "consent" | "decline"
// | "profile", "untick": [selector], "fill": {selector: value},
// "fresh_cookies": bool, "no_conditional": bool}],
// "pages": [{"name", "url", "click"?}] (audited signed in, after the runs)}
//
// One browser context and one virtual WebAuthn authenticator (CTAP2,
// internal, resident keys, user verification) serve every run, so a
// passkey registered in one run signs in in the next. Department redirects
// (to "department") are answered locally and recorded. For every
// page: axe-core's serious and critical violations, the visible text (to
// check translations), and screenshots at desktop and phone widths.
// Prints one JSON report on stdout.
import { existsSync, readFileSync, mkdirSync, writeFileSync } from "node:fs";
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
const cdp = await context.newCDPSession(page);
await cdp.send("WebAuthn.enable");
const { authenticatorId } = await cdp.send("WebAuthn.addVirtualAuthenticator", {
  options: {
    protocol: "ctap2",
    transport: "internal",
    hasResidentKey: true,
    hasUserVerification: true,
    isUserVerified: true,
    automaticPresenceSimulation: true,
  },
});

let departmentUrl = null;
const log = [];
page.on("console", (m) => log.push(`console ${m.type()}: ${m.text()}`));
page.on("request", (r) => { if (r.url().startsWith(config.department)) departmentUrl = r.url(); });
page.on("response", (r) => { if (r.url().includes("/signin/")) log.push(`${r.status()} ${r.request().method()} ${new URL(r.url()).pathname}`); });
await context.route(config.department + "**", (route) => {
  departmentUrl = route.request().url();
  return route.fulfill({ status: 200, contentType: "text/html", body: "<!doctype html><title>Department</title><p>ok</p>" });
});

async function audit(name) {
  // Evaluated through the DevTools protocol: our CSP (rightly) refuses inline scripts.
  await page.evaluate(axeSource);
  const result = await page.evaluate(async () => {
    const r = await window.axe.run(document, { runOnly: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.length }));
  });
  await page.setViewportSize({ width: 1280, height: 900 });
  await page.screenshot({ path: `${config.artifacts}/${name}-desktop.png`, fullPage: true });
  await page.setViewportSize({ width: 390, height: 844 });
  await page.screenshot({ path: `${config.artifacts}/${name}-phone.png`, fullPage: true });
  await page.setViewportSize({ width: 1280, height: 900 });
  // The page's own words: what citizens typed (data-user-content) is theirs.
  const text = await page.evaluate(() => {
    const copy = document.body.cloneNode(true);
    copy.querySelectorAll("[data-user-content]").forEach((e) => e.remove());
    document.body.after(copy);
    copy.style.position = "absolute";
    const t = copy.innerText;
    copy.remove();
    return t;
  });
  const lang = await page.evaluate(() => document.documentElement.lang);
  return { page: name, url: page.url(), lang, violations: result, text };
}

const report = { runs: [] };
let conditionalOff = false;
for (const run of config.runs) {
  if (run.fresh_cookies) await context.clearCookies();
  // The virtual authenticator answers a conditional (autofill) request at
  // once, so the button paths are exercised with conditional UI reported
  // unavailable (from this run on).
  if (run.no_conditional && !conditionalOff) {
    await page.addInitScript(() => {
      if (window.PublicKeyCredential) window.PublicKeyCredential.isConditionalMediationAvailable = async () => false;
    });
    conditionalOff = true;
  }
  departmentUrl = null;
  const started = Date.now();
  try {
    await page.goto(run.url);
    // The autofill run signs in by itself while the page loads: nothing to
    // audit (the same page is audited in the other runs).
    const signin = run.action === "autofill" ? null : await audit(`${run.name}-signin`);
    const button = {
      register: "#register",
      signin: "#signin",
      card: "#card-helper",
      consent: 'button[value="approve"]',
      decline: 'button[value="decline"]',
    }[run.action];
    // On the consent page, untick what the run says before deciding.
    for (const selector of run.untick || []) await page.uncheck(selector, { timeout: 5000 });
    // "profile": fill the profile page's boxes and save; no department.
    if (run.action === "profile") {
      for (const [selector, value] of Object.entries(run.fill || {})) await page.fill(selector, value);
      await Promise.all([page.waitForNavigation({ timeout: 10000 }), page.click('button[type="submit"].primary')]);
      const saved = await page.evaluate(() => document.body.innerText);
      report.runs.push({ name: run.name, pages: signin ? [signin] : [], saved, url: page.url(), ms: Date.now() - started });
      continue;
    }
    // "autofill": no click; the conditional request signs in by itself.
    await Promise.all([
      page.waitForRequest((r) => r.url().startsWith(config.department), { timeout: 20000 }).catch(() => {}),
      button ? page.click(button, { timeout: 5000 }) : Promise.resolve(),
    ]);
    // The department's host does not exist here: let the browser finish
    // failing to reach it before the next run navigates.
    await page.waitForLoadState("load").catch(() => {});
    for (let i = 0; i < 3; i++) {
      try { await page.goto("about:blank"); break; } catch { await page.waitForTimeout(200); }
    }
    const error = departmentUrl ? null : await page.locator("#error").textContent({ timeout: 1000 }).catch(() => null);
    report.runs.push({ name: run.name, pages: signin ? [signin] : [], department_url: departmentUrl, error, ms: Date.now() - started });
  } catch (e) {
    const body = await page.evaluate(() => document.body && document.body.innerText).catch(() => null);
    report.runs.push({ name: run.name, pages: [], department_url: null, error: String(e), url: page.url(), body, ms: Date.now() - started });
  }
}
// "pause_file": the runs are written there, and the pages wait until
// "resume_file" exists (the test redeems a code in between, before the
// pages revoke the consent behind it).
if (config.pause_file) {
  writeFileSync(config.pause_file, JSON.stringify(report.runs));
  for (let i = 0; i < 600 && !existsSync(config.resume_file); i++) await new Promise((r) => setTimeout(r, 100));
}
// Pages seen signed in, after the last run.
report.pages = [];
for (const extra of config.pages || []) {
  await page.goto(extra.url);
  const audited = await audit(extra.name);
  // "click": a form button pressed after the audit; the page it leads to
  // is reported as "after".
  if (extra.click) {
    await Promise.all([page.waitForNavigation({ timeout: 10000 }), page.click(extra.click, { timeout: 5000 })]);
    audited.after = { url: page.url(), text: await page.evaluate(() => document.body.innerText) };
  }
  report.pages.push(audited);
}
const credentials = await cdp.send("WebAuthn.getCredentials", { authenticatorId });
report.credentials = credentials.credentials.length;
report.log = log;
await browser.close();
process.stdout.write(JSON.stringify(report));
