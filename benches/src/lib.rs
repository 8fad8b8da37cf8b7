//! Shared pieces of ws13's benchmarks: test payloads, a pre-encoded client
//! byte stream, and an in-memory transport that the criterion benches drive
//! ws13 and its peers (tungstenite, fastwebsockets, tokio-websockets) over.
//!
//! The binaries of this crate are the echo servers of the peers, the load
//! client of the echo benchmark (`echo_load`) and an idle-memory probe.

use std::io::{self, Read, Write};
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

pub mod tls;

/// A small deterministic generator (xorshift), so every run measures the same bytes.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator with a fixed seed.
    pub fn new(seed: u64) -> Self {
        Rng(seed.max(1))
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// A number below `n`.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

/// Fills a string from `words` until it is exactly `len` bytes long (padding
/// the end with ASCII so that the length is exact and the text valid UTF-8).
fn text_from(words: &[&str], len: usize, seed: u64) -> String {
    let mut rng = Rng::new(seed);
    let mut out = String::with_capacity(len + 16);
    loop {
        let word = words[rng.below(words.len())];
        if out.len() + word.len() > len {
            break;
        }
        out.push_str(word);
    }
    while out.len() < len {
        out.push('.');
    }
    out
}

/// English chat lines: pure ASCII.
pub fn ascii_text(len: usize) -> String {
    const WORDS: &[&str] = &[
        "hello ",
        "are you coming tonight? ",
        "ok ",
        "see you at 8 ",
        "lol ",
        "the build is green again ",
        "can you review my patch? ",
        "thanks! ",
        "meeting moved to 3pm ",
        "where are the slides? ",
        "\n",
    ];
    text_from(WORDS, len, 1)
}

/// Chinese instant-messaging text: mostly 3-byte sequences, about 20% ASCII
/// (digits, punctuation, Latin names), as the IM field this library came from.
pub fn chinese_text(len: usize) -> String {
    const WORDS: &[&str] = &[
        "你好",
        "今天晚上一起吃饭吗？",
        "好的",
        "我马上到",
        "哈哈哈",
        "收到，谢谢！",
        "会议改到下午3点",
        "文件已经发给你了",
        "在吗？",
        "明天见",
        "OK ",
        "路上堵车了，",
        "大概10分钟",
        "这个bug修好了吗？",
        "周末去爬山吧",
        "Alice说",
        "没问题 ",
        "\n",
    ];
    text_from(WORDS, len, 2)
}

/// Chat text heavy in emoji: 4-byte sequences mixed with ASCII.
pub fn emoji_text(len: usize) -> String {
    const WORDS: &[&str] = &[
        "😀", "😂", "👍", "🎉", "❤️", "🔥", "🙏", "🚀", "lol ", "yes!! ", "😅😅", "🤔 ", "\n",
    ];
    text_from(WORDS, len, 3)
}

/// JSON chat events with mixed English and Chinese content: the kind of text
/// permessage-deflate is used for.
pub fn chat_json(len: usize) -> String {
    let mut rng = Rng::new(4);
    let users = ["alice", "bob", "carol", "王伟", "李娜", "dave"];
    let bodies = [
        "are you coming tonight?",
        "今天晚上一起吃饭吗？",
        "the build is green again",
        "会议改到下午3点",
        "ok 👍",
        "文件已经发给你了，请查收",
        "can you review my patch before the release?",
    ];
    let mut out = String::with_capacity(len + 256);
    out.push('[');
    let mut id = 100_000u64;
    while out.len() < len {
        id += 1 + rng.below(7) as u64;
        let user = users[rng.below(users.len())];
        let body = bodies[rng.below(bodies.len())];
        let ts = 1_700_000_000_000u64 + id * 977;
        out.push_str(&format!(
            "{{\"type\":\"message\",\"id\":{id},\"room\":\"general\",\"from\":\"{user}\",\"ts\":{ts},\"text\":\"{body}\"}},"
        ));
    }
    // Cut to the exact length at a character boundary, pad with ASCII.
    let mut cut = len.min(out.len());
    while !out.is_char_boundary(cut) {
        cut -= 1;
    }
    out.truncate(cut);
    while out.len() < len {
        out.push(' ');
    }
    out
}

/// Distinct chat-JSON messages of about `size` bytes (cut at character
/// boundaries), slices of one [`chat_json`] log, for the deflate benchmarks.
/// There are enough of them (at least 64) that together they span more than
/// twice deflate's 32 KiB window: a compressor with context takeover that
/// sends them in turn never finds a whole earlier message still in its
/// window, as a real chat would not.
pub fn chat_messages(size: usize) -> Vec<String> {
    let size = size.max(1);
    let count = (2 * 32 * 1024 / size + 1).max(64);
    let log = chat_json(size * (count + 1));
    (0..count)
        .map(|i| {
            let (mut from, mut to) = (i * size, (i + 1) * size);
            while !log.is_char_boundary(from) {
                from += 1;
            }
            while !log.is_char_boundary(to) {
                to += 1;
            }
            log[from..to].to_owned()
        })
        .collect()
}

/// A text payload of exactly `len` bytes for the receive and send benches.
pub fn payload(len: usize) -> Vec<u8> {
    ascii_text(len).into_bytes()
}

/// Encodes one frame as a client sends it (masked with `key`), appending to `out`.
pub fn encode_masked_frame(out: &mut Vec<u8>, fin: bool, opcode: u8, payload: &[u8], key: [u8; 4]) {
    out.push(if fin { 0x80 } else { 0 } | opcode);
    let len = payload.len();
    if len < 126 {
        out.push(0x80 | len as u8);
    } else if len <= 0xFFFF {
        out.push(0x80 | 126);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(0x80 | 127);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
    out.extend_from_slice(&key);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i & 3]));
}

