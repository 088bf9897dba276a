//! verdict.json against its JSON Schema (reports/schema/verdict.schema.json): real verdicts
//! of real runs validate, and the schema refuses a field it does not document, so a field
//! added to the verdict without its description here fails this test.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::util::*;

fn repo_file(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

pub(crate) fn validator() -> jsonschema::Validator {
    let text = std::fs::read_to_string(repo_file("reports/schema/verdict.schema.json")).unwrap();
    let schema: Value = serde_json::from_str(&text).unwrap();
    jsonschema::validator_for(&schema).unwrap()
}

pub(crate) fn assert_valid(validator: &jsonschema::Validator, what: &str, verdict: &Value) {
    let errors: Vec<String> = validator
        .iter_errors(verdict)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{what}: {errors:#?}");
}

#[test]
fn real_verdicts_follow_the_schema() {
    let validator = validator();
    let example: Value = serde_json::from_str(
        &std::fs::read_to_string(repo_file("reports/example/verdict.json")).unwrap(),
    )
    .unwrap();
    assert_valid(&validator, "reports/example", &example);

    // A leaking server under built-in load, with limits and load gates: load, capacity and
    // gate fields filled.
    let port_dir = tempfile::tempdir().unwrap();
    let port_file = port_dir.path().join("port");
    let _server = start_fixture(
        None,
        &[
            "--serve",
            "--leak-kb-per-request",
            "20",
            "--port-file",
            port_file.to_str().unwrap(),
        ],
    );
    wait_for(
        "the server's port",
        std::time::Duration::from_secs(10),
        || port_file.exists(),
    );
    let port = std::fs::read_to_string(&port_file).unwrap();
    let url = format!("http://127.0.0.1:{}/", port.trim());
    let (_, loaded, _dir) = record_fixture(
        3,
        &[
            "--load-url",
            &url,
            "--rps",
            "100",
            "--max-p95",
            "1ms",
            "--max-error-rate",
            "1%",
            "--mem-limit",
            "64MiB",
            "--cpu-limit",
            "0.5",
        ],
        &["--leak-mb-per-min", "30"],
    );
    assert!(loaded["load"].is_object(), "{loaded}");
    assert!(
        loaded["load"]["gates"]
            .as_array()
            .is_some_and(|g| !g.is_empty())
    );
    assert_valid(&validator, "built-in load", &loaded);

    // An external load command that fails on its own; a target that dies by a signal.
    let (_, external, _dir) = record_fixture(3, &["--load-cmd", "sleep 1; exit 4"], &[]);
    assert!(external["load"]["external"].is_object(), "{external}");
    assert_valid(&validator, "--load-cmd", &external);
    let (_, killed, _dir) = record_fixture(10, &[], &["--exit-after", "1s", "--die-signal", "9"]);
    assert_eq!(killed["run"]["stop_reason"], "target_exited");
    assert_valid(&validator, "killed target", &killed);

    // Undocumented fields are refused, wherever they are.
    for pointer in ["", "/metrics/rss", "/capacity", "/load"] {
        let mut extra = loaded.clone();
        extra
            .pointer_mut(pointer)
            .and_then(Value::as_object_mut)
            .unwrap()
            .insert("new_field".into(), Value::from(1));
        assert!(
            !validator.is_valid(&extra),
            "new_field at '{pointer}' passed"
        );
    }
}
