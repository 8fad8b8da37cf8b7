//! The connection doctor: opens a WebSocket step by step and reports what
//! each step found, with the fix for every problem.
//!
//! ```text
//! cargo run --features tls --example doctor -- URL [--origin PAGE_ORIGIN] [--ca FILE] [--json]
//! cargo run --features http2 --example doctor -- URL --http2 [...]
//! ```
//!
//! The response check names the HTTP version that carried the handshake.
//! With `--http2` (feature `http2`) the doctor first tries a WebSocket over
//! HTTP/2 (RFC 8441 extended CONNECT; TLS with ALPN `h2` for `wss://`,
//! h2c for `ws://`), as a browser on an HTTP/2 page would; where the server
//! does not offer it, it says why and examines HTTP/1.1 as usual.
//!
//! `URL` is `ws://` or `wss://`; `--origin` is the origin of the web page
//! that will connect (it is sent as `Origin` and checked for mixed content);
//! `--ca FILE` trusts the CA certificates in a PEM file besides the Mozilla
//! roots. A proxy named by the environment (`HTTPS_PROXY` for `wss://`,
//! `HTTP_PROXY` for `ws://`, `ALL_PROXY`, minus `NO_PROXY`, as the clients
//! use it) is used as well: DNS and TCP then reach the proxy, and the
//! `proxy` check reports its answer (the CONNECT status, or the SOCKS5
//! reply) with the fix when it refuses. Steps: URL, mixed content, DNS,
//! TCP, proxy, TLS (`wss://`), the raw
//! handshake (request and response heads printed), every problem
//! `ws13-handshake` finds in the response, a ping round trip, and the close
//! handshake. One line per check, `✓` or `✗`, the hint under a `✗`;
//! `--json` prints one JSON object instead. The exit status is 1 when any
//! check failed, 2 for bad arguments.
//!
//! The judging is `ws13`'s: the response checks are
//! `ws13::handshake::diagnostics::diagnose_response`, mixed content is
//! `ws13::page_origin::mixed_content`, TLS hints are
//! `ws13::tls::failure_hint`. This file only moves bytes and prints.

mod common;

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use ws13::codec::Connection;
use ws13::handshake::diagnostics::diagnose_response;
use ws13::handshake::{ClientHandshake, ClientRequest, Status};
use ws13::proxy::{ProxyChoice, ProxyError, ProxyScheme, ProxyUrl};
use ws13::tls::{MaybeTlsStream, TlsOptions, failure_hint};
use ws13::tokio::WebSocketStream;
use ws13::{CloseCode, Config, ConnectError, Message, OsMaskKeys, WsUrl};

/// Each network step gets this long.
const STEP_TIMEOUT: Duration = Duration::from_secs(10);
/// After a refusal, the response body is read for at most this long.
const BODY_WAIT: Duration = Duration::from_secs(2);
/// At most this much of a refusal's body is shown.
const MAX_BODY_BYTES: usize = 4096;

/// Prints one line of the report. A reader that went away (`doctor … | head`)
/// ends the program quietly instead of panicking on a broken pipe.
macro_rules! say {
    ($($arg:tt)*) => {
        say_line(format_args!($($arg)*))
    };
}

fn say_line(line: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    if let Err(error) = writeln!(stdout, "{line}") {
        if error.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("doctor: cannot write the report: {error}");
        std::process::exit(1);
    }
}

/// One check's outcome.
struct Check {
    /// What was checked (`dns`, `tcp`, `tls`, `handshake`, ...).
    step: &'static str,
    ok: bool,
    /// What was found.
    detail: String,
    /// For a failure: the fix.
    hint: Option<String>,
    /// For a failure diagnosed by ws13: its stable code.
    code: Option<&'static str>,
}

/// Collects checks; prints each at once unless the report is JSON.
struct Report {
    json: bool,
    url: String,
    checks: Vec<Check>,
    request_head: Option<String>,
    response_head: Option<String>,
    response_body: Option<String>,
}

impl Report {
    fn pass(&mut self, step: &'static str, detail: impl Into<String>) {
        self.add(Check {
            step,
            ok: true,
            detail: detail.into(),
            hint: None,
            code: None,
        });
    }

