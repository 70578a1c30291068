// Search a built web edition as a reader would: serve it over http, type each query into the search box
// of its title page in headless Chromium, and print the links of the results the page shows.
//
//   node scripts/search.mjs build/html QUERY... [--excerpts] [--chromium /usr/bin/chromium] [--tools .tools/node_modules]
//
// Prints {"QUERY": ["page.html", ...], ...} (the pages, relative to the site), or with --excerpts
// {"QUERY": [["page.html", "the excerpt shown"], ...], ...}. Exit status 2 when a tool is missing or the
// site has no search box.
import { browserOptions, serveSite } from "./serve-site.mjs";
import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { createRequire } from "node:module";

const { args, chromium, tools } = browserOptions(process.argv.slice(2));
const excerpts = args.includes("--excerpts");
if (excerpts) args.splice(args.indexOf("--excerpts"), 1);
const [siteArg, ...queries] = args;
const site = siteArg && resolve(siteArg);
if (!site || !existsSync(site) || !queries.length) {
  console.error("usage: node scripts/search.mjs SITE_FOLDER QUERY... [--chromium PATH] [--tools NODE_MODULES]");
  process.exit(2);
}
let puppeteer;
try {
  puppeteer = createRequire(join(tools, "noop.js"))("puppeteer-core");
} catch (e) {
  console.error(`missing tool: ${e.message}`);
  process.exit(2);
}
const { base, server } = await serveSite(site);
const browser = await puppeteer.launch({ executablePath: chromium, headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"] });
const found = {};
let status = 0;
try {
  const page = await browser.newPage();
  await page.goto(base + "index.html", { waitUntil: "load" });
  if (!(await page.$("#search-input:not([hidden] *)"))) {
    console.error("the page has no visible search box");
    status = 2;
  } else {
    for (const query of queries) {
      await page.$eval("#search-input", (input) => { input.value = ""; });
      await page.type("#search-input", query);
      await page.waitForFunction((q) => document.getElementById("search-results").getAttribute("data-query") === q,
        { timeout: 20000 }, query);
      found[query] = await page.$$eval("#search-results li", (items, root, withExcerpts) =>
        items.map((li) => {
          const href = li.querySelector("a").href.replace(root, "");
          return withExcerpts ? [href, (li.querySelector("p") || {}).textContent || ""] : href;
        }), base, excerpts);
    }
  }
} finally {
  await browser.close();
  server.close();
}
console.log(JSON.stringify(found));
process.exit(status);
