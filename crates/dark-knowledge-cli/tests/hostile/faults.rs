//! Faults around the commands rather than in their inputs: a full disk, a read-only folder,
//! closed or full standard output, kills at random points and two writers on one run.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::harness::{TRAIN_TEACHER, args, binary, fresh, run_in, snapshot, temp_files};

/// A tmpfs of `size` (e.g. `"64k"`) mounted at a new folder, unmounted when dropped; `None`
/// (with a printed reason) where mounting is not allowed.
pub struct Tmpfs(PathBuf);

impl Tmpfs {
    pub fn mount(name: &str, options: &str) -> Option<Self> {
        let dir =
            std::env::temp_dir().join(format!("dk-hostile-mnt-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).ok()?;
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", options, "tmpfs"])
            .arg(&dir)
            .stderr(Stdio::null())
            .status();
        if status.is_ok_and(|s| s.success()) {
            Some(Self(dir))
        } else {
            println!("SKIPPED {name}: cannot mount a tmpfs here (needs root and mount rights)");
            None
        }
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
        let _ = std::fs::remove_dir(&self.0);
    }
}

/// Asserts the failure of `out` (see `common::refused`) with `words` in the message,
/// case-insensitively; `what` names the fault in a failure.
fn assert_clean_failure(out: &std::process::Output, words: &[&str], what: &str) {
    let stderr = crate::common::refused(out, &[]);
    let lower = stderr.to_lowercase();
    for w in words {
        assert!(
            lower.contains(&w.to_lowercase()),
            "{what}: no {w:?} in\n{stderr}"
        );
    }
}

/// `predict` on the folder's table into `out`.
fn predict_to(dir: &Path, out: &Path) -> std::process::Output {
    let out = out.to_str().unwrap();
    run_in(
        dir,
        &args(&["predict", "--run", "run", "--csv", "data.csv", "--out", out]),
    )
}

/// Scoring into a full disk fails naming the output, leaves no temporary file and does not
/// touch an earlier output there.
pub fn full_disk() {
    let Some(disk) = Tmpfs::mount("full", "size=64k") else {
        return;
    };
    let dir = fresh("full disk");
    let earlier = disk.path().join("earlier.csv");
    std::fs::write(&earlier, "kept\n").unwrap();
    // Fill what is left.
    let filler = vec![7u8; 4096];
    let mut file = std::fs::File::create(disk.path().join("filler")).unwrap();
    while std::io::Write::write_all(&mut file, &filler).is_ok() {}
    drop(file);
    let out_path = disk.path().join("scores.csv");
    let out = predict_to(&dir, &out_path);
    assert_clean_failure(&out, &["scores.csv"], "full disk");
    assert_eq!(std::fs::read_to_string(&earlier).unwrap(), "kept\n");
    assert!(!out_path.exists(), "a partial output on a full disk");
    assert!(
        temp_files(disk.path()).is_empty(),
        "temporary files left on the full disk"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// Writing into a read-only folder fails naming it and changes nothing there.
pub fn read_only_folder() {
    let Some(ro) = Tmpfs::mount("ro", "size=64k,ro") else {
        return;
    };
    let dir = fresh("read only");
    let out_path = ro.path().join("scores.csv");
    let out = predict_to(&dir, &out_path);
    assert_clean_failure(&out, &["scores.csv", "read-only"], "read-only folder");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Output to a closed pipe ends without a panic; output to a full device is an error.
pub fn closed_and_full_stdout() {
    for list in [vec!["--help"], vec!["--version"], vec!["predict", "--help"]] {
        let mut child = binary()
            .args(&list)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take()); // the reader goes away before anything is written
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{list:?} | true: {stderr}");
        assert_ne!(out.status.code(), Some(101), "{list:?} | true: {stderr}");
    }
    let full = std::fs::OpenOptions::new().write(true).open("/dev/full");
    let Ok(full) = full else {
        println!("SKIPPED stdout to /dev/full: no /dev/full");
        return;
    };
    let out = binary().arg("--help").stdout(full).output().unwrap();
    assert_clean_failure(&out, &[], "--help > /dev/full");
}

/// The seed of the kill moments: `DARK_KNOWLEDGE_KILL_SEED`, else the clock (printed, so a
/// failure can be replayed).
fn kill_seed() -> u64 {
    let seed = std::env::var("DARK_KNOWLEDGE_KILL_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64)
        });
    println!("kill moments from DARK_KNOWLEDGE_KILL_SEED={seed}");
    seed
}

/// A uniform draw in `[0, 1)` (SplitMix64).
fn unit(state: &mut u64) -> f64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    (z ^ (z >> 31)) as f64 / 2f64.powi(64)
}

/// Kills `train-teacher` at random moments over its run (one in each sixth of it, so early
/// and late kills are both drawn): afterwards every JSON file of the run parses, and the next
/// run succeeds and leaves no temporary file.
pub fn kills_at_random_points() {
    let dir = fresh("kills");
    let command = args(TRAIN_TEACHER);
    let started = Instant::now();
    let full = run_in(&dir, &command);
    assert!(
        full.status.success(),
        "{}",
        String::from_utf8_lossy(&full.stderr)
    );
    let whole = started.elapsed();
    let mut state = kill_seed();
    for step in 0..6u32 {
        let delay = whole.mul_f64((f64::from(step) + unit(&mut state)) / 6.0);
        let mut child = binary()
            .args(&command)
            .current_dir(&dir)
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        let _ = child.kill();
        let _ = child.wait();
        for (path, _) in snapshot(&dir.join("run")) {
            if path.extension().is_some_and(|e| e == "json") && !is_temp(&path) {
                let text = std::fs::read_to_string(&path).unwrap();
                assert!(
                    serde_json::from_str::<serde_json::Value>(&text).is_ok(),
                    "killed after {delay:?}: {} is not whole",
                    path.display()
                );
            }
        }
    }
    let again = run_in(&dir, &command);
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );
    assert!(
        temp_files(&dir).is_empty(),
        "temporary files of killed runs left: {:?}",
        temp_files(&dir)
    );
    let _ = std::fs::remove_dir_all(&dir);
}

fn is_temp(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.contains(".tmp-"))
}

/// While one command writes a run folder, a second writer on the same folder is refused
/// naming the first's process, and the first finishes.
pub fn two_writers() {
    let dir = fresh("two writers");
    // A first run long enough to be caught holding its lock.
    let toml = dir.join("experiment.toml");
    let text = std::fs::read_to_string(&toml).unwrap();
    std::fs::write(&toml, text.replacen("epochs = 2", "epochs = 400", 1)).unwrap();
    let command = args(TRAIN_TEACHER);
    let mut first = binary()
        .args(&command)
        .current_dir(&dir)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = first.id().to_string();
    // The lock file holds the holder's process id while it is locked.
    let lock = dir.join("run/.lock");
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut refused = None;
    while Instant::now() < deadline && first.try_wait().unwrap().is_none() {
        if std::fs::read_to_string(&lock).is_ok_and(|t| t.trim() == pid) {
            refused = Some(run_in(&dir, &command));
            break;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let status = first.wait_with_output().unwrap();
    assert!(
        status.status.success(),
        "the first writer failed: {}",
        String::from_utf8_lossy(&status.stderr)
    );
    let out = refused.expect("the first writer was never seen holding its lock");
    assert_clean_failure(&out, &[&pid], "second writer");
    let _ = std::fs::remove_dir_all(&dir);
}
