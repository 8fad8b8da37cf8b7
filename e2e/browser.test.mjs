// ws13 against a real browser: Debian's Chromium driven by playwright-core.
//
// Run by e2e/run.sh, which builds the examples and a development certificate
// and passes them in the environment:
//   WS13_EXAMPLES  directory with the async_echo and chat binaries (built with `tls`)
//   WS13_CERT_DIR  directory with cert.pem and key.pem (from the gen_cert example)
//   WS13_SCREENSHOT  where to write the two-tab chat screenshot (optional)
// Everything listens on 127.0.0.1; every wait is bounded.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer as createHttpServer } from "node:http";
import { createServer as createTcpServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { chromium } from "playwright-core";

const EXAMPLES = process.env.WS13_EXAMPLES;
const CERT_DIR = process.env.WS13_CERT_DIR;
const SCREENSHOT = process.env.WS13_SCREENSHOT;
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const CHROMIUM_FLAGS = [
  "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync",
  // The wss:// server uses a self-signed development certificate.
  "--ignore-certificate-errors",
];

const children = [];
const closers = [];
let context;
let userDataDir;

/** Starts an example binary on an ephemeral port; resolves with the announced host:port. */
function startExample(name, args = []) {
  const child = spawn(join(EXAMPLES, name), ["--addr", "127.0.0.1:0", ...args], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  children.push(child);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${name} did not announce its address`)), 30_000);
    createInterface({ input: child.stdout }).on("line", (line) => {
      const found = line.match(/(?:wss?|https?):\/\/(127\.0\.0\.1:\d+)/);
      if (found) {
        clearTimeout(timer);
        resolve(found[1]);
      }
    });
    child.on("exit", (code) => reject(new Error(`${name} exited with ${code}`)));
  });
}

/** Resolves once the server listens; returns its port. */
function listen(server) {
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () => resolve(server.address().port)));
}

// The test page: its script runs the WebSocket checks (see `echoInPage`).
const TEST_PAGE = `<!doctype html><meta charset="utf-8"><title>ws13 e2e</title><p>ws13 e2e</p>`;
let pageUrl;

before(async () => {
  assert.ok(EXAMPLES && CERT_DIR, "run through e2e/run.sh (WS13_EXAMPLES, WS13_CERT_DIR)");
  const http = createHttpServer((_, response) => {
    response.writeHead(200, { "content-type": "text/html; charset=utf-8" });
    response.end(TEST_PAGE);
  });
  pageUrl = `http://127.0.0.1:${await listen(http)}/`;
  closers.push(() => http.close());
  userDataDir = mkdtempSync(join(tmpdir(), "ws13-chromium-"));
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_FLAGS,
    ignoreHTTPSErrors: true,
    viewport: { width: 480, height: 420 },
    timeout: 30_000,
  });
});

after(async () => {
  await context?.close();
  for (const close of closers) close();
  for (const child of children) child.kill();
  if (userDataDir) rmSync(userDataDir, { recursive: true, force: true });
});

/** In the page: opens `url`, sends a text and a binary message, returns what came back. */
async function echoInPage(page, url) {
  return page.evaluate(async (url) => {
    const events = [];
    const ws = new WebSocket(url);
    ws.binaryType = "arraybuffer";
    const next = () => new Promise((resolve, reject) => {
      ws.onmessage = (event) => resolve(event.data);
      ws.onerror = () => reject(new Error("error event"));
      ws.onclose = (event) => reject(new Error(`closed ${event.code}`));
    });
    await new Promise((resolve, reject) => {
      ws.onopen = resolve;
      ws.onerror = () => reject(new Error(`cannot open ${url}`));
    });
    events.push("open");
    const text = "héllo from Chromium ✓";
    ws.send(text);
    const textEcho = await next();
    ws.send(new Uint8Array([0, 1, 2, 127, 128, 254, 255]));
    const binaryEcho = await next();
    const closed = new Promise((resolve) => { ws.onclose = (event) => resolve(event); });
    ws.close(1000, "done");
    const close = await closed;
    return {
      events,
      textEcho,
      textSent: text,
      binaryEcho: Array.from(new Uint8Array(binaryEcho)),
      close: { code: close.code, wasClean: close.wasClean },
    };
  }, url);
}

