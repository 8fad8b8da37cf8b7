//! One scenario suite for every shell (issue 15, item 3).
//!
//! Each entry of [`TABLE`] is a script: what the peer sends (frames built
//! here by hand, masked when the peer is the client, compressed with
//! `ws13_codec::deflate::PerMessageDeflate` in the peer's role when
//! permessage-deflate is on), when it waits for our frames, when it
//! half-closes, when it looks whether we closed the transport; and what the
//! application does (start the close handshake, or close and wait for the
//! end; otherwise echo every data message and read until the end). Every
//! script runs against three shells:
//!
//! 1. `socket`: the sans-I/O [`ws13::socket::Socket`] driven by a loop in this
//!    file over two byte pipes (ours holds 64 KiB unread at most, like the
//!    tokio shell's duplex), on virtual time: the clock jumps to
//!    `poll_timeout()`, or to the peer's patience, when nothing else can
//!    happen. It is the reference.
//! 2. `blocking`: [`ws13::blocking::WebSocket`] over a loopback TCP pair, on
//!    real time, with short timeouts.
//! 3. `tokio`: [`ws13::tokio::WebSocketStream`] over `tokio::io::duplex` on a
//!    runtime whose clock is paused (timers run on virtual time there too).
//!
//! A run gives a transcript: what the peer did and received (our frames
//! decoded: opcode, FIN, RSV1, payload unmasked and inflated, close code and
//! reason; and where the peer saw end of file, i.e. that our side closed the
//! transport), and what the application saw (each message, how the connection
//! ended, and whether the driver had closed the transport by then). Masks
//! differ per run, so frames are compared decoded, never as raw bytes.
//!
//! What the suite proves: on the same input, both drivers do exactly what the
//! socket does: same frames in the same order, same messages, same end, same
//! moment of closing the transport relative to the peer's actions (a server
//! closes TCP first; a client waits for the server's FIN, RFC 6455 §7.1.1).
//! That is, the drivers are only I/O and time around the socket and decide
//! nothing themselves. The expectations in the table (the application's end,
//! the close code we sent last, our end of file last) pin the reference, so
//! that "equal" cannot mean "equally wrong".
//!
//! `WS13_SHOW_SCENARIOS=1 cargo test --all-features --test scenarios --
//! --nocapture` prints every reference transcript.
#![cfg(feature = "tokio")]

use std::collections::VecDeque;
use std::io::{self, IoSlice, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::task::{Context, Poll};
use std::thread;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, DuplexStream, ReadBuf};
use ws13::blocking::{Transport, WebSocket};
use ws13::codec::deflate::{self, DeflateSettings, PerMessageDeflate};
use ws13::codec::{DataChunk, MaskKeySource, MessageKind, State};
use ws13::handshake::permessage_deflate::DeflateParams;
use ws13::socket::{Extensions, Socket, TransportStatus};
use ws13::tokio::WebSocketStream;
use ws13::{CloseCode, Config, Error, Heartbeat, Message, OsMaskKeys, PeerClose, Role};

// ---------------------------------------------------------------- the table

/// One script, run in one role with permessage-deflate on or off.
struct Scenario {
    name: &'static str,
    /// Our side's role (the peer has the other).
    role: Role,
    deflate: bool,
    config: Config,
    /// What the application does first; unless that is a close-and-wait,
    /// it then reads until the end, echoing every data message.
    app_start: Vec<AppCommand>,
    peer: Vec<Step>,
    /// The application's last transcript line in the reference.
    expect_end: &'static str,
    /// The code of the last close frame we sent, in the reference.
    expect_close: Option<u16>,
}

impl Scenario {
    fn title(&self) -> String {
        let role = match self.role {
            Role::Server => "server",
            Role::Client => "client",
        };
        let deflate = if self.deflate { "on" } else { "off" };
        format!("\"{}\" as {role}, permessage-deflate {deflate}", self.name)
    }
}

/// What a scenario's builder gives, for one role.
struct Script {
    config: Config,
    app_start: Vec<AppCommand>,
    peer: Vec<Step>,
    expect_end: &'static str,
    expect_close: Option<u16>,
}

const SERVER_ONLY: &[Role] = &[Role::Server];
const BOTH_ROLES: &[Role] = &[Role::Server, Role::Client];
/// permessage-deflate off, then on.
const BOTH_WAYS: &[bool] = &[false, true];
/// Off only: compressing a 64 MiB message takes seconds in a debug build,
/// and compression plays no part in that scenario.
const PLAIN_ONLY: &[bool] = &[false];

/// Builds a scenario's script for one of our roles.
type Build = fn(Role) -> Script;

/// The scenarios: name, our roles, permessage-deflate off and/or on, script.
#[rustfmt::skip]
const TABLE: &[(&str, &[Role], &[bool], Build)] = &[
    ("echo text",                                  BOTH_ROLES,  BOTH_WAYS,  echo_text),
    ("echo binary",                                SERVER_ONLY, BOTH_WAYS,  echo_binary),
    ("echo fragmented",                            SERVER_ONLY, BOTH_WAYS,  echo_fragmented),
    ("echo 1 MiB",                                 SERVER_ONLY, BOTH_WAYS,  echo_large),
    ("ping inside a fragmented message",           SERVER_ONLY, BOTH_WAYS,  ping_inside_fragmented),
    ("close from the peer",                        BOTH_ROLES,  BOTH_WAYS,  close_from_peer),
    ("close from our side",                        BOTH_ROLES,  BOTH_WAYS,  close_from_us),
    ("peer EOF without a close",                   BOTH_ROLES,  BOTH_WAYS,  peer_eof),
    ("heartbeat timeout",                          BOTH_ROLES,  BOTH_WAYS,  heartbeat_timeout),
    ("close timeout",                              BOTH_ROLES,  BOTH_WAYS,  close_timeout),
    ("close() and wait",                           BOTH_ROLES,  BOTH_WAYS,  close_and_wait),
    ("close() and wait, peer silent",              SERVER_ONLY, BOTH_WAYS,  close_and_wait_timeout),
    ("close() and wait, peer breaks the protocol", SERVER_ONLY, BOTH_WAYS,  close_and_wait_broken),
    ("oversize message",                           SERVER_ONLY, BOTH_WAYS,  oversize),
    ("invalid UTF-8 in text",                      SERVER_ONLY, BOTH_WAYS,  invalid_utf8),
    ("peer stops reading while we send",           SERVER_ONLY, PLAIN_ONLY, peer_stops_reading),
];

/// Every scenario of [`TABLE`] in each of its roles and deflate settings.
fn table() -> Vec<Scenario> {
    let mut table = Vec::new();
    for &(name, roles, deflate_ways, build) in TABLE {
        for &role in roles {
            for &deflate in deflate_ways {
                let script = build(role);
                table.push(Scenario {
                    name,
                    role,
                    deflate,
                    config: script.config,
                    app_start: script.app_start,
                    peer: script.peer,
                    expect_end: script.expect_end,
                    expect_close: script.expect_close,
                });
            }
        }
    }
    table
}

/// No heartbeat: only the scenarios about timers run one.
const QUIET: Config = Config::DEFAULT.heartbeat(None);

const ENDED_CLEANLY: &str = "end: closed; the driver had closed the transport";

/// The end of a close handshake, seen from the peer: a server closes TCP
/// first, so a client peer waits for our end of file (the final drain); a
/// server peer first checks that our client did not close the transport
/// before it, then closes its side.
fn peer_ends_handshake(our_role: Role) -> Vec<Step> {
    match our_role {
        Role::Server => vec![],
        Role::Client => vec![Step::Probe, Step::Shutdown],
    }
}

