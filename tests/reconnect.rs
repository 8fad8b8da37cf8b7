//! `ws13::tokio::Reconnecting` against a server that is killed and
//! restarted while the client sends, on tokio's paused clock: the delays
//! are exactly the backoff's (jitter off), a connection that lasted resets
//! them, and a 403 stops it with the error. The server is reached over
//! in-memory pipes, so that every step is a task wake-up and the virtual
//! clock only moves while the client sleeps.
#![cfg(feature = "tokio")]

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite, DuplexStream, ReadBuf};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio::time::Instant;
use ws13::reconnect::{Backoff, ReconnectError};
use ws13::{
    ClientOptions, ConnectError, Decision, Message, PeerClose, Refusal, ServerOptions, WsUrl,
};

/// The server's listening socket: `None` while it is down.
type Listener = Arc<Mutex<Option<mpsc::UnboundedSender<DuplexStream>>>>;

/// A server process: its connections die with it.
struct Server {
    tasks: JoinSet<()>,
    dead: Arc<AtomicBool>,
}

/// A server's end of a connection, which writes nothing more once the
/// server is dead (a killed process sends no close frame).
struct ServerEnd {
    stream: DuplexStream,
    dead: Arc<AtomicBool>,
}

impl AsyncRead for ServerEnd {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for ServerEnd {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        if self.dead.load(Ordering::SeqCst) {
            return Poll::Ready(Err(std::io::ErrorKind::BrokenPipe.into()));
        }
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

impl Server {
    fn start(listener: &Listener, options: ServerOptions) -> Server {
        let (accept, mut incoming) = mpsc::unbounded_channel::<DuplexStream>();
        *listener.lock().unwrap() = Some(accept);
        let mut tasks = JoinSet::new();
        let dead = Arc::new(AtomicBool::new(false));
        let dying = dead.clone();
        let connections = Arc::new(Mutex::new(JoinSet::new()));
        let held = connections.clone();
        tasks.spawn(async move {
            let _held = held;
            while let Some(stream) = incoming.recv().await {
                let options = options.clone();
                let stream = ServerEnd {
                    stream,
                    dead: dying.clone(),
                };
                connections.lock().unwrap().spawn(async move {
                    if let Ok(ws13::tokio::Accepted::WebSocket(mut ws, _)) =
                        ws13::tokio::accept(stream, &options).await
                    {
                        while let Some(Ok(message)) = ws.next().await {
                            if message.is_data() && ws.send(message).await.is_err() {
                                break;
                            }
                        }
                    }
                });
            }
        });
        Server { tasks, dead }
    }

