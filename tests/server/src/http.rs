//! A small HTTP/1.1 server on std threads: one thread per connection, keep-alive, and every response carries the
//! CORS, CORP and Timing-Allow-Origin headers a cross-origin, cross-origin-isolated test page needs.

use std::collections::HashMap;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::thread;

/// A parsed request.
pub struct Request {
    pub method: String,
    pub path: String,
    pub query: HashMap<String, String>,
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
}

impl Request {
    /// A query parameter parsed as a number.
    pub fn number(&self, name: &str, default: u64) -> u64 {
        self.query
            .get(name)
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    }
}

/// What a handler did with the connection.
pub enum Outcome {
    /// A complete response was written; the connection may serve another request.
    Done,
    /// The handler wrote (or broke) the connection itself; close it.
    Close,
}

/// The headers every response carries.
pub const COMMON_HEADERS: &str = "Access-Control-Allow-Origin: *\r\nAccess-Control-Expose-Headers: *\r\n\
Cross-Origin-Resource-Policy: cross-origin\r\nTiming-Allow-Origin: *\r\nCache-Control: no-store\r\n";

/// Writes a whole response with a Content-Length body.
pub fn respond(
    stream: &mut TcpStream,
    status: u16,
    extra_headers: &str,
    body: &[u8],
) -> io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status} {}\r\n{COMMON_HEADERS}{extra_headers}Content-Length: {}\r\n\r\n",
        reason(status),
        body.len()
    );
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)
}

/// Answers a CORS preflight: every method, and the headers asked for.
pub fn allow_preflight(stream: &mut TcpStream, request: &Request) -> io::Result<()> {
    let allow = format!(
        "Access-Control-Allow-Methods: GET, POST, PUT, DELETE, HEAD, PATCH, OPTIONS\r\n\
         Access-Control-Allow-Headers: {}\r\nAccess-Control-Max-Age: 600\r\n",
        request
            .headers
            .get("access-control-request-headers")
            .map_or("*", String::as_str)
    );
    respond(stream, 204, &allow, b"")
}

/// Writes the head of a chunked response.
pub fn start_chunked(stream: &mut TcpStream, content_type: &str) -> io::Result<()> {
    let head = format!(
        "HTTP/1.1 200 OK\r\n{COMMON_HEADERS}Content-Type: {content_type}\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
    stream.write_all(head.as_bytes())
}

/// Writes one chunk of a chunked body.
pub fn write_chunk(stream: &mut TcpStream, data: &[u8]) -> io::Result<()> {
    stream.write_all(format!("{:x}\r\n", data.len()).as_bytes())?;
    stream.write_all(data)?;
    stream.write_all(b"\r\n")
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        204 => "No Content",
        302 => "Found",
        304 => "Not Modified",
        400 => "Bad Request",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Status",
    }
}

/// Serves `listener` forever, one thread per connection.
pub fn serve<H>(listener: TcpListener, handler: Arc<H>)
where
    H: Fn(&Request, &mut TcpStream) -> io::Result<Outcome> + Send + Sync + 'static,
{
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        let handler = handler.clone();
        thread::spawn(move || {
            let _ = serve_connection(stream, &*handler);
        });
    }
}

/// Serves requests on one connection until it closes.
pub fn serve_connection<H>(stream: TcpStream, handler: &H) -> io::Result<()>
where
    H: Fn(&Request, &mut TcpStream) -> io::Result<Outcome>,
{
    stream.set_nodelay(true)?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = stream;
    loop {
        let Some(request) = read_request(&mut reader)? else {
            return Ok(());
        };
        // `/trace-echo` answers its own preflights (it records them, and can refuse them).
        if request.method == "OPTIONS" && request.path != "/trace-echo" {
            allow_preflight(&mut writer, &request)?;
            continue;
        }
        let close = request
            .headers
            .get("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"));
        match handler(&request, &mut writer)? {
            Outcome::Done if !close => writer.flush()?,
            _ => return Ok(()),
        }
    }
}

fn read_request(reader: &mut BufReader<TcpStream>) -> io::Result<Option<Request>> {
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        return Ok(None);
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_owned();
    let target = parts.next().unwrap_or("/").to_owned();
    let mut headers = HashMap::new();
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 {
            return Ok(None);
        }
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_owned());
        }
    }
    let length: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let query = query
        .split('&')
        .filter_map(|pair| pair.split_once('=').or(Some((pair, ""))))
        .filter(|(k, _)| !k.is_empty())
        .map(|(k, v)| (k.to_owned(), percent_decode(v)))
        .collect();
    Ok(Some(Request {
        method,
        path: path.to_owned(),
        query,
        headers,
        body,
    }))
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => match u8::from_str_radix(&text[i + 1..i + 3], 16) {
                Ok(byte) => {
                    out.push(byte);
                    i += 3;
                    continue;
                }
                Err(_) => out.push(b'%'),
            },
            b'+' => out.push(b' '),
            other => out.push(other),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