fn echo_text(role: Role) -> Script {
    let long = "A text long enough to be compressed by our side as well: ".repeat(3);
    let mut peer = vec![
        Step::Send(Out::text("Hello")),
        Step::Expect(1),
        Step::Send(Out::text(&long)),
        Step::Expect(1),
        Step::Send(Out::text("Grüße, ✓ and €")),
        Step::Expect(1),
        Step::Send(Out::Close(1000, "bye")),
        Step::Expect(1),
    ];
    peer.extend(peer_ends_handshake(role));
    Script {
        config: QUIET,
        app_start: vec![],
        peer,
        expect_end: ENDED_CLEANLY,
        expect_close: Some(1000),
    }
}

fn echo_binary(_: Role) -> Script {
    let all_bytes: Vec<u8> = (0..=255).collect();
    Script {
        config: QUIET,
        app_start: vec![],
        peer: vec![
            Step::Send(Out::binary(all_bytes.repeat(2))),
            Step::Expect(1),
            Step::Send(Out::binary(Vec::new())),
            Step::Expect(1),
            Step::Send(Out::binary(vec![0, 1, 2])),
            Step::Expect(1),
            Step::Send(Out::Close(1000, "")),
            Step::Expect(1),
        ],
        expect_end: ENDED_CLEANLY,
        expect_close: Some(1000),
    }
}

fn echo_fragmented(_: Role) -> Script {
    let text = "fragmented text, sent in three frames; ".repeat(4);
    let binary: Vec<u8> = (0..300u16).map(|i| (i % 251) as u8).collect();
    Script {
        config: QUIET,
        app_start: vec![],
        peer: vec![
            Step::Send(Out::text(&text).in_frames(3)),
            Step::Expect(1),
            Step::Send(Out::binary(binary).in_frames(4)),
            Step::Expect(1),
            Step::Send(Out::Close(1000, "")),
            Step::Expect(1),
        ],
        expect_end: ENDED_CLEANLY,
        expect_close: Some(1000),
    }
}

fn echo_large(_: Role) -> Script {
    // Compressible, but not trivially: a repeating ramp with a slow drift.
    let large: Vec<u8> = (0..1 << 20)
        .map(|i: u32| (i % 253 + i / 4096) as u8)
        .collect();
    Script {
        config: QUIET,
        app_start: vec![],
        peer: vec![
            Step::Send(Out::binary(large)),
            Step::Expect(1),
            Step::Send(Out::Close(1000, "")),
            Step::Expect(1),
        ],
        expect_end: ENDED_CLEANLY,
        expect_close: Some(1000),
    }
}

fn ping_inside_fragmented(_: Role) -> Script {
    let text = "the first half of the message | and its second half";
    Script {
        config: QUIET,
        app_start: vec![],
        peer: vec![
            Step::Send(
                Out::text(text)
                    .in_frames(2)
                    .ping_after_first(b"are you there?"),
            ),
            // The pong, then the echo.
            Step::Expect(2),
            Step::Send(Out::Close(1000, "")),
            Step::Expect(1),
        ],
        expect_end: ENDED_CLEANLY,
        expect_close: Some(1000),
    }
}

fn close_from_peer(role: Role) -> Script {
    let mut peer = vec![Step::Send(Out::Close(1001, "going away")), Step::Expect(1)];
    peer.extend(peer_ends_handshake(role));
    Script {
        config: QUIET,
        app_start: vec![],
        peer,
        expect_end: ENDED_CLEANLY,
        expect_close: Some(1001),
    }
}

fn close_from_us(role: Role) -> Script {
    let mut peer = vec![Step::Expect(1), Step::Send(Out::Close(4000, "as you wish"))];
    peer.extend(peer_ends_handshake(role));
    Script {
        config: QUIET,
        app_start: vec![AppCommand::Close(4000, "done here")],
        peer,
        expect_end: ENDED_CLEANLY,
        expect_close: Some(4000),
    }
}

fn peer_eof(_: Role) -> Script {
    Script {
        config: QUIET,
        app_start: vec![],
        // Then the final drain: the echo, and what the application's drop
        // sends (a close, 1000) before it closes the transport.
        peer: vec![Step::Send(Out::text("last words")), Step::Shutdown],
        expect_end: "end: abnormal closure (1006); the driver had left the transport open",
        expect_close: Some(1000),
    }
}

/// Heartbeats and the close timeout, short enough for real time.
fn fast_timers() -> Config {
    QUIET
        .heartbeat(Some(Heartbeat {
            interval: Duration::from_millis(100),
            timeout: Duration::from_millis(200),
        }))
        .close_timeout(Duration::from_millis(300))
}

fn heartbeat_timeout(_: Role) -> Script {
    Script {
        config: fast_timers(),
        app_start: vec![],
        // The peer stays silent: it reads the ping, then (final drain) the
        // 1011 close and our end of file (a client waits for the server's
        // FIN first, at most the close timeout).
        peer: vec![Step::Expect(1)],
        expect_end: "end: protocol error PongTimeout (close code 1011); \
                     the driver had closed the transport",
        expect_close: Some(1011),
    }
}

fn close_timeout(_: Role) -> Script {
    Script {
        config: QUIET.close_timeout(Duration::from_millis(300)),
        app_start: vec![AppCommand::Close(1000, "")],
        // The peer reads our close and never answers.
        peer: vec![Step::Expect(1)],
        expect_end: ENDED_CLEANLY,
        expect_close: Some(1000),
    }
}

fn close_and_wait(role: Role) -> Script {
    let mut peer = vec![
        Step::Expect(1),
        // Still allowed (the peer has not sent its close): dropped unseen.
        Step::Send(Out::text("one more thing")),
        Step::Send(Out::Close(4000, "as you wish")),
    ];
    peer.extend(peer_ends_handshake(role));
    Script {
        config: QUIET,
        app_start: vec![AppCommand::CloseAndWait(4000, "done here")],
        peer,
        expect_end: "close() returned the peer's close 4000 \"as you wish\"; \
                     the driver had closed the transport",
        expect_close: Some(4000),
    }
}

fn close_and_wait_timeout(_: Role) -> Script {
    Script {
        config: QUIET.close_timeout(Duration::from_millis(300)),
        app_start: vec![AppCommand::CloseAndWait(1000, "")],
        peer: vec![Step::Expect(1)],
        expect_end: "close() returned: no close from the peer; the driver had closed the transport",
        expect_close: Some(1000),
    }
}

/// The connection fails while the application waits in its close: both
/// drivers' close report the failure (the tokio driver's `SinkExt::close`
/// used to swallow protocol errors and return `Ok`).
fn close_and_wait_broken(_: Role) -> Script {
    Script {
        config: QUIET,
        app_start: vec![AppCommand::CloseAndWait(1000, "")],
        // A reserved opcode instead of the close.
        peer: vec![
            Step::Expect(1),
            Step::Send(Out::Frame {
                opcode: 0x3,
                fin: true,
                payload: Vec::new(),
            }),
        ],
        expect_end: "close() failed: protocol error Frame(ReservedOpcode(3)) (close code 1002); \
                     the driver had closed the transport",
        expect_close: Some(1000),
    }
}

fn oversize(_: Role) -> Script {
    Script {
        config: QUIET.max_message_size(1024),
        app_start: vec![],
        peer: vec![Step::Send(Out::binary(vec![b'x'; 4096]))],
        expect_end: "end: protocol error MessageTooBig",
        expect_close: Some(1009),
    }
}

