// Run axe-core over every page of a built web edition, in headless Chromium, in light and dark mode;
// and check each page reflows (WCAG 1.4.10, which axe does not test): on a screen 320 CSS pixels wide,
// nothing but a table, a code block or a formula (each scrolled in its own box) makes the page wider.
//
//   node scripts/axe.mjs build/html [--chromium /usr/bin/chromium] [--tools .tools/node_modules]
//
// The site is served over http from a tiny local server (so scripts and fetch behave as on the web).
// Prints one JSON object: {"pages": N, "violations": [{page, scheme, id, impact, help, nodes: [...]}],
// "reflow": [{page, width}]} (width: how wide the page is laid out at 320 pixels).
// Exit status 0 whatever axe finds (the caller judges); 2 on a usage error or when a tool is missing.
import { browserOptions, serveSite } from "./serve-site.mjs";
import { readFileSync, readdirSync, statSync, existsSync } from "node:fs";
import { join, resolve, relative, sep } from "node:path";
import { createRequire } from "node:module";

const { args, chromium, tools } = browserOptions(process.argv.slice(2));
const site = args[0] && resolve(args[0]);
if (!site || !existsSync(site)) {
  console.error("usage: node scripts/axe.mjs SITE_FOLDER [--chromium PATH] [--tools NODE_MODULES]");
  process.exit(2);
}
const require = createRequire(join(tools, "noop.js"));
let puppeteer, axeSource;
try {
  puppeteer = require("puppeteer-core");
  axeSource = readFileSync(join(tools, "axe-core", "axe.min.js"), "utf8");
} catch (e) {
  console.error(`missing tool: ${e.message}`);
  process.exit(2);
}


function pages(folder) {
  const found = [];
  for (const name of readdirSync(folder)) {
    const path = join(folder, name);
    if (statSync(path).isDirectory()) {
      if (!name.startsWith("pagefind")) found.push(...pages(path));
    } else if (name.endsWith(".html")) found.push(path);
  }
  return found.sort();
}

const { base, server } = await serveSite(site);

const browser = await puppeteer.launch({ executablePath: chromium, headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"] });
const violations = [];
const reflow = [];
const list = pages(site);
try {
  const page = await browser.newPage();
  for (const file of list) {
    const rel = relative(site, file).split(sep).join("/");
    await page.setViewport({ width: 320, height: 640 });
    await page.goto(base + rel, { waitUntil: "load" });
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    if (width > 320) reflow.push({ page: rel, width });
    await page.setViewport({ width: 800, height: 600 });
    for (const scheme of ["light", "dark"]) {
      await page.emulateMediaFeatures([{ name: "prefers-color-scheme", value: scheme }]);
      await page.goto(base + rel, { waitUntil: "load" });
      await page.evaluate(axeSource);
      const result = await page.evaluate(async () =>
        await window.axe.run(document, { resultTypes: ["violations"] }));
      for (const v of result.violations) {
        violations.push({ page: rel, scheme, id: v.id, impact: v.impact, help: v.help,
          nodes: v.nodes.map((n) => ({ target: n.target.join(" "), html: n.html.slice(0, 200),
            summary: n.failureSummary })) });
      }
    }
  }
} finally {
  await browser.close();
  server.close();
}
console.log(JSON.stringify({ pages: list.length, violations, reflow }, null, 1));