test("Chromium echoes text and binary through async_echo over ws:// and wss://", async () => {
  const plain = await startExample("async_echo");
  const secure = await startExample("async_echo", [
    "--cert", join(CERT_DIR, "cert.pem"), "--key", join(CERT_DIR, "key.pem"),
  ]);
  const page = await context.newPage();
  await page.goto(pageUrl);
  for (const url of [`ws://${plain}/`, `wss://${secure}/`]) {
    const result = await echoInPage(page, url);
    assert.equal(result.textEcho, result.textSent, url);
    assert.deepEqual(result.binaryEcho, [0, 1, 2, 127, 128, 254, 255], url);
    assert.deepEqual(result.close, { code: 1000, wasClean: true }, url);
    console.log(`${url}: text and binary echoed, closed cleanly with 1000`);
  }
  await page.close();
});

/** A raw server answering every handshake with a 101 that has two `Connection` lines. */
async function duplicateConnectionServer() {
  const server = createTcpServer((socket) => {
    let head = "";
    socket.on("data", (chunk) => {
      head += chunk.toString("latin1");
      if (!head.includes("\r\n\r\n")) return;
      const key = head.match(/^sec-websocket-key:\s*(\S+)/im)?.[1] ?? "";
      const accept = createHash("sha1").update(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest("base64");
      socket.write(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n" +
          "Connection: Upgrade\r\nConnection: Upgrade\r\n" +
          `Sec-WebSocket-Accept: ${accept}\r\n\r\n`,
      );
      // One unmasked text frame, "hello".
      socket.write(Buffer.from([0x81, 0x05, ...Buffer.from("hello")]));
      socket.removeAllListeners("data");
      socket.on("data", () => {});
    });
    socket.on("error", () => {});
  });
  const port = await listen(server);
  closers.push(() => server.close());
  return port;
}

test("Chromium accepts a 101 with two Connection lines (WebKit does not: ws13's client validator is the guard)", async () => {
  const port = await duplicateConnectionServer();
  const page = await context.newPage();
  const console_ = [];
  page.on("console", (message) => console_.push(message.text()));
  await page.goto(pageUrl);
  const observed = await page.evaluate(async (url) => {
    const events = [];
    const ws = new WebSocket(url);
    await new Promise((resolve) => {
      ws.onopen = () => events.push("open");
      ws.onmessage = (event) => { events.push(`message:${event.data}`); resolve(); };
      ws.onerror = () => { events.push("error"); };
      ws.onclose = (event) => { events.push(`close:${event.code}`); resolve(); };
      setTimeout(resolve, 5000);
    });
    ws.close();
    return events;
  }, `ws://127.0.0.1:${port}/`);
  console.log(`Chromium with two 'Connection: Upgrade' lines: events ${JSON.stringify(observed)}; console ${JSON.stringify(console_)}`);
  assert.deepEqual(observed, ["open", "message:hello"]);
  await page.close();
});

test("two Chromium tabs talk through the chat example (screenshot)", async () => {
  const chat = await startExample("chat");
  const tabs = [];
  for (const name of ["alice", "bob"]) {
    const tab = await context.newPage();
    // The page joins on load with the name it remembers in localStorage.
    await tab.addInitScript((name) => localStorage.setItem("ws13-chat-name", name), name);
    await tab.goto(`http://${chat}/`);
    await tab.waitForSelector("#text:not([disabled])", { timeout: 10_000 });
    tabs.push(tab);
  }
  const [alice, bob] = tabs;
  const say = async (tab, text) => {
    await tab.fill("#text", text);
    await tab.press("#text", "Enter");
  };
  await say(alice, "hi bob, this goes through ws13");
  await bob.waitForSelector("#log >> text=alice: hi bob", { timeout: 10_000 });
  await say(bob, "hello alice! one broadcast channel, two tabs");
  await alice.waitForSelector("#log >> text=bob: hello alice", { timeout: 10_000 });
  await say(alice, "the heartbeat keeps us connected");
  await bob.waitForSelector("#log >> text=heartbeat keeps", { timeout: 10_000 });
  const bobLog = await bob.locator("#log").innerText();
  assert.match(bobLog, /alice: hi bob/);
  assert.match(bobLog, /bob: hello alice/);
  if (SCREENSHOT) {
    const shots = [];
    for (const tab of tabs) shots.push((await tab.screenshot()).toString("base64"));
    const combined = await context.newPage();
    await combined.setViewportSize({ width: 1000, height: 440 });
    await combined.setContent(
      `<body style="margin:0;background:#888;display:flex;gap:20px;padding:10px">` +
        shots.map((s) => `<img style="border:1px solid #444" src="data:image/png;base64,${s}">`).join("") +
        `</body>`,
    );
    await combined.screenshot({ path: SCREENSHOT });
    console.log(`screenshot written to ${SCREENSHOT}`);
    await combined.close();
  }
  for (const tab of tabs) await tab.close();
});