fn invalid_utf8(_: Role) -> Script {
    let mut text = b"valid so far, then ".repeat(4);
    text.extend_from_slice(&[0xff, 0xfe]);
    Script {
        config: QUIET,
        app_start: vec![],
        peer: vec![Step::Send(Out::Message {
            text: true,
            payload: text,
            frames: 1,
            ping: None,
        })],
        expect_end: "end: protocol error InvalidUtf8 (close code 1007); \
                     the driver had closed the transport",
        expect_close: Some(1007),
    }
}

/// A message larger than what loopback TCP buffers between two sockets
/// that read nothing (Linux autotunes a receive buffer up to 32 MiB).
const BEYOND_TCP_BUFFERS: usize = 64 << 20;

/// The peer reads nothing until the application's send returns: the send
/// must still end, failed by the heartbeat, whose timers keep running while
/// the transport takes nothing (the tokio driver's flush, documented there).
/// Then the peer reads everything: the message, the ping and the 1011 close
/// that were queued behind it.
fn peer_stops_reading(_: Role) -> Script {
    Script {
        config: fast_timers(),
        app_start: vec![AppCommand::Send(Message::binary(vec![
            0x5a;
            BEYOND_TCP_BUFFERS
        ]))],
        peer: vec![Step::AwaitApp],
        expect_end: "end: protocol error PongTimeout (close code 1011); \
                     the driver had closed the transport",
        expect_close: Some(1011),
    }
}

// ---------------------------------------------------------------- the test

#[test]
fn every_scenario_gives_the_same_transcript_in_every_shell() {
    let table = table();
    // Scenarios run side by side (their timers are short, but add up); each
    // one runs its shells one after the other.
    let reports: Vec<Vec<String>> = thread::scope(|scope| {
        let runs: Vec<_> = table
            .iter()
            .map(|scenario| scope.spawn(move || check(scenario)))
            .collect();
        runs.into_iter().map(|run| run.join().unwrap()).collect()
    });
    let failures: Vec<String> = reports.into_iter().flatten().collect();
    assert!(
        failures.is_empty(),
        "{} of {} scenarios failed:\n\n{}",
        failures.len(),
        table.len(),
        failures.join("\n\n")
    );
}

/// Runs one scenario in every shell; what is wrong with it, if anything.
fn check(scenario: &Scenario) -> Vec<String> {
    let mut failures = Vec::new();
    let reference = run_socket(scenario);
    if std::env::var_os("WS13_SHOW_SCENARIOS").is_some() {
        println!("{}:\n{}", scenario.title(), reference.render());
    }
    if let Some(problem) = unexpected(scenario, &reference) {
        failures.push(format!(
            "{}: the socket's transcript is wrong: {problem}\n{}",
            scenario.title(),
            reference.render()
        ));
    }
    for shell in ["blocking", "tokio"] {
        let transcript = run_shell(shell, scenario);
        if transcript != reference {
            failures.push(diff(scenario, &reference, shell, &transcript));
        }
    }
    failures
}

fn run_shell(shell: &str, scenario: &Scenario) -> Transcript {
    match shell {
        "blocking" => run_blocking(scenario),
        "tokio" => run_tokio(scenario),
        other => panic!("no shell {other:?}"),
    }
}

/// What the reference transcript gets wrong against the table's expectations.
fn unexpected(scenario: &Scenario, reference: &Transcript) -> Option<String> {
    let end = reference.app.last().map(String::as_str).unwrap_or("");
    if !end.starts_with(scenario.expect_end) {
        return Some(format!(
            "expected the application's end {:?}",
            scenario.expect_end
        ));
    }
    let last_close = reference
        .wire
        .iter()
        .rev()
        .find_map(|line| line.strip_prefix("< Close "))
        .and_then(|rest| rest.split(' ').next()?.parse::<u16>().ok());
    if last_close != scenario.expect_close {
        return Some(format!(
            "expected our last close code {:?}, got {last_close:?}",
            scenario.expect_close
        ));
    }
    if reference.wire.last().map(String::as_str) != Some("< EOF") {
        return Some("the peer did not end with our end of file".to_owned());
    }
    None
}

/// The two transcripts line by line, the differing lines marked.
fn diff(scenario: &Scenario, reference: &Transcript, shell: &str, other: &Transcript) -> String {
    let mut out = format!(
        "{}: the socket and the {shell} driver differ \
         (\"-\" socket, \"+\" {shell}, lines without a mark are equal)\n",
        scenario.title()
    );
    for (section, left, right) in [
        ("the application saw", &reference.app, &other.app),
        ("the peer did and received", &reference.wire, &other.wire),
    ] {
        out.push_str(&format!("  {section}:\n"));
        for (mark, line) in line_diff(left, right) {
            out.push_str(&format!("    {mark} {line}\n"));
        }
    }
    out
}

/// A line diff along a longest common subsequence: `' '` for a line in
/// both, `'-'` for one only in `left`, `'+'` for one only in `right`.
fn line_diff<'a>(left: &'a [String], right: &'a [String]) -> Vec<(char, &'a str)> {
    let (n, m) = (left.len(), right.len());
    // common[i][j]: the longest common subsequence of left[i..] and right[j..].
    let mut common = vec![vec![0usize; m + 1]; n + 1];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            common[i][j] = if left[i] == right[j] {
                common[i + 1][j + 1] + 1
            } else {
                common[i + 1][j].max(common[i][j + 1])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut lines = Vec::new();
    while i < n || j < m {
        if i < n && j < m && left[i] == right[j] {
            lines.push((' ', left[i].as_str()));
            (i, j) = (i + 1, j + 1);
        } else if i < n && (j == m || common[i + 1][j] >= common[i][j + 1]) {
            lines.push(('-', left[i].as_str()));
            i += 1;
        } else {
            lines.push(('+', right[j].as_str()));
            j += 1;
        }
    }
    lines
}

// ---------------------------------------------------------------- transcripts

/// What one shell did with one scenario.
#[derive(Debug, PartialEq, Eq)]
struct Transcript {
    /// What the application saw, in order, then how it ended.
    app: Vec<String>,
    /// The peer's actions (`>`: it sent, `?`: it looked) and what it
    /// received from us (`<`), in the order the peer's script met them.
    wire: Vec<String>,
}

impl Transcript {
    fn render(&self) -> String {
        let mut out = String::from("  the application saw:\n");
        for line in &self.app {
            out.push_str(&format!("      {line}\n"));
        }
        out.push_str("  the peer did and received:\n");
        for line in &self.wire {
            out.push_str(&format!("      {line}\n"));
        }
        out
    }
}

/// A payload, short enough to read: text as text, else its length and hash.
fn summary(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(text) if bytes.len() <= 48 => format!("{text:?}"),
        _ if bytes.len() <= 16 => format!("{bytes:?}"),
        _ => format!("<{} bytes, hash {:016x}>", bytes.len(), hash(bytes)),
    }
}

/// FNV-1a over 8-byte words (a word at a time keeps 64 MiB quick in a debug
/// build), with a rotation so that every bit reaches every other.
fn hash(bytes: &[u8]) -> u64 {
    const PRIME: u64 = 0x0100_0000_01b3;
    let mix = |hash: u64, word: u64| ((hash ^ word).wrapping_mul(PRIME)).rotate_left(29);
    let mut words = bytes.chunks_exact(8);
    let mut hash = 0xcbf2_9ce4_8422_2325;
    for word in &mut words {
        hash = mix(hash, u64::from_le_bytes(word.try_into().unwrap()));
    }
    for &byte in words.remainder() {
        hash = mix(hash, u64::from(byte));
    }
    hash
}

