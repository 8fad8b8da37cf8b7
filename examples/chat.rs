//! A broadcast chat on the tokio driver: one task per connection, a
//! `ws13::broadcast::Topic` per room, and optionally Redis to share the
//! rooms between several chat processes.
//!
//! ```text
//! cargo run --features tokio --example chat -- --addr 127.0.0.1:9001 \
//!     [--allow-origin https://chat.example]... [--cert cert.pem --key key.pem] \
//!     [--redis redis://127.0.0.1:6379/]
//! ```
//!
//! With `--cert` and `--key` (PEM files, e.g. from the `gen_cert` example;
//! feature `tls`) the page is served over `https://` and the room over `wss://`.
//!
//! With `--redis URL` (feature `redis`) every chat process started with the
//! same URL shares the rooms: lines go through Redis pub/sub, presence (who
//! is in a room, and the counts in join and leave lines) covers every live
//! process, and the members of a process that dies are announced as left
//! within seconds (see `examples/common/chat_rooms.rs`). Run two processes
//! behind one nginx `upstream` and a client whose process dies reconnects
//! to the other. Delivery is at most once: lines said while a member is
//! reconnecting are not replayed to it.
//!
//! One port serves everything:
//!
//! | request | answer |
//! |---|---|
//! | `GET /` | the chat page (`examples/chat.html`) |
//! | `GET /health` | `ok` |
//! | WebSocket `/ws?name=NAME[&room=ROOM]` | the chat room (`lobby` by default) |
//! | WebSocket to another path | 404 naming `/ws`, before any upgrade (`ServerOptions::paths`) |
//! | anything else | 404 (405 for methods other than `GET`) |
//!
//! The room's protocol is plain text. Every text message a client sends is
//! broadcast to everyone in the room, sender included, as one line
//! `NAME: TEXT`; room events are lines starting with `* `
//! (`* alice joined (2 online)`). The message `/who` is answered to its
//! sender only, with `* online: alice, bob`. Binary messages are refused
//! with 1003.
//!
//! What keeps the room healthy is configuration, not code here: the protocol
//! core sends heartbeat pings and fails dead peers with 1011, refuses
//! messages over 64 KiB with 1009, and the handshake refuses foreign `Origin`s
//! with 403. Each line is framed once (and, with permessage-deflate, which
//! the server answers with `server_no_context_takeover`, compressed once)
//! and queued on every member by reference. A member too slow to keep up is
//! closed with 1013 once it falls [`ROOM_BUDGET`] bytes behind, instead of
//! stalling the room (`ws13::broadcast`'s slow-consumer policy). Ctrl-C
//! closes every connection with 1001.

#[path = "common/chat_rooms.rs"]
mod chat_rooms;
mod common;
#[path = "common/tls_server.rs"]
mod tls_server;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use futures_util::SinkExt;
use tokio::net::TcpListener;
use tokio::sync::watch;
use ws13::broadcast::{Relayed, SLOW_CONSUMER_CLOSE, TopicOptions, relay};
use ws13::codec::config::Heartbeat;
use ws13::handshake::OriginPolicy;
use ws13::handshake::permessage_deflate::DeflateServerPolicy;
use ws13::tokio::{Accepted, HttpConnection, WebSocketStream, accept};
use ws13::{CloseCode, Config, Message, ServerOptions};

use chat_rooms::{Rooms, room_name};
use tls_server::{ServerStream, Transport};

/// The chat page, served at `/`.
const PAGE: &str = include_str!("chat.html");

/// The largest message a client may send; a longer one fails its connection
/// with 1009, so one client cannot make the server buffer without bound.
const MAX_MESSAGE_BYTES: u64 = 64 * 1024;

/// How many bytes of room lines a connection may fall behind (waiting for
/// it in the room, and as many again in its send queue). A client that
/// cannot keep up (a slow link, a stalled tab) is closed with 1013 and may
/// reconnect; the room never waits for it.
const ROOM_BUDGET: usize = 256 * 1024;

/// Names are cut to this many characters.
const MAX_NAME_CHARS: usize = 24;

