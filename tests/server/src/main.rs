//! fetchspan's test server: everything the browser tests, the benchmark and the demo talk to, on 127.0.0.1.
//!
//! Usage: `fetchspan-testserver [--port 47811] [--static DIR]...`. A second, switchable port (port + 1) plays a
//! collector that can be down (every connection closed unanswered: a network error) and come back; a third
//! (port + 2) speaks HTTP/2 over TLS for streamed uploads (`http2.rs`). Every loop that serves a body is bounded in
//! time, so a test that forgets a request cannot hang the suite.

mod http;
mod http2;
mod otlp;

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use http::{allow_preflight, respond, start_chunked, write_chunk, Outcome, Request};
use otlp::Receiver;

/// No body loop runs longer than this.
pub(crate) const MAX_SERVE: Duration = Duration::from_secs(120);

/// What the server knows of one `/stream` request.
#[derive(Default)]
struct StreamStat {
    sent: u64,
    closed_at: Option<Instant>,
}

struct State {
    streams: Mutex<HashMap<String, StreamStat>>,
    receiver: Receiver,
    static_dirs: Vec<PathBuf>,
    collector_up: AtomicBool,
    /// What `/trace-echo?id=` received, per id: method and the trace-context headers (preflights included).
    trace_log: Mutex<HashMap<String, Vec<serde_json::Value>>>,
}

fn main() -> io::Result<()> {
    let mut port = 47811;
    let mut static_dirs = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--port" => {
                port = args
                    .next()
                    .and_then(|p| p.parse().ok())
                    .expect("--port takes a number")
            }
            "--static" => {
                static_dirs.push(PathBuf::from(args.next().expect("--static takes a folder")))
            }
            other => panic!("unknown argument {other}"),
        }
    }
    let state = Arc::new(State {
        streams: Mutex::new(HashMap::new()),
        receiver: Receiver::new(),
        static_dirs,
        collector_up: AtomicBool::new(false),
        trace_log: Mutex::new(HashMap::new()),
    });
    let listener = TcpListener::bind(("127.0.0.1", port))?;
    spawn_collector(&state, TcpListener::bind(("127.0.0.1", port + 1))?);
    http2::spawn(port + 2)?;
    println!("fetchspan-testserver listening on http://127.0.0.1:{port}");
    io::stdout().flush()?;
    let handler = {
        let state = state.clone();
        Arc::new(move |request: &Request, stream: &mut TcpStream| route(&state, request, stream))
    };
    http::serve(listener, handler);
    Ok(())
}