    /// Kills the process: listener and connections go at once, no close frames.
    fn kill(mut self, listener: &Listener) {
        *listener.lock().unwrap() = None;
        self.dead.store(true, Ordering::SeqCst);
        self.tasks.abort_all();
    }
}

/// One connection attempt over the in-memory network.
type Attempt = Pin<
    Box<
        dyn std::future::Future<
                Output = Result<
                    (
                        ws13::tokio::WebSocketStream<DuplexStream, ws13::OsMaskKeys>,
                        ws13::HandshakeResponse,
                    ),
                    ConnectError,
                >,
            > + Send,
    >,
>;

fn connect_fn(listener: Listener) -> impl FnMut() -> Attempt {
    let url = WsUrl::parse("ws://feed.example/prices").unwrap();
    move || {
        let listener = listener.clone();
        let url = url.clone();
        Box::pin(async move {
            let accept = listener.lock().unwrap().clone();
            let Some(accept) = accept else {
                return Err(ConnectError::Io(
                    std::io::ErrorKind::ConnectionRefused.into(),
                ));
            };
            let (client, server) = tokio::io::duplex(64 * 1024);
            if accept.send(server).is_err() {
                return Err(ConnectError::Io(
                    std::io::ErrorKind::ConnectionRefused.into(),
                ));
            }
            ws13::tokio::client(client, &url, &ClientOptions::default()).await
        })
    }
}

#[tokio::test(start_paused = true)]
async fn reconnects_with_growing_delays_resumes_and_stops_on_403() {
    let listener: Listener = Arc::new(Mutex::new(None));
    let retries = Arc::new(Mutex::new(Vec::new()));
    let seen = retries.clone();
    let mut client = ws13::tokio::Reconnecting::new(connect_fn(listener.clone()))
        .backoff(
            Backoff::default()
                .initial_delay(Duration::from_millis(100))
                .max_delay(Duration::from_millis(1000))
                .reset_after(Duration::from_secs(5))
                .full_jitter(false),
        )
        .on_retry(move |error, delay| {
            assert!(matches!(error, ConnectError::Io(_)), "{error}");
            seen.lock().unwrap().push(delay.as_millis());
        });
    let mut server = Server::start(&listener, ServerOptions::default());

    // (how long each connection stays up, how long the server is down,
    //  the delay after the end, the delays after failed attempts)
    let rounds: [(u64, u64, u128, &[u128]); 3] = [
        // Down 1.2 s: 100 (after the end), then 200, 400, 800: back at 1.5 s.
        (0, 1200, 100, &[200, 400, 800]),
        // A short connection keeps growing the delays: 1000 (capped) twice.
        (1, 1500, 1000, &[1000]),
        // A connection that lasted 6 s (over reset_after) starts again at 100.
        (6000, 250, 100, &[200]),
    ];
    for (round, (up_ms, down_ms, after_end, after_failures)) in rounds.into_iter().enumerate() {
        let (mut ws, _) = client.connect().await.expect("reconnects");
        let text = format!("round {round}");
        ws.send(Message::text(text.clone())).await.unwrap();
        assert_eq!(ws.next().await.unwrap().unwrap(), Message::text(text));
        tokio::time::sleep(Duration::from_millis(up_ms)).await;

        server.kill(&listener);
        let killed = Instant::now();
        // The client sends on; the dead connection reports its end.
        let _ = ws.send(Message::text("into the void")).await;
        while let Some(Ok(_)) = ws.next().await {}
        assert_eq!(ws.peer_close(), PeerClose::NoFrame);
        let delay = client.ended(&ws.peer_close()).unwrap();
        assert_eq!(delay.as_millis(), after_end, "round {round}");

        retries.lock().unwrap().clear();
        let restart = listener.clone();
        let restarted = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(down_ms)).await;
            Server::start(&restart, ServerOptions::default())
        });
        let (mut ws, _) = client.connect().await.expect("resumes");
        assert_eq!(
            retries.lock().unwrap().as_slice(),
            after_failures,
            "round {round}"
        );
        let waited: u128 = after_end + after_failures.iter().sum::<u128>();
        assert_eq!(killed.elapsed().as_millis(), waited, "round {round}");
        server = restarted.await.unwrap();
        ws.send(Message::text("resumed")).await.unwrap();
        assert_eq!(ws.next().await.unwrap().unwrap(), Message::text("resumed"));
        // Back in the loop, this connection is replaced by the next connect().
        drop(ws);
        client.ended(&PeerClose::NoFrame).unwrap();
    }

    // Restarted with a policy that refuses the client: 403 ends it.
    server.kill(&listener);
    let _server = Server::start(
        &listener,
        ServerOptions::default().decide(|_| Decision::Refuse(Refusal::new(403, "banned\n"))),
    );
    match client.connect().await {
        Err(ReconnectError::Connect(ConnectError::Handshake(e))) => {
            assert!(e.to_string().starts_with("The server answered 403"), "{e}");
        }
        other => panic!("{:?}", other.map(|_| ())),
    }
}

#[tokio::test(start_paused = true)]
async fn a_policy_close_stops_and_a_restart_close_retries() {
    let listener: Listener = Arc::new(Mutex::new(None));
    let _server = Server::start(&listener, ServerOptions::default());
    let mut client = ws13::tokio::Reconnecting::new(connect_fn(listener.clone()));
    let _first = client.connect().await.unwrap();
    let restart = PeerClose::Frame(ws13::CloseReason {
        code: ws13::CloseCode::SERVICE_RESTART,
        reason: "deploy".into(),
    });
    let delay = client.ended(&restart).unwrap();
    assert!(delay <= Duration::from_millis(500), "{delay:?}");
    let _second = client.connect().await.unwrap();
    let policy = PeerClose::Frame(ws13::CloseReason {
        code: ws13::CloseCode::POLICY_VIOLATION,
        reason: "token expired".into(),
    });
    let stop = client.ended(&policy).unwrap_err();
    assert_eq!(
        stop.to_string(),
        "not reconnecting: the server closed the connection with 1008 token expired"
    );
}
