//! Sources and sinks beyond the local process: the live Prometheus exposition while
//! recording and the Pushgateway push at the end.

pub mod live;
pub mod prometheus;
pub mod push;

use std::sync::Arc;

use crate::analysis::RunVerdict;
use crate::cli::PrometheusArgs;
use crate::output::diag;
use live::{LiveServer, LiveState};

/// `record`'s Prometheus side: the live state (when `--metrics-addr` or `--push-url`
/// asks for it), its server, and where to push at the end.
pub struct Prometheus {
    state: Option<Arc<LiveState>>,
    server: Option<LiveServer>,
    push_url: Option<url::Url>,
}

impl Prometheus {
    /// Bind the metrics address before the run starts (a port in use is exit 2 then,
    /// not after a long run).
    pub fn start(args: &PrometheusArgs, quiet: bool) -> Result<Prometheus, live::LiveError> {
        let wanted = args.metrics_addr.is_some() || args.push_url.is_some();
        let state = wanted.then(LiveState::new);
        let server = match (args.metrics_addr, &state) {
            (Some(addr), Some(state)) => Some(LiveServer::start(addr, Arc::clone(state))?),
            _ => None,
        };
        if let Some(server) = &server
            && !quiet
        {
            diag!(
                "soakprof: serving live metrics at http://{}/metrics",
                server.addr()
            );
        }
        Ok(Prometheus {
            state,
            server,
            push_url: args.push_url.clone(),
        })
    }

    /// The state for the recorder to keep up to date, when one is wanted.
    pub fn state(&self) -> Option<Arc<LiveState>> {
        self.state.clone()
    }

    /// The address served, when serving.
    pub fn metrics_addr(&self) -> Option<std::net::SocketAddr> {
        self.server.as_ref().map(LiveServer::addr)
    }

    /// The run is judged: the exposition shows the judged verdict, and `--push-url`
    /// sends it. The server stops when this is dropped.
    pub fn finish(&self, verdict: &RunVerdict) -> Result<(), push::PushError> {
        let Some(state) = &self.state else {
            return Ok(());
        };
        state.set_final(verdict);
        match &self.push_url {
            Some(url) => push::push(url, &verdict.target.name, state.render(true)),
            None => Ok(()),
        }
    }
}