// ---------------------------------------------------------------- the application

/// A command of the application's, the same in every shell.
#[derive(Clone, Debug)]
enum AppCommand {
    /// Start the close handshake (`Socket::close`, `start_close`).
    Close(u16, &'static str),
    /// Close and wait for the end, dropping what arrives meanwhile: the
    /// blocking `WebSocket::close`; `start_close` then `SinkExt::close` on
    /// tokio; `Socket::close`, then reading until the end, for the socket.
    /// The application does nothing after it.
    CloseAndWait(u16, &'static str),
    /// Send a message and wait until it is written: `WebSocket::send`,
    /// `SinkExt::send`; for the socket, queue it, then write while the
    /// timers run, until it is written or the connection failed (as the
    /// tokio driver's flush does).
    Send(Message),
}

/// The application: it logs what it sees and echoes data messages.
#[derive(Default)]
struct App {
    log: Vec<String>,
}

impl App {
    /// Logs a message; the echo to queue, for a data message.
    fn on_message(&mut self, message: Message) -> Option<Message> {
        let line = match &message {
            Message::Text(text) => format!("Text {}", summary(text.as_bytes())),
            Message::Binary(data) => format!("Binary {}", summary(data)),
            Message::Ping(payload) => format!("Ping {}", summary(payload)),
            Message::Pong(payload) => format!("Pong {}", summary(payload)),
            Message::Close(Some(reason)) => format!("Close {} {:?}", reason.code.0, reason.reason),
            Message::Close(None) => "Close (no code)".to_owned(),
        };
        self.log.push(line);
        message.is_data().then_some(message)
    }

    /// The close-and-wait returned: how the peer answered, or an error.
    fn on_close_returned(&mut self, result: Result<PeerClose, Error>, transport_closed: bool) {
        let how = match result {
            Ok(PeerClose::Frame(frame)) => format!(
                "close() returned the peer's close {} {:?}",
                frame.code.0, frame.reason
            ),
            Ok(PeerClose::FrameWithoutCode) => {
                "close() returned the peer's close without a code".to_owned()
            }
            Ok(PeerClose::NoFrame) => "close() returned: no close from the peer".to_owned(),
            Err(error) => format!("close() failed: {}", describe_error(&error)),
        };
        self.log
            .push(format!("{how}; {}", transport_words(transport_closed)));
    }

    fn on_sent(&mut self) {
        self.log.push("send: written".to_owned());
    }

    fn on_command_error(&mut self, command: &str, error: &Error) {
        self.log
            .push(format!("{command} failed: {}", describe_error(error)));
    }

    /// The connection ended (`None`: cleanly, as a stream that ends).
    fn on_end(&mut self, error: Option<&Error>, transport_closed: bool) {
        let how = error.map_or_else(|| "closed".to_owned(), describe_error);
        self.log
            .push(format!("end: {how}; {}", transport_words(transport_closed)));
    }
}

fn transport_words(closed: bool) -> &'static str {
    if closed {
        "the driver had closed the transport"
    } else {
        "the driver had left the transport open"
    }
}

fn describe_error(error: &Error) -> String {
    match error {
        Error::ConnectionClosed => "closed".to_owned(),
        Error::AbnormalClosure => "abnormal closure (1006)".to_owned(),
        Error::Protocol(protocol) => format!(
            "protocol error {protocol:?} (close code {})",
            protocol.close_code().0
        ),
        Error::Io(io) => format!("I/O error {:?}", io.kind()),
        Error::Send(send) => format!("send error {send:?}"),
        other => format!("{other}"),
    }
}

// ---------------------------------------------------------------- the peer

/// How long the peer waits for anything before it gives up (virtual time in
/// the socket and tokio shells, real time in the blocking one). Only a broken
/// driver makes it wait that long.
const PATIENCE: Duration = Duration::from_secs(5);

/// How long the peer waits for the application's commands to return
/// ([`Step::AwaitApp`]). Shorter: a correct driver returns within the
/// heartbeat's 300 ms, and only a driver that blocks without running its
/// timers (as the blocking driver's flush once did) makes it wait.
const APP_PATIENCE: Duration = Duration::from_secs(2);

/// How long a [`Step::Probe`] gives our side to close the transport. A
/// correct driver does not close it however long the probe waits (the
/// scenarios' close timeouts are much longer); a driver that wrongly closes
/// it does so within microseconds on loopback, and the wait lets the peer
/// see it.
const PROBE_WAIT: Duration = Duration::from_millis(100);

/// The peer's masking key when it is the client.
const PEER_MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// A step of the peer's script.
#[derive(Clone, Debug)]
enum Step {
    /// Write frames.
    Send(Out),
    /// Read until this many more of our frames arrived (each is logged).
    Expect(usize),
    /// Look whether our side closed the transport: wait for end of file
    /// at most [`PROBE_WAIT`]. Only where a correct driver keeps it open
    /// whatever the wait, so the answer is the same in every shell.
    Probe,
    /// Half-close: the peer sends nothing more (FIN).
    Shutdown,
    /// Read nothing until the application's start commands returned
    /// (a close-and-wait returns at the end), at most [`APP_PATIENCE`].
    AwaitApp,
}

/// Frames the peer sends.
#[derive(Clone, Debug)]
enum Out {
    /// A data message, compressed when permessage-deflate is on, in
    /// `frames` frames, with a ping after the first one if `ping`.
    Message {
        text: bool,
        payload: Vec<u8>,
        frames: usize,
        ping: Option<&'static [u8]>,
    },
    Close(u16, &'static str),
    /// One frame as given, never compressed.
    Frame {
        opcode: u8,
        fin: bool,
        payload: Vec<u8>,
    },
}

impl Out {
    fn text(text: &str) -> Out {
        Out::Message {
            text: true,
            payload: text.as_bytes().to_vec(),
            frames: 1,
            ping: None,
        }
    }

    fn binary(payload: Vec<u8>) -> Out {
        Out::Message {
            text: false,
            payload,
            frames: 1,
            ping: None,
        }
    }

    fn in_frames(mut self, count: usize) -> Out {
        if let Out::Message { frames, .. } = &mut self {
            *frames = count;
        }
        self
    }

