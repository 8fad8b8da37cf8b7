//! Echo server on fastwebsockets, as its docs show: a hyper HTTP/1 server whose
//! handler upgrades, then a `FragmentCollector` that writes every text or
//! binary frame back (auto pong and auto close on).
//!
//! `echo_fastwebsockets [--addr 127.0.0.1:9103] [--threads N] [--cert PEM --key PEM]`
//! (see `ws13_benches::server_runtime`)
//!
//! With `--cert PEM --key PEM` it serves `wss://`: each accepted TCP stream
//! is wrapped in a tokio-rustls server stream (`ws13_benches::tls`, the same
//! rustls configuration as ws13's `async_echo`) before the library sees it.

use fastwebsockets::{FragmentCollector, OpCode, WebSocketError, upgrade};
use http_body_util::Empty;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;

async fn echo(fut: upgrade::UpgradeFut) -> Result<(), WebSocketError> {
    let mut ws = FragmentCollector::new(fut.await?);
    loop {
        let frame = ws.read_frame().await?;
        match frame.opcode {
            OpCode::Close => return Ok(()),
            OpCode::Text | OpCode::Binary => ws.write_frame(frame).await?,
            _ => {}
        }
    }
}

async fn handle(mut request: Request<Incoming>) -> Result<Response<Empty<Bytes>>, WebSocketError> {
    let (response, fut) = upgrade::upgrade(&mut request)?;
    tokio::spawn(async move {
        let _ = echo(fut).await;
    });
    Ok(response)
}

fn main() -> std::io::Result<()> {
    ws13_benches::server_runtime()?.block_on(serve())
}

async fn serve() -> std::io::Result<()> {
    let listener = TcpListener::bind(ws13_benches::flag_addr("127.0.0.1:9103")).await?;
    println!(
        "echo_fastwebsockets listening on {}",
        listener.local_addr()?
    );
    let tls = ws13_benches::tls::acceptor_from_flags();
    loop {
        let (tcp, _) = listener.accept().await?;
        tcp.set_nodelay(true)?;
        let tls = tls.clone();
        tokio::spawn(async move {
            match tls {
                None => serve_http(tcp).await,
                Some(acceptor) => {
                    if let Ok(stream) = ws13_benches::tls::accept(&acceptor, tcp).await {
                        serve_http(stream).await;
                    }
                }
            }
        });
    }
}

async fn serve_http<S: AsyncRead + AsyncWrite + Unpin + Send + 'static>(stream: S) {
    let _ = http1::Builder::new()
        .serve_connection(TokioIo::new(stream), service_fn(handle))
        .with_upgrades()
        .await;
}