    fn fail(&mut self, step: &'static str, detail: impl Into<String>, hint: impl Into<String>) {
        self.add(Check {
            step,
            ok: false,
            detail: detail.into(),
            hint: Some(hint.into()),
            code: None,
        });
    }

    fn add(&mut self, check: Check) {
        if !self.json {
            let mark = if check.ok { '✓' } else { '✗' };
            let code = check.code.map(|c| format!("[{c}] ")).unwrap_or_default();
            say!("{mark} {:<9} {code}{}", check.step, check.detail);
            // Messages that already end with their fix do not repeat it.
            if let Some(hint) = check
                .hint
                .as_ref()
                .filter(|h| !check.detail.contains(h.as_str()))
            {
                say!("            hint: {hint}");
            }
        }
        self.checks.push(check);
    }

    /// Prints a raw head (text mode), each line prefixed with `prefix`.
    fn show_head(&self, prefix: &str, head: &str) {
        if !self.json {
            for line in head.lines() {
                say!("            {prefix} {line}");
            }
        }
    }

    fn failed(&self) -> bool {
        self.checks.iter().any(|c| !c.ok)
    }

    /// The JSON form, printed at the end with `--json`.
    fn to_json(&self) -> serde_json::Value {
        let checks: Vec<_> = self
            .checks
            .iter()
            .map(|c| {
                json!({
                    "step": c.step,
                    "ok": c.ok,
                    "detail": c.detail,
                    "hint": c.hint,
                    "code": c.code,
                })
            })
            .collect();
        json!({
            "url": self.url,
            "ok": !self.failed(),
            "checks": checks,
            "request_head": self.request_head,
            "response_head": self.response_head,
            "response_body": self.response_body,
        })
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let Some(url) = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with("--") && is_url(a))
    else {
        eprintln!(
            "usage: doctor URL [--origin PAGE_ORIGIN] [--ca FILE] [--json] [--http2]\n  URL: ws://HOST[:PORT]/PATH or wss://..."
        );
        return ExitCode::from(2);
    };
    let json = std::env::args().any(|a| a == "--json");
    let mut report = Report {
        json,
        url: url.clone(),
        checks: Vec::new(),
        request_head: None,
        response_head: None,
        response_body: None,
    };
    if !json {
        say!("ws13 doctor: {url}");
    }
    examine(&url, &mut report).await;
    if json {
        say!("{:#}", report.to_json());
    } else {
        let failed = report.checks.iter().filter(|c| !c.ok).count();
        say!("{} check(s), {failed} failed", report.checks.len());
    }
    if report.failed() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// The `URL` argument: anything with a scheme (a bad one is reported as a check).
fn is_url(arg: &str) -> bool {
    arg.contains("://")
}

/// Runs the steps in order; a step that fails ends the examination when the
/// next ones depend on it.
async fn examine(url_text: &str, report: &mut Report) {
    let origin = common::flag("origin");
    let url = match WsUrl::parse(url_text) {
        Ok(url) => {
            report.pass(
                "url",
                format!(
                    "{} host {} port {} path {}",
                    if url.secure { "wss" } else { "ws" },
                    url.host,
                    url.port,
                    url.path
                ),
            );
            url
        }
        Err(e) => {
            return report.fail(
                "url",
                e.to_string(),
                "Give a URL like ws://host:port/path or wss://host/path.",
            );
        }
    };

    if let Some(origin) = &origin {
        match ws13::page_origin::mixed_content(origin, &url) {
            None => report.pass("page", format!("a page at {origin} may open this URL")),
            Some(diagnostic) => report.add(Check {
                step: "page",
                ok: false,
                detail: diagnostic.message,
                hint: Some(diagnostic.hint.to_owned()),
                code: Some(diagnostic.code),
            }),
        }
    }

    #[cfg(feature = "http2")]
    if std::env::args().any(|a| a == "--http2")
        && http2_examined(url_text, origin.as_deref(), report).await
    {
        return;
    }

    let proxy = match ProxyChoice::FromEnvironment.resolve(url.secure, &url.host) {
        Ok(proxy) => proxy,
        Err(e) => {
            return report.fail(
                "proxy",
                e.to_string(),
                "Fix or unset the proxy variable (HTTPS_PROXY, HTTP_PROXY, ALL_PROXY).",
            );
        }
    };
    let (host, port, whose) = match &proxy {
        Some(proxy) => (proxy.host.as_str(), proxy.port, " (the proxy)"),
        None => (url.host.as_str(), url.port, ""),
    };
    let Some(mut tcp) = dns_and_tcp(host, port, whose, report).await else {
        return;
    };
    if let Some(proxy) = &proxy {
        if !tunnel(&url, proxy, &mut tcp, report).await {
            return;
        }
    }
    let stream = if url.secure {
        match tls(&url, tcp, report).await {
            Some(tls) => MaybeTlsStream::from(tls),
            None => return,
        }
    } else {
        MaybeTlsStream::Plain(tcp)
    };
    let Some((stream, leftover)) = handshake(&url, origin.as_deref(), stream, report).await else {
        return;
    };
    let keys = OsMaskKeys::new();
    let ws = WebSocketStream::from_parts(
        stream,
        Connection::client(Config::default(), keys),
        &leftover,
    );
    ping_and_close(ws, report).await;
}

/// DNS and TCP to `host:port`: the server's, or the proxy's (`whose` says
/// so in the report).
async fn dns_and_tcp(host: &str, port: u16, whose: &str, report: &mut Report) -> Option<TcpStream> {
    let started = Instant::now();
    let lookup = tokio::time::timeout(STEP_TIMEOUT, tokio::net::lookup_host((host, port))).await;
    let addresses: Vec<SocketAddr> = match lookup {
        Ok(Ok(found)) => found.collect(),
        Ok(Err(e)) => {
            report.fail(
                "dns",
                format!("cannot resolve {host}: {e}"),
                "Check the host name for typos, and the machine's DNS settings.",
            );
            return None;
        }
        Err(_) => {
            report.fail(
                "dns",
                format!("resolving {host} took over {STEP_TIMEOUT:?}"),
                "Check the machine's DNS settings.",
            );
            return None;
        }
    };
    let listed: Vec<String> = addresses.iter().map(|a| a.ip().to_string()).collect();
    report.pass(
        "dns",
        format!(
            "{host}{whose} → {} ({})",
            listed.join(", "),
            elapsed(started)
        ),
    );

    let mut failures = Vec::new();
    for address in &addresses {
        let started = Instant::now();
        match tokio::time::timeout(STEP_TIMEOUT, TcpStream::connect(address)).await {
            Ok(Ok(tcp)) => {
                let _ = tcp.set_nodelay(true);
                report.pass(
                    "tcp",
                    format!("connected to {address}{whose} ({})", elapsed(started)),
                );
                return Some(tcp);
            }
            Ok(Err(e)) => failures.push(format!("{address}: {e}")),
            Err(_) => failures.push(format!("{address}: no answer within {STEP_TIMEOUT:?}")),
        }
    }
    report.fail(
        "tcp",
        format!("cannot connect: {}", failures.join("; ")),
        "Check that the server is running and listening on this address and port, and that no firewall is in the way.",
    );
    None
}

/// The proxy step: asks the proxy for a tunnel to the server and reports
/// its answer. `true` when the tunnel is open.
async fn tunnel(url: &WsUrl, proxy: &ProxyUrl, tcp: &mut TcpStream, report: &mut Report) -> bool {
    let kind = if proxy.scheme.is_socks() {
        "SOCKS5"
    } else {
        "HTTP"
    };
    if proxy.scheme == ProxyScheme::Https {
        report.fail(
            "proxy",
            format!("{proxy}: the doctor does not check https:// proxies (TLS to the proxy) yet"),
            "Check through the proxy's plain http:// port, if it has one; the client example connects through https:// proxies.",
        );
        return false;
    }
    let target = match ws13::tokio::proxy_target(proxy, url).await {
        Ok(target) => target,
        Err(e) => {
            report.fail(
                "proxy",
                format!("cannot resolve {} for {proxy}: {e}", url.host),
                "socks5:// resolves the server's name here: check it, or use socks5h:// to let the proxy resolve it.",
            );
            return false;
        }
    };
    let asked = target.authority();
    let started = Instant::now();
    match tokio::time::timeout(STEP_TIMEOUT, ws13::tokio::proxy_tunnel(tcp, proxy, target)).await {
        Ok(Ok(outcome)) => {
            report.pass(
                "proxy",
                format!(
                    "{proxy}: {kind} CONNECT {asked} → {outcome} ({})",
                    elapsed(started)
                ),
            );
            true
        }
        Ok(Err(ConnectError::Proxy { error, .. })) => {
            report.fail(
                "proxy",
                format!("{proxy}: {kind} CONNECT {asked} → {}", proxy_answer(&error)),
                error.to_string(),
            );
            false
        }
        Ok(Err(e)) => {
            report.fail(
                "proxy",
                format!("{proxy}: {e}"),
                "The proxy dropped the connection: check the proxy URL's scheme and port, and the proxy's logs.",
            );
            false
        }
        Err(_) => {
            report.fail(
                "proxy",
                format!("{proxy}: no answer to {kind} CONNECT within {STEP_TIMEOUT:?}"),
                "The proxy does not answer: check the proxy URL's scheme (http:// or socks5://) and port.",
            );
            false
        }
    }
}

/// What the proxy answered, briefly (the status line or the SOCKS reply).
fn proxy_answer(error: &ProxyError) -> String {
    match error {
        ProxyError::AuthenticationRequired { status, reason, .. } => format!("{status} {reason}"),
        ProxyError::Forbidden { reason, .. } => format!("403 {reason}"),
        ProxyError::Refused { status, reason, .. } => format!("{status} {reason}"),
        ProxyError::SocksRefused { reply, .. } => reply.to_string(),
        ProxyError::SocksAuthenticationFailed { status } => {
            format!("user name and password refused (status {status})")
        }
        ProxyError::NoAcceptableMethod { .. } => "no acceptable authentication method".to_owned(),
        _ => "no tunnel".to_owned(),
    }
}

async fn tls(
    url: &WsUrl,
    tcp: TcpStream,
    report: &mut Report,
) -> Option<ws13::tls::tokio_rustls::client::TlsStream<TcpStream>> {
    let mut options = TlsOptions::default();
    if let Some(ca) = common::flag("ca") {
        options = options.ca_file(ca);
    }
    let connector = match options.connector() {
        Ok(connector) => connector,
        Err(e) => {
            report.fail(
                "tls",
                e.to_string(),
                "Give --ca a readable PEM file of CA certificates.",
            );
            return None;
        }
    };
    let started = Instant::now();
    match tokio::time::timeout(STEP_TIMEOUT, connector.handshake(&url.host, tcp)).await {
        Ok(Ok(tls)) => {
            let session = tls.get_ref().1;
            let version = session
                .protocol_version()
                .map(|v| format!("{v:?}"))
                .unwrap_or_default();
            let suite = session
                .negotiated_cipher_suite()
                .map(|s| format!("{:?}", s.suite()))
                .unwrap_or_default();
            let alpn = session
                .alpn_protocol()
                .map(String::from_utf8_lossy)
                .unwrap_or("none".into());
            report.pass(
                "tls",
                format!(
                    "{version}, {suite}, ALPN {alpn}, certificate valid for {} ({})",
                    url.host,
                    elapsed(started)
                ),
            );
            Some(tls)
        }
        Ok(Err(e)) => {
            let hint = failure_hint(&e).unwrap_or(
                "Check the server's TLS setup, e.g. with `openssl s_client -connect HOST:PORT`.",
            );
            report.fail("tls", format!("TLS handshake failed: {e}"), hint);
            None
        }
        Err(_) => {
            report.fail(
                "tls",
                format!("no TLS handshake within {STEP_TIMEOUT:?}"),
                "The server may not speak TLS on this port: try ws:// or the TLS port.",
            );
            None
        }
    }
}

/// Sends the request, prints both heads, and lists every problem of the
/// response. On a valid 101: the stream and the bytes after the head.
async fn handshake<S>(
    url: &WsUrl,
    origin: Option<&str>,
    mut stream: S,
    report: &mut Report,
) -> Option<(S, Vec<u8>)>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let request = match build_request(url, origin) {
        Ok(request) => request,
        Err(e) => {
            report.fail(
                "request",
                e,
                "Check the URL's host and path and the --origin value.",
            );
            return None;
        }
    };
    let request_head = String::from_utf8_lossy(request.request_bytes()).into_owned();
    report.pass("request", format!("sent {} bytes", request_head.len()));
    report.show_head(">", &request_head);
    report.request_head = Some(request_head);

