// A real browser over HTTP/2: Debian's Chromium (driven by playwright-core)
// loads the axum example's page over https:// with HTTP/2 and opens a wss://
// WebSocket to it. The server's record must say that the WebSocket arrived
// as an RFC 8441 extended CONNECT on HTTP/2, not as an HTTP/1.1 upgrade,
// and text and binary must echo.
//
// Run by e2e/h2.sh, which builds the example and a development certificate
// and passes them in the environment:
//   WS13_EXAMPLES  directory with the axum_app binary (features axum,tls)
//   WS13_CERT_DIR  directory with cert.pem and key.pem (from gen_cert)
//   WS13_CHROMIUM_H2_FLAGS  extra Chromium flags, space-separated (optional)
// Everything listens on 127.0.0.1; every wait is bounded.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { chromium } from "playwright-core";

const EXAMPLES = process.env.WS13_EXAMPLES;
const CERT_DIR = process.env.WS13_CERT_DIR;
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const EXTRA_FLAGS = (process.env.WS13_CHROMIUM_H2_FLAGS || "").split(" ").filter(Boolean);
const CHROMIUM_FLAGS = [
  "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync",
  // The server uses a development certificate.
  "--ignore-certificate-errors",
  ...EXTRA_FLAGS,
];

let server;
let context;
let userDataDir;
/** The server's stdout lines, as they arrive. */
const serverLines = [];

/** Starts axum_app with TLS on an ephemeral port; resolves with host:port. */
function startServer() {
  server = spawn(join(EXAMPLES, "axum_app"), [
    "--addr", "127.0.0.1:0",
    "--cert", join(CERT_DIR, "cert.pem"), "--key", join(CERT_DIR, "key.pem"),
  ], { stdio: ["ignore", "pipe", "inherit"] });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("axum_app did not announce its address")), 30_000);
    createInterface({ input: server.stdout }).on("line", (line) => {
      serverLines.push(line);
      const found = line.match(/https:\/\/(127\.0\.0\.1:\d+)/);
      if (found) {
        clearTimeout(timer);
        resolve(found[1]);
      }
    });
    server.on("exit", (code) => reject(new Error(`axum_app exited with ${code}`)));
  });
}

before(async () => {
  assert.ok(EXAMPLES && CERT_DIR, "run through e2e/h2.sh (WS13_EXAMPLES, WS13_CERT_DIR)");
  userDataDir = mkdtempSync(join(tmpdir(), "ws13-chromium-h2-"));
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_FLAGS,
    ignoreHTTPSErrors: true,
    timeout: 30_000,
  });
});

after(async () => {
  await context?.close();
  server?.kill();
  if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
});

/** In the page: opens `url`, echoes a text and a binary message, closes. */
async function echoInPage(page, url) {
  return page.evaluate(async (url) => {
    const ws = new WebSocket(url);
    ws.binaryType = "arraybuffer";
    const next = () => new Promise((resolve, reject) => {
      ws.onmessage = (event) => resolve(event.data);
      ws.onerror = () => reject(new Error("error event"));
      ws.onclose = (event) => reject(new Error(`closed ${event.code}`));
    });
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`cannot open ${url} in 10 s`)), 10_000);
      ws.onopen = () => { clearTimeout(timer); resolve(); };
      ws.onerror = () => { clearTimeout(timer); reject(new Error(`cannot open ${url}`)); };
    });
    const text = "héllo over HTTP/2 ✓";
    ws.send(text);
    const textEcho = await next();
    const binary = new Uint8Array(70_000).map((_, i) => i % 251);
    ws.send(binary);
    const binaryEcho = new Uint8Array(await next());
    const closed = new Promise((resolve) => { ws.onclose = (event) => resolve(event); });
    ws.close(1000, "done");
    const close = await closed;
    return {
      textSent: text,
      textEcho,
      binaryEqual: binaryEcho.length === binary.length && binaryEcho.every((b, i) => b === binary[i]),
      binaryLength: binaryEcho.length,
      extensions: ws.extensions,
      close: { code: close.code, wasClean: close.wasClean },
    };
  }, url);
}

test("Chromium opens wss:// over the page's HTTP/2 connection as an extended CONNECT", async () => {
  const addr = await startServer();
  const page = await context.newPage();
  const response = await page.goto(`https://${addr}/`);
  assert.equal(response.status(), 200);
  const pageProtocol = await page.evaluate(
    () => performance.getEntriesByType("navigation")[0].nextHopProtocol,
  );
  console.log(`page https://${addr}/ loaded over ${pageProtocol}`);
  assert.equal(pageProtocol, "h2", "the page itself must come over HTTP/2");

  const result = await echoInPage(page, `wss://${addr}/ws`);
  assert.equal(result.textEcho, result.textSent);
  assert.ok(result.binaryEqual, `binary echo of ${result.binaryLength} bytes differs`);
  assert.deepEqual(result.close, { code: 1000, wasClean: true });
  console.log(`wss://${addr}/ws: text and 70000-byte binary echoed, extensions "${result.extensions}", closed with 1000`);

  const stats = await page.evaluate(async () => (await fetch("/stats")).json());
  console.log(`server record (/stats): ${JSON.stringify(stats)}`);
  const logged = serverLines.filter((line) => line.startsWith("websocket "));
  console.log(`server log: ${JSON.stringify(logged)}`);
  // Two WebSockets: the page's own script opens one on load, the test the other.
  const h2 = { path: "/ws", http: "HTTP/2", via: "extended CONNECT" };
  assert.deepEqual(stats.websockets, [h2, h2]);
  assert.equal(stats.http1_upgrades, 0);
  assert.equal(stats.http2_connects, 2);
  assert.deepEqual(logged, Array(2).fill("websocket /ws arrived as HTTP/2 extended CONNECT"));
  // The page's own WebSocket is open too.
  assert.equal(await page.textContent("#status"), "open");
  await page.close();
});