fn route(state: &Arc<State>, request: &Request, stream: &mut TcpStream) -> io::Result<Outcome> {
    let path = request.path.as_str();
    let json = "Content-Type: application/json\r\n";
    match path {
        "/stream" => serve_stream(state, request, stream),
        "/stream-stats" => {
            let id = request.query.get("id").cloned().unwrap_or_default();
            let streams = state.streams.lock().unwrap();
            let stat = streams.get(&id);
            let body = serde_json::json!({
                "sent": stat.map_or(0, |s| s.sent),
                "closed": stat.is_some_and(|s| s.closed_at.is_some()),
                "closedMsAgo": stat.and_then(|s| s.closed_at).map(|t| t.elapsed().as_millis() as u64),
            });
            respond(stream, 200, json, body.to_string().as_bytes()).map(|_| Outcome::Done)
        }
        "/bytes" => serve_bytes(request, stream),
        "/slow" => serve_slow(request, stream),
        "/sse" => serve_sse(request, stream),
        "/status" => {
            let code = request.number("code", 200) as u16;
            let body: &[u8] = if matches!(code, 204 | 304) {
                b""
            } else {
                b"status body"
            };
            respond(stream, code, "Content-Type: text/plain\r\n", body).map(|_| Outcome::Done)
        }
        "/redirect" => {
            let to = request
                .query
                .get("to")
                .cloned()
                .unwrap_or_else(|| "/bytes?n=10".into());
            let code = request.number("code", 302) as u16;
            respond(stream, code, &format!("Location: {to}\r\n"), b"").map(|_| Outcome::Done)
        }
        "/reset" => {
            // Chunked, then the connection drops without the final chunk: a network error mid-body.
            start_chunked(stream, "application/octet-stream")?;
            let chunk = vec![7u8; 64 * 1024];
            for _ in 0..request.number("chunks", 4) {
                write_chunk(stream, &chunk)?;
            }
            stream.flush()?;
            thread::sleep(Duration::from_millis(request.number("afterMs", 300)));
            let _ = stream.shutdown(Shutdown::Both);
            Ok(Outcome::Close)
        }
        "/hang" => hang(stream, None),
        "/wasm" => serve_wasm(request, stream),
        "/json" => {
            let body = br#"{"ok":true,"items":[1,2,3]}"#;
            respond(stream, 200, json, body).map(|_| Outcome::Done)
        }
        "/echo" => {
            let kind = request
                .headers
                .get("content-type")
                .cloned()
                .unwrap_or_else(|| "text/plain".into());
            let extra = format!(
                "Content-Type: {kind}\r\nX-Echo-Method: {}\r\n",
                request.method
            );
            respond(stream, 200, &extra, &request.body).map(|_| Outcome::Done)
        }
        "/trace-echo" => trace_echo(state, request, stream),
        "/server-trace" => {
            // `?tp=` as `traceresponse` (`?via=header`) or as `Server-Timing: traceparent;desc=…` (the default),
            // plus `?st=` appended to Server-Timing; `?hidden` leaves both unexposed to a cross-origin page, and
            // `?tao` allows it resource timing (and so `serverTiming`).
            let query = |name: &str| request.query.get(name).cloned().unwrap_or_default();
            let (tp, st) = (query("tp"), query("st"));
            let mut head = String::from(
                "HTTP/1.1 200 OK\r\nAccess-Control-Allow-Origin: *\r\nCache-Control: no-store\r\n",
            );
            if !request.query.contains_key("hidden") {
                head.push_str("Access-Control-Expose-Headers: *\r\n");
            }
            if request.query.contains_key("tao") {
                head.push_str("Timing-Allow-Origin: *\r\n");
            }
            let mut timing = if query("via") == "header" {
                head.push_str(&format!("traceresponse: {tp}\r\n"));
                String::new()
            } else {
                format!("traceparent;desc=\"{tp}\"")
            };
            if !st.is_empty() {
                if !timing.is_empty() {
                    timing.push_str(", ");
                }
                timing.push_str(&st);
            }
            if !timing.is_empty() {
                head.push_str(&format!("Server-Timing: {timing}\r\n"));
            }
            head.push_str("Content-Type: text/plain\r\nContent-Length: 2\r\n\r\nok");
            stream.write_all(head.as_bytes()).map(|_| Outcome::Done)
        }
        "/trace-log" => {
            let id = request.query.get("id").cloned().unwrap_or_default();
            let log = state
                .trace_log
                .lock()
                .unwrap()
                .get(&id)
                .cloned()
                .unwrap_or_default();
            respond(
                stream,
                200,
                json,
                serde_json::Value::from(log).to_string().as_bytes(),
            )
            .map(|_| Outcome::Done)
        }
        "/rss" => {
            respond(stream, 200, json, renderer_rss().to_string().as_bytes()).map(|_| Outcome::Done)
        }
        "/collector" => {
            let up = request.query.get("up").is_some_and(|v| v == "1");
            switch_collector(state, up);
            respond(stream, 200, json, b"{}").map(|_| Outcome::Done)
        }
        _ if path.starts_with("/c/") => collector(state, request, stream),
        _ => serve_static(state, path, stream),
    }
}