    let mut probe = request.clone();
    let mut buf = Vec::with_capacity(1024);
    let exchange = async {
        stream.write_all(request.request_bytes()).await?;
        stream.flush().await?;
        loop {
            // Ok: a complete head (valid or not); the diagnosis below judges it.
            match probe.read_response(&buf) {
                Ok(Status::Partial) => {}
                Ok(Status::Complete(accepted)) => return Ok(Some(accepted.head_len())),
                Err(_) => return Ok(None),
            }
            if stream.read_buf(&mut buf).await? == 0 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "the server closed the connection before answering",
                ));
            }
        }
    };
    let started = Instant::now();
    let head_len = match tokio::time::timeout(STEP_TIMEOUT, exchange).await {
        Ok(Ok(head_len)) => head_len,
        Ok(Err(e)) => {
            report.fail("response", e.to_string(), "The server (or a proxy before it) dropped the connection: check its logs; on a wss:// port, check it expects TLS.");
            return None;
        }
        Err(_) => {
            report.fail("response", format!("no complete response within {STEP_TIMEOUT:?}"), "The server does not answer the upgrade; check that the URL reaches a WebSocket endpoint (and the scheme: ws:// against a TLS port waits forever).");
            return None;
        }
    };
    let head_end = head_len
        .or_else(|| find_head_end(&buf))
        .unwrap_or(buf.len().min(1024));
    let response_head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    report.show_head("<", &response_head);
    report.response_head = Some(response_head);

    let problems = diagnose_response(&buf[..head_end], &request);
    if problems.is_empty() {
        report.pass(
            "response",
            format!(
                "101 Switching Protocols over HTTP/1.1, valid for a strict (WebKit-grade) client ({})",
                elapsed(started)
            ),
        );
        return head_len.map(|end| (stream, buf[end..].to_vec()));
    }
    for problem in problems {
        report.add(Check {
            step: "response",
            ok: false,
            detail: problem.message,
            hint: Some(problem.hint.to_owned()),
            code: Some(problem.code),
        });
    }
    // A refusal's body usually names the defect; show it.
    let mut body = buf[head_end..].to_vec();
    let _ = tokio::time::timeout(BODY_WAIT, async {
        while body.len() < MAX_BODY_BYTES {
            match stream.read_buf(&mut body).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    })
    .await;
    body.truncate(MAX_BODY_BYTES);
    if !body.is_empty() {
        let text = String::from_utf8_lossy(&body).into_owned();
        if !report.json {
            say!("            body:");
            for line in text.lines() {
                say!("            | {line}");
            }
        }
        report.response_body = Some(text);
    }
    None
}

