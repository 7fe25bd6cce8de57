//! `cargo run --release -p learner [-- --reduced] [--dir DIR] [--device cpu|wgpu]`

use std::path::PathBuf;

use dark_knowledge::device_from_name;
use learner::{Settings, run};

fn main() -> Result<(), learner::Error> {
    let mut settings = Settings::full();
    let mut dir = None;
    let mut device = "cpu".to_string();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--reduced" => settings = Settings::reduced(),
            "--dir" => dir = Some(PathBuf::from(args.next().ok_or("--dir needs a folder")?)),
            "--device" => device = args.next().ok_or("--device needs cpu or wgpu")?,
            other => {
                return Err(format!(
                    "unknown argument {other:?}: use --reduced, --dir DIR, --device cpu|wgpu"
                )
                .into());
            }
        }
    }
    let device = device_from_name(&device)?;
    let dir = dir.unwrap_or_else(|| {
        std::env::temp_dir().join(format!("dark-knowledge-learner-{}", std::process::id()))
    });
    let started = std::time::Instant::now();
    let out = run(&dir, &settings, &device)?;
    println!("{settings:?}");
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