    fn ping_after_first(mut self, payload: &'static [u8]) -> Out {
        if let Out::Message { ping, .. } = &mut self {
            *ping = Some(payload);
        }
        self
    }
}

/// What the peer needs from its shell next.
enum PeerIo {
    Write(Vec<u8>),
    Shutdown,
    /// Read until end of file, for at most [`PROBE_WAIT`], then call
    /// [`Peer::on_probe`].
    Probe,
    /// Wait until the application's start commands returned, at most
    /// [`APP_PATIENCE`], then call [`Peer::on_app_ready`] (or
    /// [`Peer::on_gave_up`]).
    AwaitApp,
    /// Read (at most [`PATIENCE`]); pass what arrives, end of file, or
    /// the timeout.
    Read,
    /// The script is over; drop the transport.
    Done,
}

/// The scripted peer, without I/O: each shell moves its bytes. It decodes
/// our frames only when its script asks for them, and notes end of file
/// only after every frame before it, so the log does not depend on how the
/// bytes were split into reads.
struct Peer {
    our_role: Role,
    steps: VecDeque<Step>,
    deflate: Option<PerMessageDeflate>,
    /// Bytes received from us, not decoded yet.
    received: Vec<u8>,
    eof: bool,
    done: bool,
    /// A compressed message of ours being inflated.
    inflating: Option<(MessageKind, Vec<u8>)>,
    log: Vec<String>,
}

impl Peer {
    fn new(scenario: &Scenario) -> Self {
        let peer_role = match scenario.role {
            Role::Server => Role::Client,
            Role::Client => Role::Server,
        };
        let deflate = scenario.deflate.then(|| {
            let agreed = DeflateParams::default();
            let params = deflate::DeflateParams {
                server_no_context_takeover: agreed.server_no_context_takeover,
                client_no_context_takeover: agreed.client_no_context_takeover,
                server_max_window_bits: agreed.server_max_window_bits,
                client_max_window_bits: agreed.client_max_window_bits,
            };
            // The peer compresses every data message that is not empty.
            let settings = DeflateSettings::default().min_compress_len(1);
            PerMessageDeflate::new(peer_role, params, settings)
        });
        Peer {
            our_role: scenario.role,
            steps: scenario.peer.iter().cloned().collect(),
            deflate,
            received: Vec::new(),
            eof: false,
            done: false,
            inflating: None,
            log: Vec::new(),
        }
    }

    /// The next thing to do. After the script, the peer reads everything
    /// until our end of file.
    fn next(&mut self) -> PeerIo {
        loop {
            if self.done {
                return PeerIo::Done;
            }
            let left = match self.steps.front() {
                None => {
                    while self.decode_one() {}
                    if !self.eof {
                        return PeerIo::Read;
                    }
                    self.log.push("< EOF".to_owned());
                    self.done = true;
                    continue;
                }
                Some(Step::Expect(left)) => *left,
                Some(_) => match self.steps.pop_front() {
                    Some(Step::Send(out)) => return PeerIo::Write(self.encode(&out)),
                    Some(Step::Shutdown) => {
                        self.log.push("> FIN".to_owned());
                        return PeerIo::Shutdown;
                    }
                    Some(Step::AwaitApp) => return PeerIo::AwaitApp,
                    _ => return PeerIo::Probe,
                },
            };
            if left == 0 {
                self.steps.pop_front();
            } else if self.decode_one() {
                self.steps[0] = Step::Expect(left - 1);
            } else if self.eof {
                self.log
                    .push(format!("< EOF while {left} more frames were expected"));
                self.done = true;
            } else {
                return PeerIo::Read;
            }
        }
    }

    fn on_data(&mut self, bytes: &[u8]) {
        self.received.extend_from_slice(bytes);
    }

    fn on_eof(&mut self) {
        self.eof = true;
    }

    /// After [`PeerIo::Probe`] waited for end of file.
    fn on_probe(&mut self) {
        let line = if self.eof {
            "? our side had already closed the transport"
        } else {
            "? our side keeps the transport open"
        };
        self.log.push(line.to_owned());
    }

    /// After [`PeerIo::AwaitApp`]: the application's commands returned.
    fn on_app_ready(&mut self) {
        self.log
            .push("(the application's commands returned)".to_owned());
    }

    fn on_gave_up(&mut self, waited: Duration) {
        self.log
            .push(format!("! the peer gave up after waiting {waited:?}"));
        self.done = true;
    }

    fn on_io_error(&mut self, what: &str, error: &io::Error) {
        self.log
            .push(format!("! the peer's {what} failed: {:?}", error.kind()));
        self.done = true;
    }

    fn encode(&mut self, out: &Out) -> Vec<u8> {
        match out {
            Out::Close(code, reason) => {
                self.log.push(format!("> Close {code} {reason:?}"));
                let mut payload = code.to_be_bytes().to_vec();
                payload.extend_from_slice(reason.as_bytes());
                self.frame(0x8, true, false, &payload)
            }
            Out::Frame {
                opcode,
                fin,
                payload,
            } => {
                self.log.push(format!(
                    "> frame with opcode {opcode:#x}, FIN {fin}, payload {}",
                    summary(payload)
                ));
                self.frame(*opcode, *fin, false, payload)
            }
            Out::Message {
                text,
                payload,
                frames,
                ping,
            } => {
                let compressed = self
                    .deflate
                    .as_mut()
                    .filter(|deflate| deflate.should_compress(payload.len()))
                    .map(|deflate| {
                        let mut compressed = Vec::new();
                        deflate.deflate(payload, &mut compressed);
                        compressed
                    });
                let mut line = format!(
                    "> {} {}",
                    if *text { "Text" } else { "Binary" },
                    summary(payload)
                );
                if *frames > 1 {
                    line.push_str(&format!(" in {frames} frames"));
                }
                if compressed.is_some() {
                    line.push_str(", compressed");
                }
                if let Some(ping) = ping {
                    line.push_str(&format!(", a ping {} after the first frame", summary(ping)));
                }
                self.log.push(line);
                let body = compressed.as_deref().unwrap_or(payload);
                let count = (*frames).max(1);
                let mut bytes = Vec::new();
                for i in 0..count {
                    let piece = &body[i * body.len() / count..(i + 1) * body.len() / count];
                    let opcode = match (i, text) {
                        (0, true) => 0x1,
                        (0, false) => 0x2,
                        _ => 0x0,
                    };
                    let rsv1 = i == 0 && compressed.is_some();
                    bytes.extend(self.frame(opcode, i + 1 == count, rsv1, piece));
                    if let (0, Some(ping)) = (i, ping) {
                        bytes.extend(self.frame(0x9, true, false, ping));
                    }
                }
                bytes
            }
        }
    }

    /// One frame, masked when the peer is the client.
    fn frame(&self, opcode: u8, fin: bool, rsv1: bool, payload: &[u8]) -> Vec<u8> {
        let masked = self.our_role == Role::Server;
        let mut out = vec![u8::from(fin) << 7 | u8::from(rsv1) << 6 | opcode];
        let mask_bit = if masked { 0x80 } else { 0 };
        match payload.len() {
            len if len < 126 => out.push(mask_bit | len as u8),
            len if len <= 0xffff => {
                out.push(mask_bit | 126);
                out.extend_from_slice(&(len as u16).to_be_bytes());
            }
            len => {
                out.push(mask_bit | 127);
                out.extend_from_slice(&(len as u64).to_be_bytes());
            }
        }
        if masked {
            out.extend_from_slice(&PEER_MASK);
            out.extend(
                payload
                    .iter()
                    .enumerate()
                    .map(|(i, b)| b ^ PEER_MASK[i % 4]),
            );
        } else {
            out.extend_from_slice(payload);
        }
        out
    }

