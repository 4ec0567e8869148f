//! Just enough HTTP/1.1 for a proxy in front of an AWS emulator: read a request
//! (Content-Length or chunked body, `Expect: 100-continue`), read an upstream
//! response to the end of its connection, and write a response with a
//! Content-Length. Bodies are held in memory; AWS control-plane calls are small.

use std::io;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

const MAX_HEAD: usize = 1 << 20;
const MAX_HEADERS: usize = 128;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    /// Path and query, as received.
    pub target: String,
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    pub minor: u8,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        header(&self.headers, name)
    }

    /// Whether the client keeps the connection open after this exchange.
    pub fn keep_alive(&self) -> bool {
        let conn = self.header("connection").map(|c| c.to_ascii_lowercase());
        match self.minor {
            0 => conn.is_some_and(|c| c.contains("keep-alive")),
            _ => !conn.is_some_and(|c| c.contains("close")),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub reason: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

pub fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
}

fn invalid(msg: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg.into())
}

/// Reads more bytes into `buf`; false at end of stream.
async fn fill<S: AsyncRead + Unpin>(stream: &mut S, buf: &mut Vec<u8>) -> io::Result<bool> {
    let mut chunk = [0u8; 16 * 1024];
    let n = stream.read(&mut chunk).await?;
    buf.extend_from_slice(&chunk[..n]);
    Ok(n > 0)
}

/// Reads one request from a client connection. `buf` carries bytes already
/// read past the previous request. `Ok(None)`: the client closed the
/// connection between requests.
pub async fn read_request<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    buf: &mut Vec<u8>,
) -> io::Result<Option<Request>> {
    let (mut req, head_len) = loop {
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut parsed = httparse::Request::new(&mut headers);
        match parsed.parse(buf).map_err(|e| invalid(format!("bad request head: {e}")))? {
            httparse::Status::Complete(n) => {
                let req = Request {
                    method: parsed.method.unwrap_or("GET").to_owned(),
                    target: parsed.path.unwrap_or("/").to_owned(),
                    minor: parsed.version.unwrap_or(1),
                    headers: own_headers(parsed.headers),
                    body: Vec::new(),
                };
                break (req, n);
            }
            httparse::Status::Partial => {
                if buf.len() > MAX_HEAD {
                    return Err(invalid("request head too large"));
                }
                if !fill(stream, buf).await? {
                    return if buf.is_empty() {
                        Ok(None)
                    } else {
                        Err(io::Error::new(io::ErrorKind::UnexpectedEof, "connection closed mid-request"))
                    };
                }
            }
        }
    };
    buf.drain(..head_len);
    if req.header("expect").is_some_and(|e| e.eq_ignore_ascii_case("100-continue")) {
        stream.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").await?;
    }
    let chunked = req.header("transfer-encoding").is_some_and(|t| t.to_ascii_lowercase().contains("chunked"));
    if chunked {
        loop {
            if let Some((body, used)) = decode_chunked(buf)? {
                req.body = body;
                buf.drain(..used);
                break;
            }
            if !fill(stream, buf).await? {
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "connection closed mid-body"));
            }
        }
    } else if let Some(len) = req.header("content-length") {
        let len: usize = len.trim().parse().map_err(|_| invalid("bad content-length"))?;
        while buf.len() < len {
            if !fill(stream, buf).await? {
                return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "connection closed mid-body"));
            }
        }
        req.body = buf.drain(..len).collect();
    }
    Ok(Some(req))
}

