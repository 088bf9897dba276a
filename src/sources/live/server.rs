//! The `/metrics` HTTP server: a thread of its own with a single-threaded tokio runtime
//! and hyper, idle (blocked in epoll) between scrapes. A slow or hostile client cannot
//! grow its memory or hold it: connections are capped (more are closed at once), each has
//! a deadline, request headers are bounded, and no request body is read.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::sync::{Semaphore, oneshot};

use super::{LiveError, LiveState, metrics};

/// Connections served at once; one more is closed as soon as it is accepted.
pub const MAX_CONNECTIONS: usize = 16;
/// The longest a connection is kept, whatever the client does.
pub const CONNECTION_DEADLINE: Duration = Duration::from_secs(10);
/// The longest a client may take to send its request headers.
const HEADER_TIMEOUT: Duration = Duration::from_secs(5);
/// Buffer bound per connection: a longer request head is refused (431).
const MAX_REQUEST_BYTES: usize = 16 * 1024;

/// The running server; dropping it stops it.
pub struct LiveServer {
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl LiveServer {
    /// Bind `addr` now (a port in use is the caller's error, found before the run) and
    /// serve `state` on a thread of its own.
    pub fn start(addr: SocketAddr, state: Arc<LiveState>) -> Result<LiveServer, LiveError> {
        let listener =
            std::net::TcpListener::bind(addr).map_err(|source| LiveError::Bind { addr, source })?;
        let local = listener.local_addr().map_err(LiveError::Start)?;
        listener.set_nonblocking(true).map_err(LiveError::Start)?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()
            .map_err(LiveError::Start)?;
        let listener = {
            let _entered = runtime.enter();
            tokio::net::TcpListener::from_std(listener).map_err(LiveError::Start)?
        };
        let (shutdown, stopped) = oneshot::channel();
        let thread = std::thread::Builder::new()
            .name("soakprof-metrics".into())
            .spawn(move || runtime.block_on(serve(listener, state, stopped)))
            .map_err(LiveError::Start)?;
        Ok(LiveServer {
            addr: local,
            shutdown: Some(shutdown),
            thread: Some(thread),
        })
    }

    /// The address it listens on (the port the OS chose for port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for LiveServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<LiveState>,
    mut stopped: oneshot::Receiver<()>,
) {
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let accepted = tokio::select! {
            _ = &mut stopped => return,
            accepted = listener.accept() => accepted,
        };
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(_) => {
                // Out of file descriptors or a connection reset before accept: wait a
                // moment rather than spin.
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            drop(stream);
            continue;
        };
        let state = Arc::clone(&state);
        tokio::spawn(async move {
            let service = service_fn(move |req| respond(req, Arc::clone(&state)));
            let mut builder = hyper::server::conn::http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .max_buf_size(MAX_REQUEST_BYTES)
                .keep_alive(false);
            let connection = builder.serve_connection(TokioIo::new(stream), service);
            let _ = tokio::time::timeout(CONNECTION_DEADLINE, connection).await;
            drop(slot);
        });
    }
}

async fn respond(
    req: Request<Incoming>,
    state: Arc<LiveState>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let reply = |status: StatusCode, content_type: &'static str, body: String| {
        let mut response = Response::new(Full::new(Bytes::from(body)));
        *response.status_mut() = status;
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static(content_type),
        );
        response
    };
    let text = "text/plain; charset=utf-8";
    if req.method() != Method::GET && req.method() != Method::HEAD {
        let mut response = reply(
            StatusCode::METHOD_NOT_ALLOWED,
            text,
            "only GET\n".to_string(),
        );
        response
            .headers_mut()
            .insert(header::ALLOW, header::HeaderValue::from_static("GET, HEAD"));
        return Ok(response);
    }
    Ok(match req.uri().path() {
        "/metrics" => reply(StatusCode::OK, metrics::CONTENT_TYPE, state.render(false)),
        "/" => reply(
            StatusCode::OK,
            text,
            "soakprof: the metrics are at /metrics\n".to_string(),
        ),
        _ => reply(
            StatusCode::NOT_FOUND,
            text,
            "not found: the metrics are at /metrics\n".to_string(),
        ),
    })
}