/// After Ctrl-C, how long connections get to finish their close handshakes
/// before the process exits anyway.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let transport = Transport::from_flags();
    let listener = TcpListener::bind(common::listen_addr()).await?;
    let addr = listener.local_addr()?;
    let http = transport.http_scheme();
    let options = Arc::new(server_options(addr, http, repeated_flag("allow-origin")));
    let page_url = format!("{http}://{}/", browsable(addr));
    let ws = transport.ws_scheme();
    println!("chat: open {page_url} in two browser tabs (WebSocket at {ws}://{addr}/ws)");
    if let Some(origins) = options.handshake.origin_policy().allowed_origins() {
        println!("allowed origins: {}", origins.join(", "));
    }

    let rooms = match common::flag("redis") {
        None => Rooms::local(TopicOptions::default().budget(ROOM_BUDGET)),
        Some(url) => redis_rooms(&url).await,
    };
    let (shutdown, shutdown_signal) = watch::channel(false);
    let mut tasks = tokio::task::JoinSet::new();
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((tcp, peer)) => {
                    let _ = tcp.set_nodelay(true);
                    let (options, rooms) = (Arc::clone(&options), Arc::clone(&rooms));
                    let (transport, shutdown) = (transport.clone(), shutdown_signal.clone());
                    tasks.spawn(async move {
                        match transport.accept(tcp).await {
                            Ok(stream) => serve(stream, peer, options, rooms, shutdown).await,
                            Err(e) => eprintln!("{peer}: TLS handshake failed: {e}"),
                        }
                    });
                }
                // Out of file descriptors and the like: report, back off, go on.
                Err(e) => {
                    eprintln!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            // Finished connections are reaped as we go.
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
            _ = &mut ctrl_c => break,
        }
    }

    println!(
        "shutting down: closing {} connection(s) with 1001",
        tasks.len()
    );
    let _ = shutdown.send(true);
    let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
        while tasks.join_next().await.is_some() {}
    });
    if drained.await.is_err() {
        eprintln!(
            "{} connection(s) did not finish closing within {SHUTDOWN_GRACE:?}; dropping them",
            tasks.len()
        );
    }
    Ok(())
}

/// Rooms shared through the Redis at `url`; exits when it cannot be reached.
#[cfg(feature = "redis")]
async fn redis_rooms(url: &str) -> Arc<Rooms> {
    match Rooms::redis(url, TopicOptions::default().budget(ROOM_BUDGET)).await {
        Ok(rooms) => {
            println!("rooms shared through Redis at {url}");
            rooms
        }
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    }
}

#[cfg(not(feature = "redis"))]
async fn redis_rooms(_url: &str) -> Arc<Rooms> {
    eprintln!("--redis needs the example built with the `redis` feature (--features redis)");
    std::process::exit(2);
}

/// The handshake and protocol settings of the room.
/// `http_scheme` is the page's: `http`, or `https` when serving TLS.
fn server_options(
    addr: SocketAddr,
    http_scheme: &str,
    extra_origins: Vec<String>,
) -> ServerOptions {
    let mut protocol = Config::default();
    // The core pings every 15 s and fails a peer whose pong has not come back
    // within 10 s with 1011, so a vanished client leaves the room within 25 s.
    // 15 s is well under nginx's default proxy_read_timeout of 60 s: an idle
    // tab behind a proxy keeps its tunnel.
    protocol.heartbeat = Some(Heartbeat {
        interval: Duration::from_secs(15),
        timeout: Duration::from_secs(10),
    });
    protocol.max_message_size = MAX_MESSAGE_BYTES;
    protocol.max_frame_size = MAX_MESSAGE_BYTES;

    // Browsers attach cookies to WebSocket handshakes from any site, so only
    // pages served by this server (and origins named with --allow-origin, e.g.
    // the https:// origin of a TLS proxy in front of it) may connect. Clients
    // that send no Origin (command-line tools) are let in.
    let port = addr.port();
    let mut origins = vec![
        format!("{http_scheme}://127.0.0.1:{port}"),
        format!("{http_scheme}://localhost:{port}"),
        format!("{http_scheme}://[::1]:{port}"),
    ];
    if !addr.ip().is_unspecified() && !addr.ip().is_loopback() {
        origins.push(format!("{http_scheme}://{addr}"));
    }
    origins.extend(extra_origins);

    // Compression where the browser offers it; every line is compressed
    // once for all members because the server resets its compressor per
    // message (and says so in its answer).
    let deflate = DeflateServerPolicy::default().server_no_context_takeover(true);

    ServerOptions::default()
        .protocol(protocol)
        .origins(OriginPolicy::allow_list(origins))
        .paths(["/ws"])
        .deflate(deflate)
}

/// One connection: a plain HTTP request or a chat member.
async fn serve(
    stream: ServerStream,
    peer: SocketAddr,
    options: Arc<ServerOptions>,
    rooms: Arc<Rooms>,
    shutdown: watch::Receiver<bool>,
) {
    match accept(stream, &options).await {
        Ok(Accepted::Http(http)) => serve_http(http).await,
        Ok(Accepted::WebSocket(ws, request)) => {
            let name = member_name(request.query_param("name").as_deref().unwrap_or(""));
            let room = room_name(request.query_param("room").as_deref().unwrap_or(""));
            eprintln!("{peer}: {name} joined {room}");
            chat(ws, &name, &room, &rooms, shutdown).await;
            eprintln!("{peer}: {name} left {room}");
        }
        // Refused handshakes (403 for a foreign Origin, 400 for a request a
        // proxy mangled, ...) have been answered already; just log them.
        Err(e) => eprintln!("{peer}: {e}"),
    }
}

