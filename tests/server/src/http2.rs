//! The HTTP/2 listener on port + 2, over TLS with a self-signed certificate made at start (the test browser runs
//! with `--ignore-certificate-errors`). Chromium streams a request body (`duplex: 'half'`) only over HTTP/2, so the
//! upload tests send here. `POST /upload` counts the bytes of the body as they arrive, keeps none of them, and
//! answers `{"received": n}`; every other path answers 404. Preflights are allowed, as on the HTTP/1.1 port.

use std::io;
use std::net::TcpListener as StdListener;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use bytes::Bytes;
use h2::server::SendResponse;
use h2::RecvStream;
use http::{Method, Request, Response, StatusCode};
use tokio::net::TcpListener;
use tokio_rustls::rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::TlsAcceptor;

use crate::MAX_SERVE;

/// Binds `port` now (so a taken port fails the start) and serves it from a thread of its own.
pub fn spawn(port: u16) -> io::Result<()> {
    let listener = StdListener::bind(("127.0.0.1", port))?;
    listener.set_nonblocking(true)?;
    let acceptor = TlsAcceptor::from(Arc::new(tls_config()));
    thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime for the HTTP/2 listener");
        runtime.block_on(async move {
            let listener = TcpListener::from_std(listener).expect("the HTTP/2 listener");
            loop {
                let Ok((socket, _)) = listener.accept().await else {
                    // Out of descriptors, say: wait rather than spin on one of the machine's two cores.
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                };
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(socket).await else {
                        return;
                    };
                    let Ok(mut connection) = h2::server::handshake(tls).await else {
                        return;
                    };
                    while let Some(Ok((request, respond))) = connection.accept().await {
                        tokio::spawn(answer(request, respond));
                    }
                });
            }
        });
    });
    Ok(())
}

/// A self-signed certificate for 127.0.0.1, offering only `h2`.
fn tls_config() -> ServerConfig {
    let signed = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()])
        .expect("a self-signed certificate");
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(signed.key_pair.serialize_der()));
    let mut config = ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(vec![signed.cert.der().clone()], key)
        .expect("a TLS configuration");
    config.alpn_protocols = vec![b"h2".to_vec()];
    config
}

async fn answer(request: Request<RecvStream>, mut respond: SendResponse<Bytes>) {
    let cors = |builder: http::response::Builder| {
        builder
            .header("access-control-allow-origin", "*")
            .header("access-control-allow-methods", "*")
            .header("access-control-allow-headers", "*")
            .header("cache-control", "no-store")
    };
    let (status, body) = if request.method() == Method::OPTIONS {
        (StatusCode::NO_CONTENT, String::new())
    } else if request.uri().path() == "/upload" {
        match tokio::time::timeout(MAX_SERVE, count(request.into_body())).await {
            Ok(Ok(received)) => (StatusCode::OK, format!("{{\"received\":{received}}}")),
            _ => return, // the client went away, or the bound passed: dropping `respond` resets the stream
        }
    } else {
        (StatusCode::NOT_FOUND, String::new())
    };
    let head = cors(Response::builder().status(status))
        .header("content-type", "application/json")
        .body(())
        .expect("a response head");
    let Ok(mut send) = respond.send_response(head, body.is_empty()) else {
        return;
    };
    if !body.is_empty() {
        let _ = send.send_data(Bytes::from(body), true);
    }
}

/// Counts the bytes of `body` as they arrive, handing the flow-control window back for each frame.
async fn count(mut body: RecvStream) -> Result<u64, h2::Error> {
    let mut received = 0;
    while let Some(frame) = body.data().await {
        let frame = frame?;
        received += frame.len() as u64;
        let _ = body.flow_control().release_capacity(frame.len());
    }
    Ok(received)
}