/// Encodes one frame as a server sends it (unmasked), appending to `out`.
pub fn encode_server_frame(out: &mut Vec<u8>, opcode: u8, payload: &[u8]) {
    out.push(0x80 | opcode);
    let len = payload.len();
    if len < 126 {
        out.push(len as u8);
    } else if len <= 0xFFFF {
        out.push(126);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(127);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
    out.extend_from_slice(payload);
}

/// Text or binary messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Opcode 1, UTF-8 validated by the receiver.
    Text,
    /// Opcode 2.
    Binary,
}

impl Kind {
    /// The opcode of the first frame.
    pub fn opcode(self) -> u8 {
        match self {
            Kind::Text => 1,
            Kind::Binary => 2,
        }
    }

    /// A short name for benchmark ids.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Text => "text",
            Kind::Binary => "binary",
        }
    }
}

/// A client→server byte stream of `count` messages of `size` payload bytes,
/// each in one frame or in `fragments` frames, masked with varying keys.
pub fn client_stream(count: usize, size: usize, kind: Kind, fragments: usize) -> Vec<u8> {
    let body = payload(size);
    let mut out = Vec::with_capacity(count * (size + 14 * fragments));
    let mut rng = Rng::new(5);
    for _ in 0..count {
        let pieces = fragments.max(1);
        let step = size.div_ceil(pieces).max(1);
        let mut chunks: Vec<&[u8]> = body.chunks(step).collect();
        if chunks.is_empty() {
            chunks.push(&[]);
        }
        let last = chunks.len() - 1;
        for (i, chunk) in chunks.iter().enumerate() {
            let opcode = if i == 0 { kind.opcode() } else { 0 };
            let key = (rng.next_u64() as u32).to_ne_bytes();
            encode_masked_frame(&mut out, i == last, opcode, chunk, key);
        }
    }
    out
}

/// An in-memory transport: reads come from a fixed byte string, writes are
/// counted and dropped. Implements both `std::io` and tokio's traits, so the
/// blocking and async APIs of every library can run over it without syscalls.
#[derive(Debug)]
pub struct MemStream<'a> {
    input: &'a [u8],
    pos: usize,
    /// Bytes written so far.
    pub written: usize,
    /// Write calls so far.
    pub writes: usize,
}

impl<'a> MemStream<'a> {
    /// A stream that will read `input`, then end of file.
    pub fn new(input: &'a [u8]) -> Self {
        MemStream {
            input,
            pos: 0,
            written: 0,
            writes: 0,
        }
    }

    fn read_into(&mut self, buf: &mut [u8]) -> usize {
        let n = buf.len().min(self.input.len() - self.pos);
        buf[..n].copy_from_slice(&self.input[self.pos..self.pos + n]);
        self.pos += n;
        n
    }
}

impl Read for MemStream<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        Ok(self.read_into(buf))
    }
}