    /// Decodes and logs one of our frames, if all its bytes arrived.
    fn decode_one(&mut self) -> bool {
        let bytes = &self.received;
        if bytes.len() < 2 {
            return false;
        }
        let fin = bytes[0] & 0x80 != 0;
        let rsv = bytes[0] & 0x70;
        let opcode = bytes[0] & 0x0f;
        let masked = bytes[1] & 0x80 != 0;
        let (len, mut at) = match bytes[1] & 0x7f {
            126 if bytes.len() >= 4 => (usize::from(u16::from_be_bytes([bytes[2], bytes[3]])), 4),
            127 if bytes.len() >= 10 => {
                let len = u64::from_be_bytes(bytes[2..10].try_into().unwrap());
                (usize::try_from(len).unwrap(), 10)
            }
            126 | 127 => return false,
            len => (usize::from(len), 2),
        };
        let key = if masked {
            let Some(key) = bytes.get(at..at + 4) else {
                return false;
            };
            at += 4;
            Some([key[0], key[1], key[2], key[3]])
        } else {
            None
        };
        if bytes.len() < at + len {
            return false;
        }
        let mut payload = self.received[at..at + len].to_vec();
        self.received.drain(..at + len);
        if let Some(key) = key {
            for (i, byte) in payload.iter_mut().enumerate() {
                *byte ^= key[i % 4];
            }
        }
        let mut flags = String::new();
        if !fin {
            flags.push_str(" (not FIN)");
        }
        if rsv & !0x40 != 0 || (rsv != 0 && opcode >= 0x8) {
            flags.push_str(&format!(" (RSV bits {rsv:#04x})"));
        }
        if masked != (self.our_role == Role::Client) {
            flags.push_str(if masked {
                " (MASKED by a server)"
            } else {
                " (UNMASKED from a client)"
            });
        }
        let line = match opcode {
            0x0..=0x2 => {
                let name = ["Continuation", "Text", "Binary"][usize::from(opcode)];
                let content = self.data_content(opcode, fin, rsv & 0x40 != 0, &payload);
                format!("< {name}{flags} {content}")
            }
            0x8 if payload.len() >= 2 => format!(
                "< Close {}{flags} {:?}",
                u16::from_be_bytes([payload[0], payload[1]]),
                String::from_utf8_lossy(&payload[2..])
            ),
            0x8 => format!("< Close (no code){flags}"),
            0x9 => format!("< Ping{flags} {}", summary(&payload)),
            0xa => format!("< Pong{flags} {}", summary(&payload)),
            other => format!("< opcode {other:#x}{flags} {}", summary(&payload)),
        };
        self.log.push(line);
        true
    }

    /// A data frame's payload as the log shows it: inflated (and said so)
    /// when it belongs to a compressed message.
    fn data_content(&mut self, opcode: u8, fin: bool, rsv1: bool, payload: &[u8]) -> String {
        if rsv1 && opcode != 0 {
            let kind = if opcode == 1 {
                MessageKind::Text
            } else {
                MessageKind::Binary
            };
            self.inflating = Some((kind, Vec::new()));
        }
        if opcode != 0 && !rsv1 {
            self.inflating = None;
        }
        let Some((kind, inflated)) = self.inflating.as_mut() else {
            return summary(payload);
        };
        let Some(deflate) = self.deflate.as_mut() else {
            return format!(
                "{} with RSV1, but no extension was agreed",
                summary(payload)
            );
        };
        let chunk = DataChunk {
            kind: *kind,
            payload,
            message_start: opcode != 0,
            message_end: fin,
            rsv: if rsv1 { 0x40 } else { 0 },
        };
        match deflate.inflate(&chunk, inflated, u64::MAX) {
            Err(error) => format!("compressed, does not inflate: {error:?}"),
            Ok(()) if fin => {
                let message = std::mem::take(inflated);
                self.inflating = None;
                format!("compressed, inflates to {}", summary(&message))
            }
            Ok(()) => format!("compressed, {} bytes inflated so far", inflated.len()),
        }
    }
}

fn extensions(deflate: bool) -> Extensions {
    if deflate {
        Extensions::permessage_deflate(DeflateParams::default(), DeflateSettings::default())
    } else {
        Extensions::none()
    }
}

// ---------------------------------------------------------------- shell 1: the socket, virtual time

/// How many bytes our side's pipe holds unread (the peer's is unbounded:
/// our side always reads). The same as the tokio shell's duplex.
const PIPE_CAPACITY: usize = 64 * 1024;

fn run_socket(scenario: &Scenario) -> Transcript {
    let start = Instant::now();
    let (config, extensions) = (scenario.config, extensions(scenario.deflate));
    match scenario.role {
        Role::Server => drive_socket(scenario, Socket::server(config, extensions, start), start),
        Role::Client => {
            let socket = Socket::client(config, extensions, OsMaskKeys::new(), start);
            drive_socket(scenario, socket, start)
        }
    }
}

/// The in-test driver: the peer and the socket take turns over two byte
/// pipes; when neither can move, the clock jumps to the next deadline. Its
/// end mirrors the drivers': once `poll_message` ends, finish as
/// `poll_transport` says, then tell the application; then drop the
/// connection as the blocking driver's `Drop` does.
fn drive_socket<K: MaskKeySource>(
    scenario: &Scenario,
    mut socket: Socket<K>,
    mut now: Instant,
) -> Transcript {
    let mut app = App::default();
    let mut peer = Peer::new(scenario);
    // Peer to us: bytes not read yet, and whether the peer's FIN follows.
    let mut to_us: Vec<u8> = Vec::new();
    let mut peer_fin = false;
    let mut eof_delivered = false;
    // Us to the peer.
    let mut to_peer: Vec<u8> = Vec::new();
    let mut transport_closed = false;
    let mut peer_eof_delivered = false;
    let mut peer_waiting_since: Option<Instant> = None;
    // A probe waits for our end of file until then.
    let mut probe_until: Option<Instant> = None;
    // The application got its end, which the socket is finishing.
    let mut ending: Option<Error> = None;
    // The application dropped the connection.
    let mut dropped = false;
    let mut peer_done = false;
    // The application's commands not run yet.
    let mut commands: VecDeque<AppCommand> = scenario.app_start.iter().cloned().collect();
    // It waits in a send until its bytes are written or the connection failed.
    let mut sending = false;
    // It is in its close-and-wait.
    let mut closing = false;
    // It is past its commands (the peer may wait for that).
    let mut app_ready = false;
    // The peer waits for `app_ready`.
    let mut peer_awaits_app = false;

    for _ in 0..1_000_000 {
        if !dropped {
            // 1. The application: its commands, then messages.
            if sending && socket.transmit_len() == 0 {
                sending = false;
                app.on_sent();
            } else if let Some(error) = socket.error().filter(|_| sending) {
                // As the tokio driver's flush: timers ran while the peer
                // took nothing, and failed the connection.
                sending = false;
                app.on_command_error("send", &Error::Protocol(error));
            }
            while !sending && !closing {
                let Some(command) = commands.pop_front() else {
                    app_ready = true;
                    break;
                };
                match command {
                    AppCommand::Close(code, reason) | AppCommand::CloseAndWait(code, reason) => {
                        if let Err(error) = socket.close(CloseCode(code), reason) {
                            app.on_command_error("close", &error);
                        }
                        closing = matches!(command, AppCommand::CloseAndWait(..));
                    }
                    AppCommand::Send(message) => match socket.send(message) {
                        Ok(()) => sending = true,
                        Err(error) => app.on_command_error("send", &error),
                    },
                }
            }
            while !sending && ending.is_none() {
                match socket.poll_message() {
                    Ok(Some(_)) if closing => {}
                    Ok(Some(message)) => {
                        if let Some(echo) = app.on_message(message) {
                            if let Err(error) = socket.send(echo) {
                                app.on_command_error("echo", &error);
                            }
                        }
                    }
                    Ok(None) => break,
                    Err(error) => ending = Some(error),
                }
            }
            // 2. Bytes out.
            write_out(&mut socket, &mut to_peer, transport_closed);
            // 3. Timers.
            if socket.poll_timeout().is_some_and(|at| at <= now) {
                socket.handle_timeout(now);
                continue;
            }
            // 4. The transport, once the application's read ended.
            let status = socket.poll_transport();
            if ending.is_some() && status != TransportStatus::Finishing {
                transport_closed |= status == TransportStatus::Close;
                match ending.take() {
                    Some(Error::ConnectionClosed) if closing => {
                        let peer_close = socket.peer_close();
                        app.on_close_returned(Ok(peer_close), transport_closed);
                        app_ready = true;
                    }
                    Some(error) if closing => {
                        app.on_close_returned(Err(error), transport_closed);
                        app_ready = true;
                    }
                    Some(Error::ConnectionClosed) | None => app.on_end(None, transport_closed),
                    Some(error) => app.on_end(Some(&error), transport_closed),
                }
                // The application drops the connection.
                if socket.state() == State::Open {
                    let _ = socket.close(CloseCode::NORMAL, "");
                }
                write_out(&mut socket, &mut to_peer, transport_closed);
                transport_closed = true;
                dropped = true;
            }
        }
        // 5. The peer, until it has to wait.
        let mut peer_moved = false;
        if peer_done {
            // Nobody reads any more.
            to_peer.clear();
        }
        loop {
            if peer_awaits_app {
                if !app_ready {
                    peer_waiting_since.get_or_insert(now);
                    break;
                }
                peer_awaits_app = false;
                peer_waiting_since = None;
                peer.on_app_ready();
                peer_moved = true;
            }
            if let Some(until) = probe_until {
                peer.on_data(&std::mem::take(&mut to_peer));
                if transport_closed && !peer_eof_delivered {
                    peer_eof_delivered = true;
                    peer.on_eof();
                }
                if !peer.eof && now < until {
                    break;
                }
                probe_until = None;
                peer.on_probe();
                peer_moved = true;
            }
            match peer.next() {
                PeerIo::Write(bytes) => {
                    if !peer_fin {
                        to_us.extend_from_slice(&bytes);
                    }
                }
                PeerIo::Shutdown => peer_fin = true,
                PeerIo::Probe => probe_until = Some(now + PROBE_WAIT),
                PeerIo::AwaitApp => peer_awaits_app = true,
                PeerIo::Read if !to_peer.is_empty() => {
                    peer.on_data(&std::mem::take(&mut to_peer));
                    peer_waiting_since = None;
                }
                PeerIo::Read if transport_closed && !peer_eof_delivered => {
                    peer_eof_delivered = true;
                    peer.on_eof();
                    peer_waiting_since = None;
                }
                PeerIo::Read => {
                    peer_waiting_since.get_or_insert(now);
                    break;
                }
                PeerIo::Done => {
                    // The peer drops its transport.
                    peer_fin = true;
                    peer_done = true;
                    break;
                }
            }
            peer_moved = true;
        }
        if peer_moved {
            continue;
        }
        // 6. Bytes in.
        if !dropped {
            if !to_us.is_empty() {
                socket.handle_data(&std::mem::take(&mut to_us));
                continue;
            }
            if peer_fin && !eof_delivered {
                eof_delivered = true;
                socket.handle_eof();
                continue;
            }
        }
        if dropped && peer_done {
            return Transcript {
                app: app.log,
                wire: peer.log,
            };
        }
        // 7. Nothing can move: time passes.
        let ours = if dropped { None } else { socket.poll_timeout() };
        let waits = if peer_awaits_app {
            APP_PATIENCE
        } else {
            PATIENCE
        };
        let patience = peer_waiting_since.map(|since| since + waits);
        now = [ours, patience, probe_until]
            .into_iter()
            .flatten()
            .min()
            .unwrap_or_else(|| panic!("{}: the socket shell is stuck", scenario.title()));
        if patience == Some(now) {
            peer.on_gave_up(waits);
            peer_waiting_since = None;
            peer_awaits_app = false;
        }
    }
    panic!("{}: the socket shell never ended", scenario.title())
}

/// Writes what the pipe to the peer takes (at most [`PIPE_CAPACITY`] bytes
/// unread); once the transport is closed, queued bytes go nowhere.
fn write_out<K: MaskKeySource>(socket: &mut Socket<K>, to_peer: &mut Vec<u8>, closed: bool) {
    loop {
        let room = if closed {
            usize::MAX
        } else {
            PIPE_CAPACITY.saturating_sub(to_peer.len())
        };
        if socket.transmit_len() == 0 || room == 0 {
            return;
        }
        let written = socket.with_transmit(|slices| {
            let mut written = 0;
            for slice in slices {
                let take = slice.len().min(room - written);
                if !closed {
                    to_peer.extend_from_slice(&slice[..take]);
                }
                written += take;
                if written == room {
                    break;
                }
            }
            written
        });
        socket.advance_transmit(written);
    }
}

// ---------------------------------------------------------------- shell 2: the blocking driver, loopback TCP

/// A TCP stream that notes when the driver shuts it down.
struct TrackedTcp {
    inner: TcpStream,
    shut_down: Arc<AtomicBool>,
}

impl Read for TrackedTcp {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf)
    }
}

