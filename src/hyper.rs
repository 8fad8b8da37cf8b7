//! WebSockets in hyper 1 services (feature `hyper`): an HTTP/1.1 `GET`
//! upgrade or an HTTP/2 extended CONNECT (RFC 8441), validated by
//! `ws13-handshake` from the request hyper already parsed, answered with a
//! response the service returns, and carried on by the tokio driver over
//! the connection hyper hands over.
//!
//! HTTP/2 needs the server to advertise `SETTINGS_ENABLE_CONNECT_PROTOCOL`:
//! with hyper-util's auto builder, `builder.http2().enable_connect_protocol()`.
//! HTTP/1.1 connections must be served `with_upgrades()` (the auto builder's
//! `serve_connection_with_upgrades`).
//!
//! ```no_run
//! use futures_util::{SinkExt, StreamExt};
//! use http_body_util::Full;
//! use hyper::body::{Bytes, Incoming};
//! use hyper::{Request, Response};
//! use ws13::ServerOptions;
//! use ws13::hyper::{Upgrade, upgrade};
//!
//! async fn service(mut request: Request<Incoming>) -> Result<Response<Full<Bytes>>, hyper::Error> {
//!     match upgrade(&mut request, &ServerOptions::default()) {
//!         Upgrade::WebSocket { response, websocket } => {
//!             tokio::spawn(async move {
//!                 let Ok(mut ws) = websocket.await else { return };
//!                 while let Some(Ok(message)) = ws.next().await {
//!                     if message.is_data() && ws.send(message).await.is_err() {
//!                         break;
//!                     }
//!                 }
//!             });
//!             Ok(response)
//!         }
//!         Upgrade::Refused { response, .. } => Ok(response),
//!         Upgrade::NotWebSocket => Ok(Response::new(Full::from("a page\n"))),
//!     }
//! }
//! ```

use std::future::{Future, IntoFuture};
use std::pin::Pin;

use ::hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use ws13_handshake::{HttpRequest, TextResponse};

use crate::error::AcceptError;
use crate::server::{AcceptedRequest, Answer, ResponseForm, ServerOptions, answer};
use crate::tokio::WebSocketStream;

/// The connection hyper hands over after the handshake, as tokio I/O.
pub type UpgradedIo = TokioIo<::hyper::upgrade::Upgraded>;

/// A server-side WebSocket over a connection hyper handed over.
pub type WebSocket = WebSocketStream<UpgradedIo>;

/// What [`upgrade`] made of a request.
#[derive(Debug)]
#[allow(
    clippy::large_enum_variant,
    reason = "made once per request and taken apart at once"
)]
pub enum Upgrade<B> {
    /// A valid WebSocket request, accepted: return `response` (101 for
    /// HTTP/1.1, 200 for HTTP/2) from the service, and await `websocket`
    /// (in a spawned task: hyper hands the connection over only after the
    /// response went out).
    WebSocket {
        /// The accepting response, with an empty body.
        response: http::Response<B>,
        /// The WebSocket, once hyper hands the connection over.
        websocket: PendingWebSocket,
    },
    /// No sign of WebSocket: serve the request as ordinary HTTP.
    NotWebSocket,
    /// A broken or refused WebSocket request: return `response` (400, 403,
    /// 404, 426, 431, the decide hook's refusal, or 500 when hyper cannot
    /// hand the connection over), whose body names the defect and the fix.
    Refused {
        /// The refusal, with its plain-text body.
        response: http::Response<B>,
        /// Why, for the log.
        error: AcceptError,
    },
}

/// Validates `request` as a WebSocket handshake with `options` (the same
/// rules, diagnostics and hooks as [`crate::tokio::accept`]) and answers it.
/// The request's body is not touched; hyper's upgrade handle is taken from
/// its extensions when the request is accepted.
pub fn upgrade<T, B>(request: &mut http::Request<T>, options: &ServerOptions) -> Upgrade<B>
where
    B: Default + From<String>,
{
    let answered = {
        let protocol = request
            .extensions()
            .get::<::hyper::ext::Protocol>()
            .map(::hyper::ext::Protocol::as_str);
        answer(
            HttpRequest::from_http_request(request, protocol),
            options,
            ResponseForm::Fields,
        )
    };
    finish(answered, options, || {
        request.extensions_mut().remove::<OnUpgrade>()
    })
}