fn build_request(url: &WsUrl, origin: Option<&str>) -> Result<ClientHandshake, String> {
    let mut key = [0u8; 16];
    getrandom::fill(&mut key).map_err(|e| format!("no random key: {e}"))?;
    let host = url.host_header();
    let mut request = ClientRequest::new(&host, &url.path, key).map_err(|e| e.to_string())?;
    if let Some(origin) = origin {
        request = request.origin(origin).map_err(|e| e.to_string())?;
    }
    Ok(request.build())
}

/// Where the head ends (after the blank line), if it does.
fn find_head_end(buf: &[u8]) -> Option<usize> {
    buf.windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|at| at + 4)
}

async fn ping_and_close<S>(mut ws: WebSocketStream<S, OsMaskKeys>, report: &mut Report)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let payload = Bytes::from_static(b"ws13-doctor");
    let started = Instant::now();
    let round_trip = async {
        ws.send(Message::Ping(payload.clone())).await?;
        while let Some(message) = ws.next().await {
            if matches!(&message?, Message::Pong(echo) if *echo == payload) {
                return Ok(started.elapsed());
            }
        }
        Err(ws13::Error::ConnectionClosed)
    };
    match tokio::time::timeout(STEP_TIMEOUT, round_trip).await {
        Ok(Ok(rtt)) => report.pass("ping", format!("pong after {:.2} ms", rtt.as_secs_f64() * 1000.0)),
        Ok(Err(e)) => return report.fail("ping", format!("no pong: {e}"), "The server must answer a ping with a pong carrying the same payload (RFC 6455 §5.5.2)."),
        Err(_) => return report.fail("ping", format!("no pong within {STEP_TIMEOUT:?}"), "The server must answer a ping with a pong promptly; something between (a proxy) may be buffering."),
    }

    let closing = async {
        ws.start_close(CloseCode::NORMAL, "doctor done")?;
        while let Some(message) = ws.next().await {
            if let Message::Close(reason) = message? {
                return Ok(reason.map(|r| r.code.0));
            }
        }
        Err(ws13::Error::AbnormalClosure)
    };
    match tokio::time::timeout(STEP_TIMEOUT, closing).await {
        Ok(Ok(Some(code))) => report.pass("close", format!("the server answered the close with {code}")),
        Ok(Ok(None)) => report.pass("close", "the server answered the close (without a code)"),
        Ok(Err(e)) => report.fail("close", format!("no clean close: {e}"), "The server must answer a close frame with a close frame before closing TCP (RFC 6455 §5.5.1)."),
        Err(_) => report.fail("close", format!("no close answer within {STEP_TIMEOUT:?}"), "The server must answer a close frame with a close frame."),
    }
    // The stream is done; dropping it closes the transport.
    drop(ws);
}

