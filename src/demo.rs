//! `soakprof demo`: profile the built-in fixture as an HTTP server that leaks a little
//! memory per request, while a plain request loop on 127.0.0.1 drives it. The fixture runs
//! as `soakprof fixture ...` so the demo needs no second binary built.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::cli::DemoArgs;
use crate::commands::{self, Companion};
use crate::config::{LimitOptions, RecordConfig};
use crate::error::Error;
use crate::load::scenario::{self, LoadOverrides};
use crate::load::{LoadDriver, LoadLive, LoadPlan};
use crate::record::PssInterval;
use crate::sample::Backend;
use crate::target::TargetSpec;

/// Requests per second the demo sends, and what each leaks: 200 × 2 kB = 24 MB/min,
/// well above the default 10 MB/min fail threshold.
const DEMO_RPS: f64 = 200.0;
const DEMO_LEAK_KB: &str = "2";

/// The demo's load: the built-in driver at a fixed rate, started once the fixture has
/// written its port.
struct DemoLoad {
    port_file: PathBuf,
    duration: Duration,
    driver: Option<LoadDriver>,
    live: Arc<LoadLive>,
}

fn read_port(port_file: &Path) -> Option<u16> {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(15) {
        if let Ok(text) = std::fs::read_to_string(port_file)
            && let Ok(port) = text.trim().parse()
        {
            return Some(port);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

impl Companion for DemoLoad {
    fn start(&mut self, run_dir: &Path, t0: Instant) -> Result<(), Error> {
        let port = read_port(&self.port_file).ok_or_else(|| {
            Error::Failed("the demo server did not report its port within 15 s".into())
        })?;
        let overrides = LoadOverrides {
            rps: Some(DEMO_RPS),
            ..LoadOverrides::default()
        };
        let scenario = scenario::quick_scenario(
            &format!("http://127.0.0.1:{port}/demo"),
            &overrides,
            Some(self.duration),
        )?;
        let mut driver =
            LoadDriver::new(LoadPlan::Builtin(Box::new(scenario)), Some(self.duration));
        self.live = driver.live();
        driver.start(run_dir, t0)?;
        self.driver = Some(driver);
        Ok(())
    }

    fn stop(&mut self) {
        if let Some(driver) = self.driver.as_mut() {
            driver.stop();
        }
    }

    fn live(&self) -> Option<Arc<LoadLive>> {
        Some(Arc::clone(&self.live))
    }
}

/// Run the demo; returns the exit code (0 when the demo ran, whatever the verdict).
pub fn run(args: DemoArgs) -> Result<u8, Error> {
    let exe = std::env::current_exe().map_err(|source| Error::Io {
        doing: "finding the soakprof executable".into(),
        source,
    })?;
    // An earlier demo's run in the directory is replaced (`force` below): its logs and
    // report, and here its port file; nothing else in the directory is touched.
    let port_file = args.out.join("fixture.port");
    let _ = std::fs::remove_file(&port_file);
    let command = vec![
        exe.display().to_string(),
        "fixture".to_string(),
        "--serve".to_string(),
        "--leak-kb-per-request".to_string(),
        DEMO_LEAK_KB.to_string(),
        "--port-file".to_string(),
        port_file.display().to_string(),
    ];
    let config = RecordConfig {
        target: TargetSpec::Spawn(command),
        pick: None,
        children: false,
        follow: false,
        interval: Duration::from_millis(250),
        pss_interval: PssInterval::Auto,
        duration: Some(args.duration),
        out: Some(args.out.clone()),
        force: true,
        thresholds: crate::runlog::Thresholds::default(),
        limit_options: LimitOptions::default(),
        quiet: args.quiet,
        fail_fast: false,
        backend: Backend::default_for_os(),
        load: None,
        ci: crate::report::ci::CiOutputs::default(),
        prometheus: crate::cli::PrometheusArgs::default(),
        baseline: None,
        search: None,
    };
    crate::output::diag!(
        "soakprof demo: a fixture HTTP server leaking {DEMO_LEAK_KB} kB per request, {DEMO_RPS:.0} requests/s from 127.0.0.1, recorded for {}",
        humantime::format_duration(args.duration)
    );
    let mut load = DemoLoad {
        port_file,
        duration: args.duration,
        driver: None,
        live: Arc::default(),
    };
    let outcome = commands::record(&config, Some(&mut load))?;
    let mut text = crate::report::summary_text(&outcome.verdict, &outcome.run_dir);
    text.push_str(&format!(
        "demo: verdict {} (the fixture leaks on purpose). Open {}/report.html for the charts and tables; the verdict is in {}/verdict.json\n",
        outcome.verdict.verdict.as_str(),
        outcome.run_dir.display(),
        outcome.run_dir.display()
    ));
    crate::output::product(&text)?;
    Ok(0)
}
