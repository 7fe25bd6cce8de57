//! Files the command writes and reads back: outputs through symbolic links, into devices,
//! FIFOs and stdout; checksum manifests refusing damaged files; closed or full stdout;
//! temporary files of killed runs; a full disk.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

use common::{ok, refused, run, scratch};

/// A tiny churn demo run, trained once for the whole test binary; tests that change files
/// work on a copy ([`copy_of_run`]).
fn tiny_run() -> &'static Path {
    static RUN: OnceLock<PathBuf> = OnceLock::new();
    RUN.get_or_init(|| {
        let out = scratch("files-run").join("run");
        ok(&[
            "--progress",
            "none",
            "demo",
            "--epochs",
            "1",
            "--max-train-rows",
            "300",
            "--out",
            out.to_str().unwrap(),
        ]);
        out
    })
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// A scratch folder `name` holding a copy of the tiny run (`DIR/run`) and a few rows to
/// score (`DIR/rows.csv`).
fn copy_of_run(name: &str) -> (PathBuf, PathBuf) {
    let dir = scratch(name);
    copy_dir(tiny_run(), &dir.join("run"));
    let rows: Vec<&str> = dark_knowledge_data::CHURN_CSV.lines().take(40).collect();
    std::fs::write(dir.join("rows.csv"), rows.join("\n") + "\n").unwrap();
    (dir.clone(), dir.join("run"))
}

fn predict_args<'a>(run_dir: &'a Path, dir: &'a Path, out: &'a str) -> Vec<String> {
    let mut args: Vec<String> = ["predict", "--run"].map(String::from).to_vec();
    args.push(run_dir.to_str().unwrap().into());
    args.push("--csv".into());
    args.push(dir.join("rows.csv").to_str().unwrap().into());
    args.extend(["--out".into(), out.into()]);
    args
}

fn predict(run_dir: &Path, dir: &Path, out: &str) -> Output {
    let args = predict_args(run_dir, dir, out);
    run(&args.iter().map(String::as_str).collect::<Vec<_>>())
}

#[test]
fn every_run_file_is_listed_in_its_folders_checksums() {
    let run_dir = tiny_run();
    let expect: [(&str, &[&str]); 2] = [
        (
            "",
            &[
                "experiment.toml",
                "preprocessing.json",
                "report.json",
                "report.md",
                "MODEL_CARD.md",
            ],
        ),
        ("distilled", &["model.bpk", "model.json", "metrics.json"]),
    ];
    for (sub, files) in expect {
        let dir = run_dir.join(sub);
        let manifest = std::fs::read_to_string(dir.join("CHECKSUMS")).unwrap();
        for file in files {
            let hash = blake3::hash(&std::fs::read(dir.join(file)).unwrap()).to_hex();
            let line = format!("{hash}  {file}");
            assert!(
                manifest.lines().any(|l| l == line),
                "no {line} in:\n{manifest}"
            );
        }
    }
}

