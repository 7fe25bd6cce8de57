//! `cargo run --release -p token-classifier [-- ROWS EPOCHS]`

use dark_knowledge::burn::tensor::Device;

fn main() -> Result<(), token_classifier::Error> {
    let mut args = std::env::args().skip(1);
    let rows = args.next().map_or(Ok(8_000), |a| a.parse())?;
    let epochs = args.next().map_or(Ok(10), |a| a.parse())?;
    let out = token_classifier::run(rows, epochs, 11, &Device::flex())?;
    println!("{rows} training sequences, {epochs} epochs, test accuracy (chance 0.333):");
    println!(
        "teacher  {:.4}\nbaseline {:.4}\ndistilled {:.4}",
        out.teacher, out.baseline, out.distilled
    );
    Ok(())
}