/// `/c/<tenant>/<mode>/v1/traces` (POST) and `/c/<tenant>/received` (GET).
/// Modes: `ok`, `s503once` (503 with Retry-After: 1, then ok), `s400`, `hang`, `partial` (2 spans rejected).
fn collector(state: &State, request: &Request, stream: &mut TcpStream) -> io::Result<Outcome> {
    let parts: Vec<&str> = request.path.trim_start_matches("/c/").split('/').collect();
    let json = "Content-Type: application/json\r\n";
    match parts.as_slice() {
        [tenant, "received"] => {
            let report = state.receiver.report(tenant);
            respond(stream, 200, json, report.to_string().as_bytes()).map(|_| Outcome::Done)
        }
        // As an OTLP/HTTP receiver: JSON only when the content type says so, else 415.
        [_, _, "v1", "traces"]
            if request.method == "POST"
                && !request.headers.get("content-type").is_some_and(|kind| {
                    let essence = kind.split(';').next().unwrap_or_default().trim();
                    essence.eq_ignore_ascii_case("application/json")
                }) =>
        {
            respond(
                stream,
                415,
                json,
                br#"{"error":"Content-Type must be application/json"}"#,
            )
            .map(|_| Outcome::Done)
        }
        [tenant, mode, "v1", "traces"] if request.method == "POST" => {
            let attempts_before = state.receiver.report(tenant)["attempts"]
                .as_array()
                .map_or(0, Vec::len);
            let accepting = match *mode {
                "hang" | "s400" => false,
                "s503once" => attempts_before > 0,
                _ => true,
            };
            let decoded = state.receiver.receive(tenant, &request.body, accepting);
            match (*mode, decoded) {
                ("hang", _) => hang(stream, Some((state, tenant))),
                ("s400", _) => respond(stream, 400, json, b"{}").map(|_| Outcome::Done),
                ("s503once", _) if attempts_before == 0 => {
                    respond(stream, 503, &format!("{json}Retry-After: 1\r\n"), b"{}")
                        .map(|_| Outcome::Done)
                }
                (_, Err(reason)) => {
                    let body = serde_json::json!({ "error": reason });
                    respond(stream, 400, json, body.to_string().as_bytes()).map(|_| Outcome::Done)
                }
                ("partial", Ok(_)) => {
                    let body = br#"{"partialSuccess":{"rejectedSpans":"2","errorMessage":"two spans refused by test"}}"#;
                    respond(stream, 200, json, body).map(|_| Outcome::Done)
                }
                (_, Ok(_)) => respond(stream, 200, json, b"{}").map(|_| Outcome::Done),
            }
        }
        _ => respond(stream, 404, "", b"no such collector path").map(|_| Outcome::Done),
    }
}