impl Write for TrackedTcp {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write(buf)
    }

    fn write_vectored(&mut self, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
        self.inner.write_vectored(bufs)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl Transport for TrackedTcp {
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        self.inner.set_read_timeout(timeout)
    }

    fn set_write_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        self.inner.set_write_timeout(timeout)
    }

    fn shutdown(&mut self) -> io::Result<()> {
        self.shut_down.store(true, Ordering::SeqCst);
        self.inner.shutdown(Shutdown::Both)
    }
}

fn run_blocking(scenario: &Scenario) -> Transcript {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let ours = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (theirs, _) = listener.accept().unwrap();
    ours.set_nodelay(true).unwrap();
    theirs.set_nodelay(true).unwrap();
    let peer = Peer::new(scenario);
    let (ready, app_ready) = mpsc::channel();
    let peer = thread::spawn(move || run_peer_blocking(peer, theirs, app_ready));
    let shut_down = Arc::new(AtomicBool::new(false));
    let stream = TrackedTcp {
        inner: ours,
        shut_down: shut_down.clone(),
    };
    let (config, extensions) = (scenario.config, extensions(scenario.deflate));
    let now = Instant::now();
    let app = match scenario.role {
        Role::Server => {
            let socket = Socket::server(config, extensions, now);
            app_blocking(
                scenario,
                WebSocket::from_socket(stream, socket),
                &shut_down,
                ready,
            )
        }
        Role::Client => {
            let socket = Socket::client(config, extensions, OsMaskKeys::new(), now);
            app_blocking(
                scenario,
                WebSocket::from_socket(stream, socket),
                &shut_down,
                ready,
            )
        }
    };
    Transcript {
        app,
        wire: peer.join().unwrap(),
    }
}

fn app_blocking<K: MaskKeySource>(
    scenario: &Scenario,
    mut ws: WebSocket<TrackedTcp, K>,
    shut_down: &AtomicBool,
    ready: mpsc::Sender<()>,
) -> Vec<String> {
    let mut app = App::default();
    for command in &scenario.app_start {
        match command {
            AppCommand::Close(code, reason) => {
                if let Err(error) = ws.start_close(CloseCode(*code), reason) {
                    app.on_command_error("close", &error);
                }
            }
            AppCommand::CloseAndWait(code, reason) => {
                let result = ws.close(CloseCode(*code), reason);
                app.on_close_returned(result, shut_down.load(Ordering::SeqCst));
                let _ = ready.send(());
                return app.log;
            }
            AppCommand::Send(message) => match ws.send(message.clone()) {
                Ok(()) => app.on_sent(),
                Err(error) => app.on_command_error("send", &error),
            },
        }
    }
    // The peer may be gone.
    let _ = ready.send(());
    loop {
        match ws.read() {
            Ok(message) => {
                if let Some(echo) = app.on_message(message) {
                    if let Err(error) = ws.write(echo) {
                        app.on_command_error("echo", &error);
                    }
                }
            }
            Err(error) => {
                let error = (!matches!(error, Error::ConnectionClosed)).then_some(error);
                app.on_end(error.as_ref(), shut_down.load(Ordering::SeqCst));
                break;
            }
        }
    }
    drop(ws);
    app.log
}

