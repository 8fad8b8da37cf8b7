//! A blocking connection split into a read half and a write half, for two
//! threads. The reader blocks on its own handle of the transport without
//! holding the connection, so the writer never waits for it.

use std::io;
use std::net::TcpStream;
use std::sync::{Arc, Mutex, MutexGuard};

use ws13_codec::role::NoMasking;
use ws13_codec::{CloseCode, MaskKeySource, State};

use super::{Link, ReadPlan, Transport, WebSocket};
use crate::error::Result;
use crate::message::Message;
use crate::prepared::PreparedMessage;
use crate::socket::TransportStatus;

/// A transport with a second handle on the same connection, so that one
/// thread can block reading while another writes.
pub trait SplitTransport: Transport + Sized {
    /// Another handle on the same connection.
    fn try_clone(&self) -> io::Result<Self>;
}

impl SplitTransport for TcpStream {
    fn try_clone(&self) -> io::Result<Self> {
        TcpStream::try_clone(self)
    }
}

#[cfg(unix)]
impl SplitTransport for std::os::unix::net::UnixStream {
    fn try_clone(&self) -> io::Result<Self> {
        std::os::unix::net::UnixStream::try_clone(self)
    }
}

/// Locks, going on with the data if another holder panicked (each change
/// to it is one method call, so it stays consistent).
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl<S: SplitTransport, K: MaskKeySource> WebSocket<S, K> {
    /// Splits the connection into a read half and a write half for two
    /// threads. The reader blocks on its own handle of the transport
    /// without holding anything the writer needs, so the writer never
    /// waits for it; pongs, close replies and heartbeats go out from the
    /// reader; a failure seen by either half closes the transport, which
    /// wakes the other.
    ///
    /// ```no_run
    /// use std::thread;
    /// use ws13::Message;
    ///
    /// let (ws, _) = ws13::blocking::connect("ws://127.0.0.1:9001/", &Default::default())?;
    /// let (mut read, mut write) = ws.split()?;
    /// let writer = thread::spawn(move || -> ws13::Result<()> {
    ///     for i in 0..3 {
    ///         write.send(Message::text(format!("tick {i}")))?;
    ///     }
    ///     write.close(ws13::CloseCode::NORMAL, "done")
    /// });
    /// while let Ok(message) = read.read() {
    ///     println!("{message:?}");
    /// }
    /// writer.join().unwrap()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn split(self) -> io::Result<(ReadHalf<S, K>, WriteHalf<S, K>)> {
        let reader = self.link.stream.try_clone()?;
        let shared = Arc::new(Mutex::new(self.link));
        Ok((
            ReadHalf {
                shared: Arc::clone(&shared),
                reader,
                scratch: self.scratch,
            },
            WriteHalf { shared },
        ))
    }
}

/// The receiving half of a split [`WebSocket`]. Reading alone keeps the
/// connection alive (pongs, close replies and heartbeats go out).
pub struct ReadHalf<S: Transport, K: MaskKeySource = NoMasking> {
    shared: Arc<Mutex<Link<S, K>>>,
    /// The reader's own handle on the transport.
    reader: S,
    scratch: Box<[u8]>,
}

/// The sending half of a split [`WebSocket`]; it never waits for the read
/// half.
pub struct WriteHalf<S: Transport, K: MaskKeySource = NoMasking> {
    shared: Arc<Mutex<Link<S, K>>>,
}

impl<S: Transport, K: MaskKeySource> std::fmt::Debug for ReadHalf<S, K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadHalf").finish_non_exhaustive()
    }
}

impl<S: Transport, K: MaskKeySource> std::fmt::Debug for WriteHalf<S, K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriteHalf").finish_non_exhaustive()
    }
}

/// The halves given to [`ReadHalf::reunite`] came from different
/// connections; both are given back.
pub struct ReuniteError<S: Transport, K: MaskKeySource>(
    /// The read half.
    pub ReadHalf<S, K>,
    /// The write half.
    pub WriteHalf<S, K>,
);

impl<S: Transport, K: MaskKeySource> std::fmt::Debug for ReuniteError<S, K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReuniteError").finish_non_exhaustive()
    }
}

impl<S: Transport, K: MaskKeySource> std::fmt::Display for ReuniteError<S, K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the read and write halves are of different WebSocket connections")
    }
}

impl<S: Transport, K: MaskKeySource> std::error::Error for ReuniteError<S, K> {}