/// Answers a plain HTTP request on the chat port.
async fn serve_http(http: HttpConnection<ServerStream>) {
    const TEXT: &str = "text/plain; charset=utf-8";
    const NOT_UPGRADED: &[u8] = b"/ws is the WebSocket endpoint: connect with a WebSocket client. \
        Behind a proxy, forward the Upgrade and Connection headers.\n";
    const NOT_FOUND: &[u8] =
        b"not found: the chat page is /, the WebSocket /ws, the health check /health\n";
    let path = http.request.path.split('?').next().unwrap_or("");
    let (status, content_type, body) = match (http.request.method.as_str(), path) {
        ("GET", "/") => (200, "text/html; charset=utf-8", PAGE.as_bytes()),
        ("GET", "/health") => (200, TEXT, &b"ok\n"[..]),
        ("GET", "/ws") => (400, TEXT, NOT_UPGRADED),
        ("GET", _) => (404, TEXT, NOT_FOUND),
        _ => (405, TEXT, &b"only GET is served here\n"[..]),
    };
    let _ = http.respond(status, content_type, body).await;
}

/// A member's life in the room: relays its messages into the room and the
/// room's lines to it, until it leaves, fails, falls too far behind, or the
/// server shuts down.
async fn chat(
    mut ws: WebSocketStream<ServerStream>,
    name: &str,
    room: &str,
    rooms: &Rooms,
    mut shutdown: watch::Receiver<bool>,
) {
    static MEMBERS: AtomicU64 = AtomicU64::new(1);
    let member = MEMBERS.fetch_add(1, Ordering::Relaxed);
    // Subscribe first, so the member sees its own join line.
    let mut inbox = rooms.subscribe(room);
    let online = rooms.join(room, member, name).await;
    rooms
        .say(room, format!("* {name} joined ({online} online)"))
        .await;
    loop {
        tokio::select! {
            // Relaying also writes queued lines, answers pings and runs the
            // heartbeat: it must stay in this loop.
            relayed = relay(&mut inbox, &mut ws) => match relayed {
                Relayed::Received(Ok(Message::Text(text))) if text.as_str().trim() == "/who" => {
                    let names = rooms.who(room).await.join(", ");
                    // `feed` only queues; the relay above writes it.
                    if ws.feed(Message::text(format!("* online: {names}"))).await.is_err() {
                        break;
                    }
                }
                Relayed::Received(Ok(Message::Text(text))) => {
                    rooms.say(room, format!("{name}: {}", one_line(text.as_str()))).await;
                }
                Relayed::Received(Ok(Message::Binary(_))) => {
                    let reason = "this chat takes text messages only";
                    close(&mut ws, CloseCode::UNSUPPORTED_DATA, reason).await;
                    break;
                }
                // Pings, pongs and the peer's close are answered by the core.
                Relayed::Received(Ok(_)) => {}
                // A protocol failure (oversized message 1009, missed
                // heartbeat 1011, ...): the close frame has been sent.
                Relayed::Received(Err(e)) => {
                    eprintln!("{name}: {e}");
                    break;
                }
                Relayed::Ended => break,
                Relayed::Dropped => {
                    eprintln!("{name}: more than {ROOM_BUDGET} bytes behind; closing with 1013");
                    let reason = "your connection is too slow for this room";
                    close(&mut ws, SLOW_CONSUMER_CLOSE, reason).await;
                    break;
                }
            },
            _ = shutdown.changed() => {
                close(&mut ws, CloseCode::GOING_AWAY, "server shutting down").await;
                break;
            }
        }
    }
    // Unsubscribe first, so the count no longer includes this member.
    drop(inbox);
    rooms.forget_if_empty(room);
    let online = rooms.leave(room, member).await;
    rooms
        .say(room, format!("* {name} left ({online} online)"))
        .await;
}

/// Starts the close handshake and waits for it to finish (the core's close
/// timeout bounds the wait for the peer's close frame).
async fn close(ws: &mut WebSocketStream<ServerStream>, code: CloseCode, reason: &str) {
    if ws.start_close(code, reason).is_ok() {
        let _ = ws.close().await;
    }
}

/// The member's name from the `name=` query parameter: percent-decoded, cut
/// to letters, digits, spaces and `-_.`, at most [`MAX_NAME_CHARS`]; a
/// numbered guest name when nothing is left.
fn member_name(wanted: &str) -> String {
    static GUESTS: AtomicU64 = AtomicU64::new(1);
    let name: String = wanted
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_' | '.'))
        .take(MAX_NAME_CHARS)
        .collect();
    match name.trim() {
        "" => format!("guest-{}", GUESTS.fetch_add(1, Ordering::Relaxed)),
        name => name.to_owned(),
    }
}

/// The text as one line: control characters (line breaks included) become
/// spaces, so a member cannot fake a `* ` room line or another speaker.
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// An address a browser can open: a wildcard address becomes loopback.
fn browsable(addr: SocketAddr) -> SocketAddr {
    let mut addr = addr;
    if addr.ip().is_unspecified() {
        addr.set_ip(match addr {
            SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    addr
}

/// Every value of a repeatable `--NAME VALUE` / `--NAME=VALUE` flag.
fn repeated_flag(name: &str) -> Vec<String> {
    let long = format!("--{name}");
    let mut values = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == long {
            values.extend(args.next());
        } else if let Some(value) = arg.strip_prefix(&format!("{long}=")) {
            values.push(value.to_owned());
        }
    }
    values
}