#[test]
fn a_flipped_or_appended_byte_in_a_model_or_preprocessing_file_is_refused() {
    let (dir, run_dir) = copy_of_run("files-damaged");
    let out = dir.join("scores.csv");
    let out = out.to_str().unwrap();
    for file in [
        "distilled/model.bpk",
        "distilled/model.json",
        "preprocessing.json",
    ] {
        let path = run_dir.join(file);
        let good = std::fs::read(&path).unwrap();
        let mut flipped = good.clone();
        let at = good.len() / 2;
        flipped[at] ^= 0x20;
        let mut appended = good.clone();
        appended.extend_from_slice(b"\n\0garbage");
        for bad in [flipped, appended] {
            std::fs::write(&path, &bad).unwrap();
            let shown = path.display().to_string();
            refused(
                &predict(&run_dir, &dir, out),
                &[&shown, "modified or damaged after it was written"],
            );
        }
        std::fs::write(&path, &good).unwrap();
    }
    assert!(predict(&run_dir, &dir, out).status.success());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_run_of_an_earlier_release_without_checksums_still_loads() {
    let (dir, run_dir) = copy_of_run("files-legacy");
    for sub in ["", "teacher", "baseline", "distilled", "quantized"] {
        let _ = std::fs::remove_file(run_dir.join(sub).join("CHECKSUMS"));
    }
    let out = dir.join("scores.csv");
    let o = predict(&run_dir, &dir, out.to_str().unwrap());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(std::fs::read_to_string(&out).unwrap().contains("predicted"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[cfg(unix)]
#[test]
fn outputs_go_through_links_into_devices_fifos_and_stdout() {
    use std::os::unix::fs::FileTypeExt;
    let (dir, run_dir) = copy_of_run("files-outputs");
    // A symbolic link: the file it points to is replaced, the link stays.
    let real = dir.join("real").join("scores.csv");
    std::fs::create_dir_all(real.parent().unwrap()).unwrap();
    std::fs::write(&real, "old").unwrap();
    let link = dir.join("link.csv");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    ok_predict(&run_dir, &dir, link.to_str().unwrap());
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert!(
        std::fs::read_to_string(&real)
            .unwrap()
            .contains("predicted")
    );
    // /dev/null stays a device.
    ok_predict(&run_dir, &dir, "/dev/null");
    assert!(
        std::fs::metadata("/dev/null")
            .unwrap()
            .file_type()
            .is_char_device()
    );
    // `-` is stdout.
    let stdout = ok_predict(&run_dir, &dir, "-");
    assert!(
        stdout.lines().next().unwrap().contains("predicted"),
        "{stdout}"
    );
    assert_eq!(stdout.lines().count(), 40, "{stdout}");
    // A FIFO is written into, not replaced.
    let fifo = dir.join("pipe");
    if !Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .is_ok_and(|s| s.success())
    {
        println!("SKIPPED the FIFO case: mkfifo is not available");
    } else {
        let reader = {
            let fifo = fifo.clone();
            std::thread::spawn(move || std::fs::read_to_string(fifo).unwrap())
        };
        ok_predict(&run_dir, &dir, fifo.to_str().unwrap());
        assert!(reader.join().unwrap().contains("predicted"));
        assert!(std::fs::metadata(&fifo).unwrap().file_type().is_fifo());
    }
    let temps: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".tmp-"))
        .collect();
    assert!(temps.is_empty(), "{temps:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

fn ok_predict(run_dir: &Path, dir: &Path, out: &str) -> String {
    let args = predict_args(run_dir, dir, out);
    ok(&args.iter().map(String::as_str).collect::<Vec<_>>())
}

/// The binary run with `args`, its stdout `stdout`.
fn with_stdout(args: &[String], stdout: impl Into<Stdio>) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dark-knowledge"))
        .args(args)
        .stdout(stdout)
        .stderr(Stdio::piped())
        .output()
        .expect("the binary runs")
}

#[test]
fn a_closed_stdout_ends_quietly_and_a_full_one_is_an_error() {
    let (dir, run_dir) = copy_of_run("files-stdout");
    let commands: Vec<Vec<String>> = vec![
        vec!["--help".into()],
        vec!["--version".into()],
        predict_args(&run_dir, &dir, "-"),
        vec![
            "quantize".into(),
            "--run".into(),
            run_dir.to_str().unwrap().into(),
        ],
    ];
    for args in &commands {
        // A pipe whose reader is gone before the command starts: every write is EPIPE.
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let o = with_stdout(args, writer);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(0), "{args:?}:\n{stderr}");
        assert!(!stderr.contains("panicked") && !stderr.contains("failed printing"));
    }
    if Path::new("/dev/full").exists() {
        for args in &commands[..3] {
            let full = std::fs::File::create("/dev/full").unwrap();
            let o = with_stdout(args, full);
            refused(&o, &["standard output", "No space left on device"]);
        }
    } else {
        println!("SKIPPED the full-stdout case: no /dev/full");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn temp_files_of_dead_runs_go_and_those_of_running_ones_stay() {
    let (dir, run_dir) = copy_of_run("files-stale");
    let mut sleeper = Command::new("sleep").arg("60").spawn().unwrap();
    // Beyond Linux's largest process id: a process that cannot be running.
    let dead = run_dir.join(".report.json.tmp-4194305-AbCd1234");
    let live = run_dir.join(format!(".report.json.tmp-{}-AbCd1234", sleeper.id()));
    std::fs::write(&dead, "half").unwrap();
    std::fs::write(&live, "half").unwrap();
    // `quantize` rewrites report.json in the run folder.
    ok(&["quantize", "--run", run_dir.to_str().unwrap()]);
    let _ = sleeper.kill();
    let _ = sleeper.wait();
    assert!(!dead.exists(), "the dead run's temp file is still there");
    assert!(live.exists(), "a running process's temp file was removed");
    let _ = std::fs::remove_dir_all(&dir);
}

#[cfg(target_os = "linux")]
#[test]
fn a_full_disk_is_an_error_naming_the_file() {
    let (dir, run_dir) = copy_of_run("files-enospc");
    let small = dir.join("small");
    std::fs::create_dir_all(&small).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
        .arg(&small)
        .output();
    if !mounted.as_ref().is_ok_and(|o| o.status.success()) {
        println!("SKIPPED the full-disk case: cannot mount a tmpfs ({mounted:?})");
        return;
    }
    // ~40 000 rows scored: several MB of output for a 1 MB disk.
    let lines: Vec<&str> = dark_knowledge_data::CHURN_CSV.lines().collect();
    let mut text = format!("{}\n", lines[0]);
    while text.len() < 3 << 20 {
        for l in &lines[1..] {
            text.push_str(l);
            text.push('\n');
        }
    }
    std::fs::write(dir.join("rows.csv"), text).unwrap();
    let out = small.join("scores.csv");
    let o = predict(&run_dir, &dir, out.to_str().unwrap());
    let left: Vec<_> = std::fs::read_dir(&small).unwrap().collect();
    let _ = Command::new("umount").arg(&small).status();
    refused(&o, &[&out.display().to_string(), "No space left on device"]);
    assert!(left.is_empty(), "left behind: {left:?}");
    let _ = std::fs::remove_dir_all(&dir);
}
