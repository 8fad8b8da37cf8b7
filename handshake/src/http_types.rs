//! Adapters for the [`http`] crate's types (feature `http`): classify an
//! `http::request::Parts` that hyper, axum or h2 parsed, and turn the
//! answers into `http::Response`s. The rules are the ones
//! [`HttpRequest::classify`] applies to bytes; nothing is parsed twice.
//!
//! ```
//! use ws13_handshake::{HttpRequest, Incoming, ServerConfig};
//!
//! let (parts, ()) = http::Request::get("/chat")
//!     .header("host", "example.com")
//!     .header("upgrade", "websocket")
//!     .header("connection", "Upgrade")
//!     .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
//!     .header("sec-websocket-version", "13")
//!     .body(())
//!     .unwrap()
//!     .into_parts();
//! let response: http::Response<()> = match HttpRequest::from_http(&parts, None)
//!     .classify(&ServerConfig::default())
//! {
//!     Ok(Incoming::WebSocket(ws)) => ws.accept().to_http_response(),
//!     Ok(Incoming::PlainHttp(_)) => unreachable!("serve it as a page"),
//!     Err(refusal) => unreachable!("{refusal}"),
//! };
//! assert_eq!(response.status(), 101);
//! assert_eq!(response.headers()["sec-websocket-accept"], "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
//! ```

use alloc::vec::Vec;

use http::header::{HeaderName, HeaderValue};

use crate::head::Header;
use crate::request::{Http2Pseudo, HttpRequest};
use crate::response::{SwitchingProtocols, TextResponse};

impl<'a> HttpRequest<'a> {
    /// The request in `parts`, borrowed. HTTP/1.0 and HTTP/1.1 requests
    /// take the target's path and query; HTTP/2 (and HTTP/3, whose
    /// extended CONNECT of RFC 9220 follows the same rules) takes `:scheme`,
    /// `:authority` and `:path` from the URI, and `:protocol` from
    /// `protocol`, because the `http` crate has no place for it: pass
    /// `parts.extensions.get::<hyper::ext::Protocol>().map(|p| p.as_str())`
    /// (or h2's `h2::ext::Protocol`).
    pub fn from_http(parts: &'a http::request::Parts, protocol: Option<&'a str>) -> Self {
        Self::from_http_fields(
            &parts.method,
            &parts.uri,
            parts.version,
            &parts.headers,
            protocol,
        )
    }

    /// The head of `request`, borrowed, as [`HttpRequest::from_http`]
    /// takes it from `Parts`.
    pub fn from_http_request<B>(request: &'a http::Request<B>, protocol: Option<&'a str>) -> Self {
        Self::from_http_fields(
            request.method(),
            request.uri(),
            request.version(),
            request.headers(),
            protocol,
        )
    }

    /// A request from the `http` crate's pieces, as
    /// [`HttpRequest::from_http`] takes them from `Parts` (for a caller
    /// that keeps them apart).
    pub fn from_http_fields(
        method: &'a http::Method,
        uri: &'a http::Uri,
        version: http::Version,
        headers: &'a http::HeaderMap,
        protocol: Option<&'a str>,
    ) -> Self {
        let headers: Vec<Header<'a>> = headers
            .iter()
            .map(|(name, value)| Header {
                name: name.as_str(),
                value: value.as_bytes(),
            })
            .collect();
        let target = uri
            .path_and_query()
            .map(|path| path.as_str())
            .unwrap_or_default();
        if version == http::Version::HTTP_2 || version == http::Version::HTTP_3 {
            let pseudo = Http2Pseudo {
                method: method.as_str(),
                scheme: uri.scheme_str(),
                authority: uri.authority().map(|authority| authority.as_str()),
                path: Some(target).filter(|path| !path.is_empty()),
                protocol,
            };
            HttpRequest::http2(pseudo, headers)
        } else {
            let minor = u8::from(version == http::Version::HTTP_11);
            HttpRequest::http1(method.as_str(), target, minor, headers)
        }
    }
}

impl SwitchingProtocols<'_> {
    /// The accepting response as an `http::Response` with an empty body
    /// (`B::default()`): 101 with `Sec-WebSocket-Accept` for HTTP/1.1, 200
    /// for HTTP/2.
    pub fn to_http_response<B: Default>(&self) -> http::Response<B> {
        build(
            self.status(),
            self.headers().iter().map(|(n, v)| (*n, v.as_str())),
            B::default(),
        )
    }
}

impl TextResponse {
    /// The answer as an `http::Response` carrying the body; the HTTP
    /// library adds `Content-Length` (and, on HTTP/1.1, whatever it does
    /// about the connection).
    pub fn to_http_response<B: From<alloc::string::String>>(&self) -> http::Response<B> {
        build(
            self.status(),
            self.headers().into_iter(),
            B::from(alloc::string::String::from(self.body())),
        )
    }
}

/// A response from status and header pairs. Every name and value here was
/// checked as a token and a safe value when it was set, which are exactly
/// what `HeaderName` and `HeaderValue` accept, so none is dropped in
/// practice; the check stays so a bug cannot panic a server.
fn build<'h, B>(
    status: u16,
    headers: impl Iterator<Item = (&'h str, &'h str)>,
    body: B,
) -> http::Response<B> {
    let mut response = http::Response::new(body);
    *response.status_mut() =
        http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    let map = response.headers_mut();
    for (name, value) in headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_bytes(value.as_bytes()),
        ) {
            map.append(name, value);
        }
    }
    response
}