/// Turns the handshake's answer into a response, taking hyper's upgrade
/// handle only for a request that is accepted.
pub(crate) fn finish<B>(
    answered: Answer,
    options: &ServerOptions,
    take_upgrade: impl FnOnce() -> Option<OnUpgrade>,
) -> Upgrade<B>
where
    B: Default + From<String>,
{
    match answered {
        Answer::PlainHttp(_) => Upgrade::NotWebSocket,
        Answer::Refuse(refused) => Upgrade::Refused {
            response: text_response(&refused.response),
            error: refused.error,
        },
        Answer::Upgrade(accepted) => {
            let Some(on_upgrade) = take_upgrade() else {
                return Upgrade::Refused {
                    response: text_response(&not_upgradable()),
                    error: AcceptError::NotUpgradable,
                };
            };
            let mut response = http::Response::new(B::default());
            *response.status_mut() = http::StatusCode::from_u16(accepted.status)
                .unwrap_or(http::StatusCode::SWITCHING_PROTOCOLS);
            let headers = response.headers_mut();
            for (name, value) in &accepted.headers {
                // Names and values were checked as tokens and safe values
                // when the response was built, as `http` checks them.
                if let (Ok(name), Ok(value)) = (
                    http::HeaderName::from_bytes(name.as_bytes()),
                    http::HeaderValue::from_bytes(value.as_bytes()),
                ) {
                    headers.append(name, value);
                }
            }
            Upgrade::WebSocket {
                response,
                websocket: PendingWebSocket {
                    on_upgrade,
                    options: options.clone(),
                    request: accepted.request,
                },
            }
        }
    }
}

/// The answer when hyper gave no upgrade handle: the server's setup is at
/// fault, not the client.
pub(crate) fn not_upgradable() -> TextResponse {
    TextResponse::new(
        500,
        "The server cannot hand this connection over to the WebSocket: it serves HTTP/1.1 \
         without upgrades, or HTTP/2 without the extended CONNECT. Serve connections with \
         `serve_connection_with_upgrades` (hyper-util) or `with_upgrades()` (hyper), and \
         enable the extended CONNECT for HTTP/2 (`http2().enable_connect_protocol()`).\n",
    )
}

/// A plain-text answer as an `http::Response`.
pub(crate) fn text_response<B: From<String>>(text: &TextResponse) -> http::Response<B> {
    text.to_http_response()
}

/// A WebSocket that was accepted and waits for hyper to hand the
/// connection over: `.await` it (in a task of its own) for the
/// [`WebSocket`].
#[derive(Debug)]
pub struct PendingWebSocket {
    on_upgrade: OnUpgrade,
    options: ServerOptions,
    request: AcceptedRequest,
}

impl PendingWebSocket {
    /// What the handshake agreed on: path, origin, subprotocol,
    /// permessage-deflate, and the request's headers.
    pub fn request(&self) -> &AcceptedRequest {
        &self.request
    }

    /// Waits for the connection and runs the WebSocket on it, and hands
    /// back what was agreed as well.
    pub async fn into_websocket_and_request(
        self,
    ) -> Result<(WebSocket, AcceptedRequest), ::hyper::Error> {
        let upgraded = self.on_upgrade.await?;
        let ws = WebSocketStream::upgraded_accepted(
            TokioIo::new(upgraded),
            &self.options,
            &self.request,
        );
        Ok((ws, self.request))
    }
}

impl IntoFuture for PendingWebSocket {
    type Output = Result<WebSocket, ::hyper::Error>;
    type IntoFuture = Pin<Box<dyn Future<Output = Self::Output> + Send>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(async move { self.into_websocket_and_request().await.map(|(ws, _)| ws) })
    }
}
