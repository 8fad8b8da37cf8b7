//! The io_uring floor: `echo_floor`'s no-protocol echo (a bare handshake,
//! then each whole client frame's payload written back unmasked in a server
//! frame, nothing checked, a close frame ends the connection) on compio's
//! io_uring runtime. One receive and one send per batch of frames, as there.
//! Never a server to copy.
//!
//! Its CPU time per message is what the kernel and compio cost per echoed
//! message: the lowest any WebSocket server on this runtime could reach, as
//! `echo_floor` is on tokio (issue 19 measured an io_uring driver of ws13
//! against it: benches/RESULTS.md).
//!
//! `echo_floor_uring [--addr 127.0.0.1:9108]` (one thread; `--threads` is
//! accepted and ignored, compio runs a runtime per thread)

use std::io;

use compio::BufResult;
use compio::buf::{IntoInner, IoBuf};
use compio::driver::DriverType;
use compio::io::{AsyncRead, AsyncWriteExt};
use compio::net::{TcpListener, TcpStream};
use compio::runtime::Runtime;

#[path = "../floor_frames.rs"]
mod floor_frames;

use floor_frames::{frame_extent, next_frame};

const BUFFER: usize = 16 * 1024;

fn main() -> io::Result<()> {
    let runtime = Runtime::new()?;
    if runtime.driver_type() != DriverType::IoUring {
        return Err(io::Error::new(
            io::ErrorKind::Unsupported,
            format!(
                "echo_floor_uring measures io_uring, but compio chose {:?} \
                 (check kernel.io_uring_disabled and seccomp)",
                runtime.driver_type()
            ),
        ));
    }
    runtime.block_on(serve())
}

async fn serve() -> io::Result<()> {
    let listener = TcpListener::bind(ws13_benches::flag_addr("127.0.0.1:9108")).await?;
    println!("echo_floor_uring listening on {}", listener.local_addr()?);
    loop {
        let (tcp, _) = listener.accept().await?;
        tcp.set_nodelay(true)?;
        compio::runtime::spawn(async move {
            let _ = connection(tcp).await;
        })
        .detach();
    }
}

/// Receives into `buf` after its `buf.len()` bytes; the count received.
async fn receive(tcp: &mut TcpStream, buf: &mut Vec<u8>) -> io::Result<usize> {
    if buf.len() == buf.capacity() {
        buf.reserve(BUFFER);
    }
    let filled = buf.len();
    let BufResult(read, slice) = tcp.read(std::mem::take(buf).slice(filled..)).await;
    *buf = slice.into_inner();
    read
}

async fn connection(mut tcp: TcpStream) -> io::Result<()> {
    let mut buf = Vec::with_capacity(BUFFER);
    handshake(&mut tcp, &mut buf).await?;
    let mut out = Vec::new();
    let mut frames = Vec::new();
    loop {
        let mut start = 0;
        frames.clear();
        while let Some(frame) = next_frame(&mut buf[start..]) {
            if frame.opcode == 0x8 {
                return Ok(());
            }
            frames.push((start + frame.reply.start, start + frame.reply.end));
            start += frame.len;
        }
        match frames[..] {
            [] => {}
            // One frame: sent from the receive buffer, as it came in.
            [(from, to)] => {
                let BufResult(written, slice) = tcp.write_all(buf.slice(from..to)).await;
                buf = slice.into_inner();
                written?;
            }
            // Several: gathered into one send.
            _ => {
                out.clear();
                for &(from, to) in &frames {
                    out.extend_from_slice(&buf[from..to]);
                }
                let BufResult(written, returned) = tcp.write_all(out).await;
                out = returned;
                written?;
            }
        }
        buf.drain(..start);
        if let Some((_, needed)) = frame_extent(&buf) {
            if needed > buf.capacity() {
                buf.reserve(needed + BUFFER - buf.len());
            }
        }
        if receive(&mut tcp, &mut buf).await? == 0 {
            return Ok(());
        }
    }
}

/// Reads the request head, answers 101 with the key's accept value, and
/// leaves in `buf` the bytes after the head.
async fn handshake(tcp: &mut TcpStream, buf: &mut Vec<u8>) -> io::Result<()> {
    let head_end = loop {
        if receive(tcp, buf).await? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        if buf.len() >= BUFFER {
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
    let BufResult(written, _) = tcp.write_all(response.into_bytes()).await;
    written?;
    buf.drain(..head_end);
    Ok(())
}
