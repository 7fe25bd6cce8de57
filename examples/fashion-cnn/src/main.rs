//! `cargo run --release -p fashion-cnn [-- --reduced] [--data-dir DIR] [--device cpu|wgpu]`

use std::path::PathBuf;

use dark_knowledge::device_from_name;
use fashion_cnn::{Settings, run};

fn main() -> Result<(), fashion_cnn::Error> {
    let mut settings = Settings::full();
    let mut dir = PathBuf::from(dark_knowledge::data::idx::DEFAULT_FASHION_MNIST_DIR);
    let mut device = "cpu".to_string();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--reduced" => settings = Settings::reduced(),
            "--data-dir" => dir = args.next().ok_or("--data-dir needs a folder")?.into(),
            "--device" => device = args.next().ok_or("--device needs cpu or wgpu")?,
            other => {
                return Err(format!(
                    "unknown argument {other:?}: use --reduced, --data-dir DIR, --device cpu|wgpu"
                )
                .into());
            }
        }
    }
    let device = device_from_name(&device)?;
    let out = run(&dir, &settings, &device)?;
    println!("{settings:?}");
    println!("| model | parameters | test accuracy |");
    println!("|---|---:|---:|");
    println!(
        "| teacher CNN 32/64/256 | {} | {:.4} |",
        out.params.0, out.teacher
    );
    println!(
        "| student CNN 4/8/32, labels only | {} | {:.4} |",
        out.params.1, out.baseline
    );
    println!(
        "| student CNN 4/8/32, distilled | {} | {:.4} |",
        out.params.1, out.distilled
    );
    Ok(())
}
