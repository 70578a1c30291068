// A tiny static http server for a built web edition, for the browser checks (scripts/axe.mjs,
// scripts/search.mjs): pages, scripts and fetch() behave as on the web. Serves only files inside `site`.
import { createServer } from "node:http";
import { readFileSync, statSync, existsSync } from "node:fs";
import { join, extname, resolve } from "node:path";

const TYPES = { ".html": "text/html; charset=utf-8", ".css": "text/css", ".js": "text/javascript",
  ".mjs": "text/javascript", ".svg": "image/svg+xml", ".png": "image/png", ".jpg": "image/jpeg",
  ".woff": "font/woff", ".woff2": "font/woff2", ".json": "application/json", ".xml": "application/xml",
  ".pdf": "application/pdf", ".epub": "application/epub+zip", ".wasm": "application/wasm" };

// Serve `site` on a free port of 127.0.0.1; resolves to { base, server } (base ends with "/").
export async function serveSite(site) {
  const server = createServer((req, res) => {
    const path = join(site, decodeURIComponent(new URL(req.url, "http://x").pathname));
    if (!path.startsWith(site) || !existsSync(path) || statSync(path).isDirectory()) {
      res.writeHead(404); res.end("not found"); return;
    }
    res.writeHead(200, { "content-type": TYPES[extname(path)] || "application/octet-stream" });
    res.end(readFileSync(path));
  });
  await new Promise((ok) => server.listen(0, "127.0.0.1", ok));
  return { base: `http://127.0.0.1:${server.address().port}/`, server };
}

// The browser checks' command line: the arguments left after --chromium PATH and --tools NODE_MODULES
// (where Ace's puppeteer and axe-core were installed: .tools/node_modules by default) are taken out.
export function browserOptions(argv) {
  const args = argv.slice();
  const option = (name, fallback) => {
    const at = args.indexOf(name);
    return at >= 0 ? args.splice(at, 2)[1] : fallback;
  };
  const chromium = option("--chromium", "/usr/bin/chromium");
  const tools = resolve(option("--tools", new URL("../.tools/node_modules", import.meta.url).pathname));
  return { args, chromium, tools };
}
