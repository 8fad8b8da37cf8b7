//! The floor under every echo server in `echo.py`: not a WebSocket server,
//! but the least work a tokio server can do per echoed message with the same
//! system calls (one read, one write). After a bare handshake it reads into
//! one buffer and writes each whole client frame's payload back, unmasked,
//! in a server frame: no UTF-8 check, no limits, no control-frame or
//! fragmentation rules, no close handshake (a close frame ends the
//! connection). Never a server to copy.
//!
//! Its CPU time per message shows how much of a server's cost is the
//! kernel's and the runtime's, which no WebSocket library can remove: a
//! library at 1.00× the floor does nothing per message that costs time.
//!
//! `echo_floor [--addr 127.0.0.1:9105] [--threads N]` (see `ws13_benches::server_runtime`)

use std::io;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[path = "../floor_frames.rs"]
mod floor_frames;

use floor_frames::{frame_extent, next_frame};

const BUFFER: usize = 16 * 1024;

fn main() -> io::Result<()> {
    ws13_benches::server_runtime()?.block_on(serve())
}

async fn serve() -> io::Result<()> {
    let listener = TcpListener::bind(ws13_benches::flag_addr("127.0.0.1:9105")).await?;
    println!("echo_floor listening on {}", listener.local_addr()?);
    loop {
        let (tcp, _) = listener.accept().await?;
        tcp.set_nodelay(true)?;
        tokio::spawn(async move {
            let _ = connection(tcp).await;
        });
    }
}

async fn connection(mut tcp: TcpStream) -> io::Result<()> {
    let mut buf = vec![0u8; BUFFER];
    let mut filled = handshake(&mut tcp, &mut buf).await?;
    let mut out = Vec::new();
    let mut frames = Vec::new();
    loop {
        let mut start = 0;
        frames.clear();
        while let Some(frame) = next_frame(&mut buf[start..filled]) {
            if frame.opcode == 0x8 {
                return Ok(());
            }
            frames.push((start + frame.reply.start, start + frame.reply.end));
            start += frame.len;
        }
        match frames[..] {
            [] => {}
            // One frame: written from the read buffer, as it came in.
            [(from, to)] => tcp.write_all(&buf[from..to]).await?,
            // Several: gathered into one write, like every server here.
            _ => {
                out.clear();
                for &(from, to) in &frames {
                    out.extend_from_slice(&buf[from..to]);
                }
                tcp.write_all(&out).await?;
            }
        }
        buf.copy_within(start..filled, 0);
        filled -= start;
        if let Some((_, needed)) = frame_extent(&buf[..filled]) {
            if needed > buf.len() {
                buf.resize(needed + BUFFER, 0);
            }
        }
        if filled == buf.len() {
            buf.resize(buf.len() + BUFFER, 0);
        }
        let n = tcp.read(&mut buf[filled..]).await?;
        if n == 0 {
            return Ok(());
        }
        filled += n;
    }
}

/// Reads the request head, answers 101 with the key's accept value, and
/// returns how many bytes after the head are in `buf` (moved to its start).
async fn handshake(tcp: &mut TcpStream, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    let head_end = loop {
        let n = tcp.read(&mut buf[filled..]).await?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        filled += n;
        if let Some(at) = buf[..filled].windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        if filled == buf.len() {
            return Err(io::ErrorKind::InvalidData.into());
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let key = head
        .lines()
        .filter_map(|line| line.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("sec-websocket-key"))
        .map(|(_, value)| value.trim())
        .ok_or(io::ErrorKind::InvalidData)?;
    let response = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {}\r\n\r\n",
        ws13_handshake::accept_key(key.as_bytes())
    );
    tcp.write_all(response.as_bytes()).await?;
    buf.copy_within(head_end..filled, 0);
    Ok(filled - head_end)
}