/// Records the request under `?id=` and answers with the headers it came with, as JSON. A preflight is recorded too,
/// and refused (403, no CORS headers) when the URL has `refuse`.
fn trace_echo(state: &State, request: &Request, stream: &mut TcpStream) -> io::Result<Outcome> {
    let id = request.query.get("id").cloned().unwrap_or_default();
    let header = |name: &str| request.headers.get(name).cloned();
    state
        .trace_log
        .lock()
        .unwrap()
        .entry(id)
        .or_default()
        .push(serde_json::json!({
            "method": request.method,
            "traceparent": header("traceparent"),
            "tracestate": header("tracestate"),
            "requestHeaders": header("access-control-request-headers"),
        }));
    if request.method == "OPTIONS" {
        if request.query.contains_key("refuse") {
            stream.write_all(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n")?;
            return Ok(Outcome::Done);
        }
        return allow_preflight(stream, request).map(|_| Outcome::Done);
    }
    let headers: serde_json::Map<String, serde_json::Value> = request
        .headers
        .iter()
        .map(|(name, value)| (name.clone(), value.clone().into()))
        .collect();
    respond(
        stream,
        200,
        "Content-Type: application/json\r\n",
        serde_json::Value::from(headers).to_string().as_bytes(),
    )
    .map(|_| Outcome::Done)
}

/// Brings the switchable collector (port + 1) up or down.
fn switch_collector(state: &State, up: bool) {
    state.collector_up.store(up, Ordering::SeqCst);
}

/// Serves the switchable collector port for the server's lifetime: while the collector is down, each connection is
/// closed at once, unanswered, which the page sees as a network error. The port stays bound throughout: closing
/// and binding it again failed now and then with `AddrInUse`, when an outgoing connection of the machine had been
/// given it as its ephemeral port meanwhile.
fn spawn_collector(state: &Arc<State>, listener: TcpListener) {
    let state = state.clone();
    thread::spawn(move || {
        for connection in listener.incoming() {
            let Ok(connection) = connection else { continue };
            if !state.collector_up.load(Ordering::SeqCst) {
                let _ = connection.shutdown(Shutdown::Both);
                continue;
            }
            let state = state.clone();
            thread::spawn(move || {
                let _ = http::serve_connection(connection, &|r: &Request, s: &mut TcpStream| {
                    route(&state, r, s)
                });
            });
        }
    });
}

/// Holds the request open without answering until the client leaves (or the time bound passes).
fn hang(stream: &mut TcpStream, tenant: Option<(&State, &str)>) -> io::Result<Outcome> {
    if let Some((state, name)) = tenant {
        state
            .receiver
            .tenants
            .lock()
            .unwrap()
            .entry(name.to_owned())
            .or_default()
            .hanging += 1;
    }
    stream.set_read_timeout(Some(Duration::from_millis(100)))?;
    let started = Instant::now();
    let mut buffer = [0u8; 256];
    let client_left = loop {
        match stream.read(&mut buffer) {
            Ok(0) => break true,
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Err(_) => break true,
        }
        if started.elapsed() > MAX_SERVE {
            break false;
        }
    };
    if let Some((state, name)) = tenant {
        let mut tenants = state.receiver.tenants.lock().unwrap();
        let entry = tenants.entry(name.to_owned()).or_default();
        entry.hanging -= 1;
        if client_left {
            entry.abandoned_by_client += 1;
        }
    }
    Ok(Outcome::Close)
}

/// `/stream?id=`: endless chunked bytes (unless `max=`), counting what was written per id and when the connection
/// closed.
fn serve_stream(state: &State, request: &Request, stream: &mut TcpStream) -> io::Result<Outcome> {
    let id = request.query.get("id").cloned().unwrap_or_default();
    let chunk = vec![b'x'; request.number("chunk", 64 * 1024) as usize];
    state
        .streams
        .lock()
        .unwrap()
        .insert(id.clone(), StreamStat::default());
    start_chunked(stream, "application/octet-stream")?;
    // `max=`: ends the body after that many bytes (for engines that buffer a body ahead of the app without limit).
    let max = request.number("max", u64::MAX);
    let started = Instant::now();
    let mut sent = 0u64;
    let result = loop {
        if sent >= max {
            break stream.write_all(b"0\r\n\r\n");
        }
        if let Err(e) = write_chunk(stream, &chunk) {
            break Err(e);
        }
        sent += chunk.len() as u64;
        state
            .streams
            .lock()
            .unwrap()
            .entry(id.clone())
            .or_default()
            .sent += chunk.len() as u64;
        if started.elapsed() > MAX_SERVE {
            break Ok(());
        }
    };
    state
        .streams
        .lock()
        .unwrap()
        .entry(id)
        .or_default()
        .closed_at = Some(Instant::now());
    result.map(|_| Outcome::Close)
}

/// `/bytes?n=&gzip=1`: exactly n bytes (decoded), with Content-Length; gzip-encoded when asked.
fn serve_bytes(request: &Request, stream: &mut TcpStream) -> io::Result<Outcome> {
    let n = request.number("n", 0) as usize;
    let body: Vec<u8> = (0..n).map(|i| b'a' + (i % 26) as u8).collect();
    if request.query.contains_key("gzip") {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(&body)?;
        let encoded = encoder.finish()?;
        respond(
            stream,
            200,
            "Content-Type: text/plain\r\nContent-Encoding: gzip\r\n",
            &encoded,
        )?;
    } else {
        respond(stream, 200, "Content-Type: text/plain\r\n", &body)?;
    }
    Ok(Outcome::Done)
}

/// `/slow?chunks=&size=&delayMs=`: a finite chunked body, one chunk per delay; `firstDelayMs=` waits that long
/// between the headers and the first chunk. An `x-chunks` request header overrides `chunks`: two requests to one
/// URL with different bodies.
fn serve_slow(request: &Request, stream: &mut TcpStream) -> io::Result<Outcome> {
    let chunks = request
        .headers
        .get("x-chunks")
        .and_then(|value| value.parse().ok())
        .unwrap_or_else(|| request.number("chunks", 5));
    let chunk = vec![b's'; request.number("size", 1024) as usize];
    let delay = Duration::from_millis(request.number("delayMs", 50));
    start_chunked(stream, "text/plain")?;
    stream.flush()?;
    thread::sleep(Duration::from_millis(request.number("firstDelayMs", 0)));
    for _ in 0..chunks {
        write_chunk(stream, &chunk)?;
        stream.flush()?;
        thread::sleep(delay);
    }
    stream.write_all(b"0\r\n\r\n")?;
    Ok(Outcome::Done)
}

/// `/sse?events=&delayMs=`: a finite Server-Sent Events feed (`text/event-stream`), one event per delay, each
/// `id: n` and `data: {"n":n,"of":events}`, then the end of the body.
/// `/sse?events=&delayMs=`: server-sent events, one per chunk, `delayMs` apart. `quietMs=` waits that long after
/// the first event instead; `pack=K` writes K events per chunk; `split=1` cuts every event across two chunks;
/// `crlf=1` ends lines with CRLF; `ping=1` sends, before each event, a comment block and a block of `retry`, `event`
/// and `id` fields without `data` (neither dispatches an event); `bom=1` starts the body with a UTF-8 BOM.
fn serve_sse(request: &Request, stream: &mut TcpStream) -> io::Result<Outcome> {
    let events = request.number("events", 10);
    let delay = Duration::from_millis(request.number("delayMs", 100));
    let quiet = request
        .query
        .get("quietMs")
        .map(|_| Duration::from_millis(request.number("quietMs", 0)));
    let pack = request.number("pack", 1).max(1);
    // `split`: each write goes out in two chunks, cut in its middle, or with `split=cr` between the CR and the LF
    // that end it (the blank line that dispatches the last event).
    let split = request.query.get("split").map(String::as_str);
    let newline = if request.query.contains_key("crlf") {
        "\r\n"
    } else {
        "\n"
    };
    let ping = request.query.contains_key("ping");
    start_chunked(stream, "text/event-stream")?;
    let started = Instant::now();
    let mut pending = String::new();
    if request.query.contains_key("bom") {
        pending.push('\u{feff}');
    }
    for n in (1..=events).take_while(|_| started.elapsed() < MAX_SERVE) {
        if ping {
            pending.push_str(&format!(
                ": ping{newline}{newline}retry: 1000{newline}event: ping{newline}id: p{n}{newline}{newline}"
            ));
        }
        pending.push_str(&format!(
            "id: {n}{newline}data: {{\"n\":{n},\"of\":{events}}}{newline}{newline}"
        ));
        if n % pack != 0 && n < events {
            continue;
        }
        let bytes = std::mem::take(&mut pending).into_bytes();
        if let Some(how) = split {
            let at = if how == "cr" { bytes.len() - 1 } else { bytes.len() / 2 };
            let (head, tail) = bytes.split_at(at);
            write_chunk(stream, head)?;
            stream.flush()?;
            thread::sleep(Duration::from_millis(5));
            write_chunk(stream, tail)?;
        } else {
            write_chunk(stream, &bytes)?;
        }
        stream.flush()?;
        if n < events {
            thread::sleep(if n == 1 {
                quiet.unwrap_or(delay)
            } else {
                delay
            });
        }
    }
    stream.write_all(b"0\r\n\r\n")?;
    Ok(Outcome::Done)
}

fn serve_static(state: &State, path: &str, stream: &mut TcpStream) -> io::Result<Outcome> {
    let relative = path.trim_start_matches('/');
    let relative = if relative.is_empty() {
        "index.html"
    } else {
        relative
    };
    if relative.split('/').any(|part| part == "..") {
        return respond(stream, 404, "", b"not found").map(|_| Outcome::Done);
    }
    for dir in &state.static_dirs {
        if let Ok(body) = std::fs::read(dir.join(relative)) {
            let kind = match relative.rsplit('.').next() {
                Some("html") => "text/html; charset=utf-8",
                Some("js" | "mjs") => "text/javascript",
                Some("wasm") => "application/wasm",
                Some("json") => "application/json",
                Some("css") => "text/css",
                _ => "application/octet-stream",
            };
            return respond(stream, 200, &format!("Content-Type: {kind}\r\n"), &body)
                .map(|_| Outcome::Done);
        }
    }
    respond(stream, 404, "", b"not found").map(|_| Outcome::Done)
}

/// Whether a process command line is a browser engine's content process, where a page's memory lives: Chromium's
/// `--type=renderer`, Firefox's `-contentproc` (tab processes; its other child processes take no page), WebKit's
/// `WebKitWebProcess`.
fn is_content_process(cmdline: &str) -> bool {
    cmdline.contains("--type=renderer")
        || (cmdline.contains("-contentproc")
            && !cmdline.contains("socket")
            && !cmdline.contains("rdd"))
        || cmdline.contains("WebKitWebProcess")
}

/// `RssAnon` of every content process (see [`is_content_process`]), read from /proc.
fn renderer_rss() -> serde_json::Value {
    let mut renderers = Vec::new();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|p| p.parse::<u32>().ok())
            else {
                continue;
            };
            let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
                continue;
            };
            let cmdline = String::from_utf8_lossy(&cmdline);
            if !is_content_process(&cmdline) {
                continue;
            }
            let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
                continue;
            };
            let kib = status
                .lines()
                .find_map(|line| line.strip_prefix("RssAnon:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok());
            if let Some(kib) = kib {
                renderers.push(serde_json::json!({ "pid": pid, "rssAnonKiB": kib }));
            }
        }
    }
    serde_json::json!({ "renderers": renderers })
}

