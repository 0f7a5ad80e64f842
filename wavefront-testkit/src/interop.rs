//! The Python side of the interoperability tests: virtualenvs made by
//! `interop/venv.py` from pinned requirements (the reference Flask SDK, or
//! OpenTelemetry's protobuf classes), found from any test of the workspace.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

/// Longest time `interop/venv.py` may take (the first `pip install`).
const VENV_TIMEOUT: Duration = Duration::from_secs(600);

/// The workspace's root, where `interop/` is.
#[must_use]
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// The Python of the virtualenv `interop/venv.py [set]` makes: `None` for
/// the reference Flask SDK (`interop/requirements.txt`), `Some("otlp")` for
/// `interop/otlp-requirements.txt`. Made (and its packages installed) on
/// first use, once per test process; `$PYTHON` runs the script if set.
///
/// # Panics
///
/// If the virtualenv cannot be made (no `python3` with `venv` and `pip`, or
/// no package registry for the first install): the tests that need it do not
/// skip.
#[must_use]
pub fn venv_python(set: Option<&str>) -> PathBuf {
    static MADE: OnceLock<Mutex<HashMap<Option<String>, PathBuf>>> = OnceLock::new();
    let made = MADE.get_or_init(Mutex::default);
    let mut made = made.lock().unwrap_or_else(PoisonError::into_inner);
    let key = set.map(str::to_owned);
    if let Some(path) = made.get(&key) {
        return path.clone();
    }
    let interpreter = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    let mut command = Command::new(&interpreter);
    command
        .arg(workspace_root().join("interop/venv.py"))
        .args(set);
    let path = match run_bounded(command, VENV_TIMEOUT) {
        Ok((true, stdout, _)) => PathBuf::from(stdout.lines().last().unwrap_or_default().trim()),
        Ok((false, stdout, stderr)) => {
            panic!("`{interpreter} interop/venv.py {set:?}` failed; stdout:\n{stdout}\nstderr:\n{stderr}")
        }
        Err(why) => panic!("`{interpreter} interop/venv.py {set:?}`: {why}"),
    };
    assert!(
        path.exists(),
        "interop/venv.py {set:?} named no interpreter: {path:?}"
    );
    made.insert(key, path.clone());
    path
}

/// Runs `command` to completion within `timeout` (killing it after that);
/// its exit success, stdout and stderr.
///
/// # Errors
///
/// If it cannot start, or does not finish in time.
pub fn run_bounded(
    mut command: Command,
    timeout: Duration,
) -> Result<(bool, String, String), String> {
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {command:?}: {e}"))?;
    let read = |stream: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            if let Some(mut stream) = stream {
                let _ = stream.read_to_string(&mut text);
            }
            text
        })
    };
    let stdout = read(
        child
            .stdout
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    );
    let stderr = read(
        child
            .stderr
            .take()
            .map(|s| Box::new(s) as Box<dyn Read + Send>),
    );
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                let stderr = stderr.join().unwrap_or_default();
                return Err(format!(
                    "{command:?} did not finish within {timeout:?}; stderr:\n{stderr}"
                ));
            }
        }
    };
    let stdout = stdout.join().unwrap_or_default();
    let stderr = stderr.join().unwrap_or_default();
    Ok((status.success(), stdout, stderr))
}
