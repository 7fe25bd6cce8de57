//! `cargo run --release -p learner [-- --reduced] [--dir DIR] [--devices cpu|wgpu|wgpu:0,wgpu:1]`

use std::path::PathBuf;

use dark_knowledge::devices_from_names;
use learner::{Settings, run};

fn main() -> Result<(), learner::Error> {
    let mut settings = Settings::full();
    let mut dir = None;
    let mut devices = "cpu".to_string();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--reduced" => settings = Settings::reduced(),
            "--dir" => dir = Some(PathBuf::from(args.next().ok_or("--dir needs a folder")?)),
            "--device" | "--devices" => {
                devices = args
                    .next()
                    .ok_or("--devices needs a list such as cpu or wgpu:0,wgpu:1")?;
            }
            other => {
                return Err(format!(
                    "unknown argument {other:?}: use --reduced, --dir DIR, --devices cpu|wgpu|wgpu:0,wgpu:1"
                )
                .into());
            }
        }
    }
    let devices = devices_from_names(&devices)?;
    let dir = dir.unwrap_or_else(|| {
        std::env::temp_dir().join(format!("dark-knowledge-learner-{}", std::process::id()))
    });
    let started = std::time::Instant::now();
    let out = run(&dir, &settings, &devices)?;
    println!("{settings:?}");
    println!("devices: {devices:?}");
    println!(
        "burn-train ran {} of {} epochs; training directory {}",
        out.epochs_run,
        settings.epochs,
        dir.display()
    );
    println!("| model | parameters | test accuracy |");
    println!("|---|---:|---:|");
    println!("| always the majority class | 0 | {:.4} |", out.majority);
    println!(
        "| teacher MLP (our trainer) | {} | {:.4} |",
        out.params.0, out.teacher
    );
    println!(
        "| student MLP (burn-train Learner, distilled) | {} | {:.4} |",
        out.params.1, out.student
    );
    println!("checkpoints kept: {}", out.checkpoints.len());
    println!("{:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}