fn own_headers(headers: &[httparse::Header<'_>]) -> Vec<(String, String)> {
    headers
        .iter()
        .filter(|h| !h.name.is_empty())
        .map(|h| (h.name.to_owned(), String::from_utf8_lossy(h.value).into_owned()))
        .collect()
}

/// Decodes a complete chunked body at the start of `data`: `Some((body, bytes
/// used))`, or `None` when more bytes are needed.
pub fn decode_chunked(data: &[u8]) -> io::Result<Option<(Vec<u8>, usize)>> {
    let mut body = Vec::new();
    let mut pos = 0;
    loop {
        let Some(eol) = find(&data[pos..], b"\r\n") else { return Ok(None) };
        let line = std::str::from_utf8(&data[pos..pos + eol]).map_err(|_| invalid("bad chunk size"))?;
        let size_hex = line.split(';').next().unwrap_or("").trim();
        let size = usize::from_str_radix(size_hex, 16).map_err(|_| invalid(format!("bad chunk size {size_hex:?}")))?;
        pos += eol + 2;
        if size == 0 {
            // Trailer fields, then an empty line.
            loop {
                let Some(eol) = find(&data[pos..], b"\r\n") else { return Ok(None) };
                pos += eol + 2;
                if eol == 0 {
                    return Ok(Some((body, pos)));
                }
            }
        }
        if data.len() < pos + size + 2 {
            return Ok(None);
        }
        body.extend_from_slice(&data[pos..pos + size]);
        pos += size + 2;
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Headers that belong to one connection, not to the message.
fn hop_by_hop(name: &str) -> bool {
    ["connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "upgrade", "expect", "content-length"]
        .iter()
        .any(|h| name.eq_ignore_ascii_case(h))
}

/// The request as sent upstream on a fresh connection that closes after it.
pub fn encode_upstream_request(req: &Request) -> Vec<u8> {
    let mut out = format!("{} {} HTTP/1.1\r\n", req.method, req.target).into_bytes();
    for (k, v) in req.headers.iter().filter(|(k, _)| !hop_by_hop(k)) {
        out.extend_from_slice(format!("{k}: {v}\r\n").as_bytes());
    }
    if !req.body.is_empty() || req.header("content-length").is_some() || req.header("transfer-encoding").is_some() {
        out.extend_from_slice(format!("Content-Length: {}\r\n", req.body.len()).as_bytes());
    }
    out.extend_from_slice(b"Connection: close\r\n\r\n");
    out.extend_from_slice(&req.body);
    out
}

/// Parses a whole upstream response (read to the end of its connection).
pub fn parse_response(data: &[u8], head_request: bool) -> io::Result<Response> {
    let mut data = data;
    loop {
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut parsed = httparse::Response::new(&mut headers);
        let n = match parsed.parse(data).map_err(|e| invalid(format!("bad response head: {e}")))? {
            httparse::Status::Complete(n) => n,
            httparse::Status::Partial => return Err(invalid("truncated response head")),
        };
        let status = parsed.code.unwrap_or(502);
        let reason = parsed.reason.unwrap_or("").to_owned();
        let headers = own_headers(parsed.headers);
        let rest = &data[n..];
        if (100..200).contains(&status) {
            data = rest; // 100 Continue and friends: the real response follows
            continue;
        }
        let no_body = head_request || status == 204 || status == 304;
        let chunked = header(&headers, "transfer-encoding").is_some_and(|t| t.to_ascii_lowercase().contains("chunked"));
        let body = if no_body {
            Vec::new()
        } else if chunked {
            decode_chunked(rest)?.ok_or_else(|| invalid("truncated chunked response"))?.0
        } else if let Some(len) = header(&headers, "content-length") {
            let len: usize = len.trim().parse().map_err(|_| invalid("bad content-length"))?;
            rest.get(..len).ok_or_else(|| invalid("truncated response body"))?.to_vec()
        } else {
            rest.to_vec()
        };
        return Ok(Response { status, reason, headers, body });
    }
}

/// A response to the client, framed with Content-Length. For HEAD, the
/// upstream's Content-Length is kept and no body sent.
pub fn encode_response(resp: &Response, head_request: bool, keep_alive: bool) -> Vec<u8> {
    let reason = if resp.reason.is_empty() { reason(resp.status) } else { &resp.reason };
    let mut out = format!("HTTP/1.1 {} {}\r\n", resp.status, reason).into_bytes();
    for (k, v) in resp.headers.iter().filter(|(k, _)| !hop_by_hop(k)) {
        out.extend_from_slice(format!("{k}: {v}\r\n").as_bytes());
    }
    if head_request {
        if let Some(len) = header(&resp.headers, "content-length") {
            out.extend_from_slice(format!("Content-Length: {len}\r\n").as_bytes());
        }
    } else if resp.status != 204 && resp.status != 304 {
        out.extend_from_slice(format!("Content-Length: {}\r\n", resp.body.len()).as_bytes());
    }
    out.extend_from_slice(if keep_alive { b"Connection: keep-alive\r\n\r\n" } else { b"Connection: close\r\n\r\n" });
    if !head_request {
        out.extend_from_slice(&resp.body);
    }
    out
}

pub fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn reads_keep_alive_requests_one_after_another() {
        let (mut client, mut server) = tokio::io::duplex(1 << 16);
        client
            .write_all(
                b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhelloPUT /b?tagging HTTP/1.1\r\nHost: x\r\n\
                  Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\n\r\n",
            )
            .await
            .unwrap();
        drop(client);
        let mut buf = Vec::new();
        let a = read_request(&mut server, &mut buf).await.unwrap().unwrap();
        assert_eq!((a.method.as_str(), a.target.as_str(), a.body.as_slice()), ("POST", "/", &b"hello"[..]));
        assert!(a.keep_alive());
        let b = read_request(&mut server, &mut buf).await.unwrap().unwrap();
        assert_eq!((b.method.as_str(), b.target.as_str(), b.body.as_slice()), ("PUT", "/b?tagging", &b"abcde"[..]));
        assert!(read_request(&mut server, &mut buf).await.unwrap().is_none());
    }

    #[test]
    fn upstream_request_is_reframed_and_closes() {
        let req = Request {
            method: "POST".into(),
            target: "/".into(),
            minor: 1,
            headers: vec![
                ("Host".into(), "127.0.0.1:1".into()),
                ("Transfer-Encoding".into(), "chunked".into()),
                ("Connection".into(), "keep-alive".into()),
                ("X-Amz-Target".into(), "AmazonSSM.PutParameter".into()),
            ],
            body: b"{}".to_vec(),
        };
        let text = String::from_utf8(encode_upstream_request(&req)).unwrap();
        assert_eq!(
            text,
            "POST / HTTP/1.1\r\nHost: 127.0.0.1:1\r\nX-Amz-Target: AmazonSSM.PutParameter\r\nContent-Length: 2\r\n\
             Connection: close\r\n\r\n{}"
        );
    }

    #[test]
    fn parses_upstream_responses() {
        let r = parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nServer: w\r\n\r\nokEXTRA", false).unwrap();
        assert_eq!((r.status, r.body.as_slice()), (200, &b"ok"[..]));
        let r = parse_response(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 404 NOT FOUND\r\n\r\nnope", false).unwrap();
        assert_eq!((r.status, r.reason.as_str(), r.body.as_slice()), (404, "NOT FOUND", &b"nope"[..]));
        let r = parse_response(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n", false)
            .unwrap();
        assert_eq!(r.body, b"ab");
        let r = parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n", true).unwrap();
        let out = String::from_utf8(encode_response(&r, true, true)).unwrap();
        assert_eq!(out, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\nConnection: keep-alive\r\n\r\n");
    }
}