fn run_peer_blocking(
    mut peer: Peer,
    mut stream: TcpStream,
    app_ready: mpsc::Receiver<()>,
) -> Vec<String> {
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match peer.next() {
            PeerIo::AwaitApp => match app_ready.recv_timeout(APP_PATIENCE) {
                Ok(()) => peer.on_app_ready(),
                Err(_) => peer.on_gave_up(APP_PATIENCE),
            },
            PeerIo::Write(bytes) => {
                if let Err(error) = stream.write_all(&bytes) {
                    peer.on_io_error("write", &error);
                }
            }
            PeerIo::Shutdown => stream.shutdown(Shutdown::Write).unwrap(),
            PeerIo::Probe => {
                let until = Instant::now() + PROBE_WAIT;
                loop {
                    let left = until.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        break;
                    }
                    stream.set_read_timeout(Some(left)).unwrap();
                    match stream.read(&mut buf) {
                        Ok(0) => break peer.on_eof(),
                        Ok(n) => peer.on_data(&buf[..n]),
                        Err(error) if is_timeout(&error) => break,
                        Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                        Err(error) if is_reset(&error) => break peer.on_eof(),
                        Err(error) => break peer.on_io_error("read", &error),
                    }
                }
                stream.set_read_timeout(Some(PATIENCE)).unwrap();
                peer.on_probe();
            }
            PeerIo::Read => match stream.read(&mut buf) {
                Ok(0) => peer.on_eof(),
                Ok(n) => peer.on_data(&buf[..n]),
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) if is_timeout(&error) => peer.on_gave_up(PATIENCE),
                // A server that closes with our unread bytes in its buffer
                // resets the connection instead of sending FIN: the kernel's
                // way of ending the transport, not the driver's choice.
                Err(error) if is_reset(&error) => peer.on_eof(),
                Err(error) => peer.on_io_error("read", &error),
            },
            PeerIo::Done => break,
        }
    }
    peer.log
}

fn is_timeout(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

fn is_reset(error: &io::Error) -> bool {
    error.kind() == io::ErrorKind::ConnectionReset
}

// ---------------------------------------------------------------- shell 3: the tokio driver, paused time

/// A duplex stream that notes when the driver shuts it down.
struct TrackedDuplex {
    inner: DuplexStream,
    shut_down: Arc<AtomicBool>,
}

impl AsyncRead for TrackedDuplex {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for TrackedDuplex {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.shut_down.store(true, Ordering::SeqCst);
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }
}

fn run_tokio(scenario: &Scenario) -> Transcript {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap();
    runtime.block_on(async {
        let (ours, theirs) = tokio::io::duplex(PIPE_CAPACITY);
        let (ready, app_ready) = tokio::sync::watch::channel(false);
        let peer = tokio::spawn(run_peer_tokio(Peer::new(scenario), theirs, app_ready));
        let shut_down = Arc::new(AtomicBool::new(false));
        let stream = TrackedDuplex {
            inner: ours,
            shut_down: shut_down.clone(),
        };
        let (config, extensions) = (scenario.config, extensions(scenario.deflate));
        let now = tokio::time::Instant::now().into_std();
        let app = match scenario.role {
            Role::Server => {
                let socket = Socket::server(config, extensions, now);
                let ws = WebSocketStream::from_socket(stream, socket);
                app_tokio(scenario, ws, &shut_down, ready).await
            }
            Role::Client => {
                let socket = Socket::client(config, extensions, OsMaskKeys::new(), now);
                let ws = WebSocketStream::from_socket(stream, socket);
                app_tokio(scenario, ws, &shut_down, ready).await
            }
        };
        Transcript {
            app,
            wire: peer.await.unwrap(),
        }
    })
}

async fn app_tokio<K: MaskKeySource + Unpin>(
    scenario: &Scenario,
    mut ws: WebSocketStream<TrackedDuplex, K>,
    shut_down: &AtomicBool,
    ready: tokio::sync::watch::Sender<bool>,
) -> Vec<String> {
    let mut app = App::default();
    for command in &scenario.app_start {
        match command {
            AppCommand::Close(code, reason) => {
                if let Err(error) = ws.start_close(CloseCode(*code), reason) {
                    app.on_command_error("close", &error);
                }
            }
            AppCommand::CloseAndWait(code, reason) => {
                if let Err(error) = ws.start_close(CloseCode(*code), reason) {
                    app.on_command_error("close", &error);
                }
                let result = ws.close().await;
                let result = result.map(|()| ws.peer_close());
                app.on_close_returned(result, shut_down.load(Ordering::SeqCst));
                ready.send_replace(true);
                return app.log;
            }
            AppCommand::Send(message) => match ws.send(message.clone()).await {
                Ok(()) => app.on_sent(),
                Err(error) => app.on_command_error("send", &error),
            },
        }
    }
    ready.send_replace(true);
    loop {
        match ws.next().await {
            Some(Ok(message)) => {
                if let Some(echo) = app.on_message(message) {
                    if let Err(error) = ws.feed(echo).await {
                        app.on_command_error("echo", &error);
                    }
                }
            }
            Some(Err(error)) => {
                let error = (!matches!(error, Error::ConnectionClosed)).then_some(error);
                app.on_end(error.as_ref(), shut_down.load(Ordering::SeqCst));
                break;
            }
            None => {
                app.on_end(None, shut_down.load(Ordering::SeqCst));
                break;
            }
        }
    }
    drop(ws);
    app.log
}

async fn run_peer_tokio(
    mut peer: Peer,
    mut stream: DuplexStream,
    mut app_ready: tokio::sync::watch::Receiver<bool>,
) -> Vec<String> {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match peer.next() {
            PeerIo::AwaitApp => {
                let ready = app_ready.wait_for(|ready| *ready);
                match tokio::time::timeout(APP_PATIENCE, ready).await {
                    Ok(Ok(_)) => peer.on_app_ready(),
                    _ => peer.on_gave_up(APP_PATIENCE),
                }
            }
            PeerIo::Write(bytes) => {
                if let Err(error) = stream.write_all(&bytes).await {
                    peer.on_io_error("write", &error);
                }
            }
            PeerIo::Shutdown => stream.shutdown().await.unwrap(),
            PeerIo::Probe => {
                let until = tokio::time::Instant::now() + PROBE_WAIT;
                loop {
                    match tokio::time::timeout_at(until, stream.read(&mut buf)).await {
                        Err(_) => break,
                        Ok(Ok(0)) => break peer.on_eof(),
                        Ok(Ok(n)) => peer.on_data(&buf[..n]),
                        Ok(Err(error)) => break peer.on_io_error("read", &error),
                    }
                }
                peer.on_probe();
            }
            PeerIo::Read => match tokio::time::timeout(PATIENCE, stream.read(&mut buf)).await {
                Err(_) => peer.on_gave_up(PATIENCE),
                Ok(Ok(0)) => peer.on_eof(),
                Ok(Ok(n)) => peer.on_data(&buf[..n]),
                Ok(Err(error)) => peer.on_io_error("read", &error),
            },
            PeerIo::Done => break,
        }
    }
    peer.log
}
