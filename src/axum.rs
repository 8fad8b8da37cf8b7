//! An axum 0.8 extractor for ws13 WebSockets (feature `axum`), in the
//! spirit of axum's own `WebSocketUpgrade`: it accepts an HTTP/1.1 `GET`
//! upgrade and an HTTP/2 extended CONNECT (RFC 8441) alike, validates the
//! request with `ws13-handshake`'s rules, and rejects a broken one with
//! ws13's 400/403/426 answer (status, headers such as
//! `Sec-WebSocket-Version: 13`, and a body that names the fix).
//!
//! ```no_run
//! use axum::Router;
//! use axum::response::Response;
//! use axum::routing::any;
//! use futures_util::{SinkExt, StreamExt};
//! use ws13::axum::WebSocketUpgrade;
//!
//! async fn echo(ws: WebSocketUpgrade) -> Response {
//!     ws.protocols(["echo"]).on_upgrade(|mut socket| async move {
//!         while let Some(Ok(message)) = socket.next().await {
//!             if message.is_data() && socket.send(message).await.is_err() {
//!                 break;
//!             }
//!         }
//!     })
//! }
//!
//! let app: Router = Router::new().route("/ws", any(echo));
//! ```
//!
//! Use `any` (or `get` plus `connect`) for the route: HTTP/2 WebSockets
//! arrive as CONNECT. Serve HTTP/2 with `SETTINGS_ENABLE_CONNECT_PROTOCOL`
//! (`axum::serve` does; with hyper-util's auto builder call
//! `http2().enable_connect_protocol()`), and HTTP/1.1 with upgrades.
//!
//! The handshake settings (Origin allow-list, `Connection` policy, limits)
//! are checked during extraction, with [`ServerOptions`] taken from the
//! request's extensions when a layer put them there
//! (`axum::Extension(options)`), else the defaults; the extractor's builder
//! methods set everything else before [`WebSocketUpgrade::on_upgrade`], which
//! checks the `Origin` again under the policy then in force.

use std::future::Future;

use ::hyper::upgrade::OnUpgrade;
use axum_core::body::Body;
use axum_core::extract::FromRequestParts;
use axum_core::response::{IntoResponse, Response};
use http::request::Parts;
use ws13_codec::Config;
use ws13_codec::deflate::DeflateSettings;
use ws13_handshake::permessage_deflate::DeflateServerPolicy;
use ws13_handshake::subprotocol::choose;
use ws13_handshake::{
    HttpRequest, HttpVersion, Incoming, OriginPolicy, SubprotocolPreference, TextResponse, response,
};

use crate::error::AcceptError;
use crate::hyper::{Upgrade, finish, not_upgradable, text_response};
pub use crate::hyper::{UpgradedIo, WebSocket};
use crate::server::{ResponseForm, ServerOptions, answer};

/// The extractor: a valid WebSocket handshake request, waiting for the
/// handler's choices and [`WebSocketUpgrade::on_upgrade`].
pub struct WebSocketUpgrade {
    options: ServerOptions,
    method: http::Method,
    uri: http::Uri,
    version: http::Version,
    headers: http::HeaderMap,
    protocol: Option<String>,
    http_version: HttpVersion,
    requested_protocols: Vec<String>,
    on_upgrade: OnUpgrade,
    on_failed_upgrade: Option<Box<dyn FnOnce(::hyper::Error) + Send>>,
}

impl std::fmt::Debug for WebSocketUpgrade {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebSocketUpgrade")
            .field("http_version", &self.http_version)
            .field("uri", &self.uri)
            .field("requested_protocols", &self.requested_protocols)
            .finish_non_exhaustive()
    }
}

impl WebSocketUpgrade {
    /// How the WebSocket arrived: [`HttpVersion::Http11`] for an upgraded
    /// `GET`, [`HttpVersion::Http2`] for an RFC 8441 extended CONNECT.
    pub fn http_version(&self) -> HttpVersion {
        self.http_version
    }

    /// The subprotocols the client offered, in its order of preference.
    pub fn requested_protocols(&self) -> impl Iterator<Item = &str> {
        self.requested_protocols.iter().map(String::as_str)
    }

    /// Sets the subprotocols this endpoint speaks; the first match (in the
    /// client's order, unless [`WebSocketUpgrade::subprotocol_preference`]
    /// says otherwise) is selected and answered.
    #[must_use]
    pub fn protocols<I, P>(mut self, protocols: I) -> Self
    where
        I: IntoIterator<Item = P>,
        P: Into<String>,
    {
        self.options.subprotocols = protocols.into_iter().map(Into::into).collect();
        self
    }

    /// Sets whose order decides between several supported subprotocols.
    #[must_use]
    pub fn subprotocol_preference(mut self, preference: SubprotocolPreference) -> Self {
        self.options.subprotocol_preference = preference;
        self
    }

    /// The subprotocol that will be answered, from the client's offer and
    /// [`WebSocketUpgrade::protocols`]; `None` when nothing matches.
    pub fn selected_protocol(&self) -> Option<&str> {
        let offered: Vec<&str> = self.requested_protocols().collect();
        let supported: Vec<&str> = self
            .options
            .subprotocols
            .iter()
            .map(String::as_str)
            .collect();
        choose(&offered, &supported, self.options.subprotocol_preference)
            .and_then(|chosen| self.requested_protocols().find(|p| *p == chosen))
    }

