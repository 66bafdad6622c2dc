//! What a handler sees of a request: a borrowed view of the connection's buffer. The engine
//! has read the whole request, its body included, before the handler runs, so nothing here
//! reads a socket or blocks; and nothing here allocates.

use std::net::SocketAddr;

use crate::head::Head;
use crate::{HTTPVersion, Method};

/// One header field of a request, as the client sent it. A value may hold bytes beyond ASCII
/// (RFC 9110, section 5.5: obs-text), so it is bytes; `Request::header` gives it as text.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Header<'a> {
    pub name: &'a str,
    pub value: &'a [u8],
}

/// A complete HTTP request: its head and its body, borrowed from the connection for the
/// duration of one `Handler::respond` call.
pub struct Request<'a> {
    pub(crate) head: Head<'a>,
    pub(crate) body: &'a [u8],
    pub(crate) remote_addr: SocketAddr,
}

impl<'a> Request<'a> {
    pub fn method(&self) -> Method {
        self.head.method
    }

    /// The method as sent, for a `Method::NonStandard` one.
    pub fn method_str(&self) -> &'a str {
        self.head.method_str
    }

    /// The path and query of the request target (from an absolute-form target too: its
    /// authority is then the `Host`).
    pub fn url(&self) -> &str {
        &self.head.target
    }

    pub fn http_version(&self) -> HTTPVersion {
        self.head.version
    }

    /// Every header field, in the order sent.
    pub fn headers(&self) -> impl Iterator<Item = Header<'a>> + Clone + 'a {
        self.head.headers()
    }

    /// The value of the first field called `name` (case-insensitive), if it is text. `Host`
    /// gives the request's host: from an absolute-form target (`GET http://host/path`) that is
    /// the target's authority, whatever the field said (RFC 9112, section 3.2.2).
    pub fn header(&self, name: &str) -> Option<&'a str> {
        if name.eq_ignore_ascii_case("Host") {
            return self.head.host;
        }
        let field = self.headers().find(|h| h.name.eq_ignore_ascii_case(name))?;
        std::str::from_utf8(field.value).ok()
    }

    /// The body, whole: decoded if it came in chunks, empty if there was none.
    pub fn body(&self) -> &'a [u8] {
        self.body
    }

    /// The client's address. Behind a proxy, the proxy's.
    pub fn remote_addr(&self) -> SocketAddr {
        self.remote_addr
    }
}

impl std::fmt::Debug for Request<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Request({} {} from {})",
            self.method_str(),
            self.url(),
            self.remote_addr
        )
    }
}