impl Write for MemStream<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.written += buf.len();
        self.writes += 1;
        Ok(buf.len())
    }

    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        let n = bufs.iter().map(|b| b.len()).sum();
        self.written += n;
        self.writes += 1;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl AsyncRead for MemStream<'_> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let n = buf.remaining().min(self.input.len() - self.pos);
        let pos = self.pos;
        buf.put_slice(&self.input[pos..pos + n]);
        self.pos += n;
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for MemStream<'_> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Poll::Ready(Write::write(&mut *self, buf))
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Poll::Ready(Write::write_vectored(&mut *self, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// A current-thread tokio runtime with timers, for driving async APIs in benches.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// Lets ws13's blocking driver accept over the in-memory stream.
impl ws13::blocking::Transport for MemStream<'_> {}

/// The value of `--NAME VALUE` on the command line, if given.
pub fn flag(name: &str) -> Option<String> {
    let args: Vec<String> = std::env::args().collect();
    let position = args.iter().position(|a| *a == format!("--{name}"))?;
    args.get(position + 1).cloned()
}

/// The value of `--addr HOST:PORT`, or `default`.
pub fn flag_addr(default: &str) -> std::net::SocketAddr {
    flag("addr")
        .as_deref()
        .unwrap_or(default)
        .parse()
        .expect("--addr HOST:PORT")
}

#[path = "../../examples/common/runtime.rs"]
mod example_runtime;

/// The echo servers' runtime, the same for all four and for ws13's
/// `async_echo` (the same code): tokio's default multi-thread runtime, or
/// with `--threads N` N worker threads, where `--threads 1` is a
/// current-thread runtime (no cross-thread wake-ups).
pub fn server_runtime() -> std::io::Result<tokio::runtime::Runtime> {
    let threads = flag("threads").map(|n| {
        n.parse::<usize>()
            .ok()
            .filter(|&n| n > 0)
            .expect("--threads N (N >= 1)")
    });
    example_runtime::tokio_runtime(threads)
}

/// Nanoseconds the server process `pid` has spent on a CPU so far, summed
/// over its threads (`/proc/PID/task/*/schedstat`); 0 for pid 0 or a process
/// that is gone.
pub fn server_cpu_ns(pid: u32) -> u64 {
    if pid == 0 {
        return 0;
    }
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0;
    };
    tasks
        .flatten()
        .filter_map(|task| std::fs::read_to_string(task.path().join("schedstat")).ok())
        .filter_map(|s| {
            s.split_whitespace()
                .next()
                .and_then(|v| v.parse::<u64>().ok())
        })
        .sum()
}

/// The server process's user and system time in clock ticks of 1/100 s
/// (`utime` and `stime`, the 14th and 15th fields of `/proc/PID/stat`).
pub fn server_ticks(pid: u32) -> (u64, u64) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The fields are counted after the command name, which is in parentheses.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let field = |i: usize| fields.get(i).and_then(|v| v.parse().ok()).unwrap_or(0);
    (field(11), field(12))
}

/// The server's CPU time so far, measured two ways: (schedstat nanoseconds,
/// `/proc/PID/stat` ticks converted to nanoseconds); (0, 0) for pid 0.
pub fn server_cpu(pid: u32) -> (u64, u64) {
    if pid == 0 {
        return (0, 0);
    }
    let (user, system) = server_ticks(pid);
    (server_cpu_ns(pid), (user + system) * 10_000_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_have_the_exact_length_and_are_utf8() {
        for len in [16, 1000, 65536] {
            assert_eq!(ascii_text(len).len(), len);
            assert_eq!(chinese_text(len).len(), len);
            assert_eq!(emoji_text(len).len(), len);
            assert_eq!(chat_json(len).len(), len);
        }
        let zh = chinese_text(65536);
        let ascii = zh.bytes().filter(u8::is_ascii).count();
        assert!(ascii * 100 / zh.len() < 30, "{ascii}");
    }

    #[test]
    fn client_stream_decodes_with_ws13() {
        let mut bytes = client_stream(10, 1000, Kind::Text, 3);
        let mut conn = ws13_codec::Connection::server(ws13_codec::Config::default());
        let mut at = 0;
        let mut ends = 0;
        while at < bytes.len() {
            let r = conn.receive(&mut bytes[at..]).unwrap();
            if let Some(ws13_codec::Event::Data(chunk)) = r.event {
                ends += usize::from(chunk.message_end);
            }
            at += r.consumed;
        }
        assert_eq!(ends, 10);
    }
}