impl<S: Transport, K: MaskKeySource> ReadHalf<S, K> {
    /// Reads the next message, as [`WebSocket::read`] does. It blocks
    /// without holding the connection, so the write half goes on meanwhile.
    pub fn read(&mut self) -> Result<Message> {
        loop {
            let mut link = lock(&self.shared);
            match link.socket.poll_message() {
                Ok(Some(message)) => {
                    link.after_message(&message, Some(&mut self.reader), &mut self.scratch);
                    return Ok(message);
                }
                Ok(None) => {}
                Err(error) => {
                    link.finish(Some(&mut self.reader), &mut self.scratch);
                    return Err(error);
                }
            }
            let plan = link.flush().map(|()| link.plan_read());
            let timeout = match plan {
                Ok(ReadPlan::TimerFired) => continue,
                Ok(ReadPlan::Read(timeout)) => timeout,
                Err(error) => {
                    link.finish(Some(&mut self.reader), &mut self.scratch);
                    return Err(error);
                }
            };
            drop(link);
            let read = self
                .reader
                .set_read_timeout(timeout)
                .and_then(|()| self.reader.read(&mut self.scratch));
            let mut link = lock(&self.shared);
            if let Err(error) = link.take_read(read, &self.scratch) {
                link.finish(Some(&mut self.reader), &mut self.scratch);
                return Err(error);
            }
        }
    }

    /// The protocol state.
    pub fn state(&self) -> State {
        lock(&self.shared).socket.state()
    }

    /// Puts the halves back together; `Err` gives them back if they are of
    /// different connections.
    pub fn reunite(
        self,
        write: WriteHalf<S, K>,
    ) -> std::result::Result<WebSocket<S, K>, ReuniteError<S, K>> {
        if !Arc::ptr_eq(&self.shared, &write.shared) {
            return Err(ReuniteError(self, write));
        }
        drop(write);
        let link = Arc::into_inner(self.shared)
            .expect("both halves were given")
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Ok(WebSocket {
            link,
            scratch: self.scratch,
        })
    }
}

impl<S: Transport, K: MaskKeySource> WriteHalf<S, K> {
    /// Queues a message, as [`WebSocket::write`] does: written by
    /// [`WriteHalf::flush`], or at once when the queue passes 128 KiB.
    pub fn write(&mut self, message: Message) -> Result<()> {
        let mut link = lock(&self.shared);
        let queued = link.socket.send(message);
        let result = match queued {
            Ok(()) if link.socket.is_send_buffer_full() => link.flush(),
            other => other,
        };
        close_if_failed(&mut link);
        result
    }

    /// Queues and flushes a message.
    pub fn send(&mut self, message: Message) -> Result<()> {
        self.write(message)?;
        self.flush()
    }

    /// Queues a [`PreparedMessage`] by reference, as
    /// [`WebSocket::write_prepared`] does.
    pub fn write_prepared(&mut self, message: &PreparedMessage) -> Result<()> {
        let mut link = lock(&self.shared);
        let queued = link.socket.send_prepared(message);
        let result = match queued {
            Ok(()) if link.socket.is_send_buffer_full() => link.flush(),
            other => other,
        };
        close_if_failed(&mut link);
        result
    }

    /// Queues and flushes a [`PreparedMessage`].
    pub fn send_prepared(&mut self, message: &PreparedMessage) -> Result<()> {
        self.write_prepared(message)?;
        self.flush()
    }

    /// Writes everything queued.
    pub fn flush(&mut self) -> Result<()> {
        let mut link = lock(&self.shared);
        let result = link.flush();
        close_if_failed(&mut link);
        result
    }

    /// Sends a close frame with `code` and `reason` (unless one was sent);
    /// the read half then reports the peer's answer, finishes the close
    /// and ends.
    pub fn close(&mut self, code: CloseCode, reason: &str) -> Result<()> {
        {
            let mut link = lock(&self.shared);
            if link.socket.state() == State::Open {
                link.socket.close(code, reason)?;
            }
        }
        self.flush()
    }

    /// The protocol state.
    pub fn state(&self) -> State {
        lock(&self.shared).socket.state()
    }
}

/// After a write: a transport the socket gave up on is closed at once, so
/// a reader blocked on it wakes up.
fn close_if_failed<S: Transport, K: MaskKeySource>(link: &mut Link<S, K>) {
    if !link.transport_closed && link.socket.poll_transport() == TransportStatus::Close {
        let _ = link.stream.shutdown();
        link.transport_closed = true;
    }
}