/// `--http2`: opens the WebSocket over HTTP/2 and runs the ping and close
/// checks on it. `false` when the server does not offer WebSockets over
/// HTTP/2 (reported, then HTTP/1.1 is examined); `true` when the HTTP/2
/// examination is complete (passed or failed).
#[cfg(feature = "http2")]
async fn http2_examined(url: &str, origin: Option<&str>, report: &mut Report) -> bool {
    use ws13::ConnectError;
    use ws13::http2::{Http2Connection, Http2Options};

    let mut tls_options = TlsOptions::default();
    if let Some(ca) = common::flag("ca") {
        tls_options = tls_options.ca_file(ca);
    }
    let Ok(connector) = tls_options.connector() else {
        return false; // the TLS step of the HTTP/1.1 examination reports it
    };
    let http2 = Http2Options::default()
        .cleartext(true)
        .setup_timeout(STEP_TIMEOUT);
    let started = Instant::now();
    let connection = match Http2Connection::connect(url, &http2, &connector).await {
        Ok(connection) => connection,
        Err(
            e @ (ConnectError::Http2NotNegotiated { .. }
            | ConnectError::ExtendedConnectDisabled
            | ConnectError::Http2(_)),
        ) => {
            report.pass("http2", format!("not offered, trying HTTP/1.1: {e}"));
            return false;
        }
        Err(_) => return false, // DNS, TCP and TLS are examined step by step below
    };
    let mut options = ws13::ClientOptions::default().handshake_timeout(STEP_TIMEOUT);
    if let Some(origin) = origin {
        options = options.origin(origin);
    }
    let path = WsUrl::parse(url).map(|u| u.path).unwrap_or_default();
    match connection.open(&path, &options).await {
        Ok((ws, _response)) => {
            report.pass(
                "response",
                format!(
                    "2xx to the extended CONNECT: the handshake went over HTTP/2 (RFC 8441) ({})",
                    elapsed(started)
                ),
            );
            ping_and_close(ws, report).await;
        }
        Err(e) => {
            let (code, hint) = match &e {
                ConnectError::Handshake(problem) => (Some(problem.code()), problem.hint()),
                _ => (None, "Check the server's logs for the refused CONNECT."),
            };
            report.add(Check {
                step: "response",
                ok: false,
                detail: format!("over HTTP/2: {e}"),
                hint: Some(hint.to_owned()),
                code,
            });
        }
    }
    true
}

/// `0.42 ms`.
fn elapsed(since: Instant) -> String {
    format!("{:.2} ms", since.elapsed().as_secs_f64() * 1000.0)
}