/// `/wasm`: an empty WebAssembly module with a custom section of `pad` bytes (default 0: none), as
/// `application/wasm`; with `imports=1` it imports a function `m.f` (no parameters, no results); with `bad=1` its
/// magic is wrong (a compile error); with `reset=1` it is chunked and the connection drops before its last chunk (a
/// network error while the compiler reads it).
fn serve_wasm(request: &Request, stream: &mut TcpStream) -> io::Result<Outcome> {
    let magic: &[u8] = if request.number("bad", 0) == 1 { b"\0wsm" } else { b"\0asm" };
    let mut module = [magic, &[1, 0, 0, 0]].concat();
    if request.number("imports", 0) == 1 {
        // A type section with `() -> ()`, and an import section with `m.f` of that type.
        module.extend_from_slice(&[1, 4, 1, 0x60, 0, 0, 2, 7, 1, 1, b'm', 1, b'f', 0, 0]);
    }
    let pad = request.number("pad", 0) as usize;
    if pad > 0 {
        // A custom section named "x": id 0, its size as LEB128, then the name's length, the name, the bytes.
        let mut size = pad + 2;
        module.push(0);
        loop {
            let byte = (size & 0x7f) as u8;
            size >>= 7;
            module.push(if size == 0 { byte } else { byte | 0x80 });
            if size == 0 {
                break;
            }
        }
        module.extend_from_slice(&[1, b'x']);
        module.resize(module.len() + pad, 0);
    }
    if request.number("reset", 0) == 1 {
        start_chunked(stream, "application/wasm")?;
        write_chunk(stream, &module[..module.len() / 2])?;
        stream.flush()?;
        thread::sleep(Duration::from_millis(100));
        let _ = stream.shutdown(Shutdown::Both);
        return Ok(Outcome::Close);
    }
    respond(stream, 200, "Content-Type: application/wasm\r\n", &module).map(|_| Outcome::Done)
}