    /// Sets the protocol limits, heartbeat and close timeout of the
    /// WebSocket.
    #[must_use]
    pub fn config(mut self, config: Config) -> Self {
        self.options.protocol = config;
        self
    }

    /// Accepts permessage-deflate offers within `policy` (off by default:
    /// about 300 KiB of zlib state per connection).
    #[must_use]
    pub fn deflate(mut self, policy: DeflateServerPolicy) -> Self {
        self.options.deflate = Some(policy);
        self
    }

    /// Sets the compression level and threshold used with permessage-deflate.
    #[must_use]
    pub fn deflate_settings(mut self, settings: DeflateSettings) -> Self {
        self.options.deflate_settings = settings;
        self
    }

    /// Sets the `Origin` policy; [`WebSocketUpgrade::on_upgrade`] answers
    /// 403 with ws13's body to an origin it refuses.
    #[must_use]
    pub fn origins(mut self, policy: OriginPolicy) -> Self {
        self.options = self.options.origins(policy);
        self
    }

    /// Replaces every setting with `options` (its `decide` hook included).
    #[must_use]
    pub fn options(mut self, options: ServerOptions) -> Self {
        self.options = options;
        self
    }

    /// Calls `callback` with hyper's error if the connection cannot be
    /// handed over after the response went out (the client went away, for
    /// example). By default such a failure is dropped.
    #[must_use]
    pub fn on_failed_upgrade<C>(mut self, callback: C) -> Self
    where
        C: FnOnce(::hyper::Error) + Send + 'static,
    {
        self.on_failed_upgrade = Some(Box::new(callback));
        self
    }

    /// Answers the request (101 over HTTP/1.1, 200 over HTTP/2) and, once
    /// hyper hands the connection over, runs `callback` with the
    /// [`WebSocket`] in a task of its own. A request the settings now
    /// refuse (an `Origin` outside [`WebSocketUpgrade::origins`], the
    /// `decide` hook) gets ws13's refusal instead, and `callback` never runs.
    pub fn on_upgrade<C, Fut>(self, callback: C) -> Response
    where
        C: FnOnce(WebSocket) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let WebSocketUpgrade {
            options,
            method,
            uri,
            version,
            headers,
            protocol,
            on_upgrade,
            on_failed_upgrade,
            ..
        } = self;
        let answered = answer(
            HttpRequest::from_http_fields(&method, &uri, version, &headers, protocol.as_deref()),
            &options,
            ResponseForm::Fields,
        );
        match finish::<Body>(answered, &options, || Some(on_upgrade)) {
            Upgrade::WebSocket {
                response,
                websocket,
            } => {
                tokio::spawn(async move {
                    match websocket.await {
                        Ok(socket) => callback(socket).await,
                        Err(error) => {
                            if let Some(on_failed) = on_failed_upgrade {
                                on_failed(error);
                            }
                        }
                    }
                });
                response
            }
            Upgrade::Refused { response, .. } => response,
            Upgrade::NotWebSocket => text_response(&response::websocket_only()),
        }
    }
}

/// Why the extractor refused a request: ws13's answer (400, 403, 426, 431,
/// or 500 when the connection cannot be handed over), as a response, and
/// the error for the log.
#[derive(Debug)]
pub struct WebSocketRejection {
    response: TextResponse,
    error: AcceptError,
}

impl WebSocketRejection {
    /// The status the rejection answers with.
    pub fn status(&self) -> u16 {
        self.response.status()
    }

    /// Why the request was refused.
    pub fn error(&self) -> &AcceptError {
        &self.error
    }

    /// The body: what is wrong and the fix.
    pub fn body(&self) -> &str {
        self.response.body()
    }
}

impl std::fmt::Display for WebSocketRejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(&self.error, f)
    }
}

impl std::error::Error for WebSocketRejection {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

impl IntoResponse for WebSocketRejection {
    fn into_response(self) -> Response {
        text_response(&self.response)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for WebSocketUpgrade {
    type Rejection = WebSocketRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let options = parts
            .extensions
            .get::<ServerOptions>()
            .cloned()
            .unwrap_or_default();
        let protocol = parts
            .extensions
            .get::<::hyper::ext::Protocol>()
            .map(|protocol| protocol.as_str().to_owned());
        let (http_version, requested_protocols) = {
            let request = HttpRequest::from_http(parts, protocol.as_deref());
            match request.classify(&options.handshake) {
                Ok(Incoming::WebSocket(ws)) => (
                    ws.version(),
                    ws.protocols().iter().map(|p| (*p).to_owned()).collect(),
                ),
                Ok(Incoming::PlainHttp(_)) => {
                    return Err(WebSocketRejection {
                        response: response::websocket_only(),
                        error: AcceptError::NotWebSocket,
                    });
                }
                Err(error) => {
                    return Err(WebSocketRejection {
                        response: response::rejection(&error),
                        error: AcceptError::Rejected { error },
                    });
                }
            }
        };
        let Some(on_upgrade) = parts.extensions.remove::<OnUpgrade>() else {
            return Err(WebSocketRejection {
                response: not_upgradable(),
                error: AcceptError::NotUpgradable,
            });
        };
        Ok(WebSocketUpgrade {
            options,
            method: parts.method.clone(),
            uri: parts.uri.clone(),
            version: parts.version,
            headers: parts.headers.clone(),
            protocol,
            http_version,
            requested_protocols,
            on_upgrade,
            on_failed_upgrade: None,
        })
    }
}
