//! Bytes per verification (paper 05 claim (b)): LSH codes against float32 gradients for this
//! experiment's model and the paper's MNIST CNN and ResNet-9.

use gradus_core::Layout;
use gradus_dist::federated::LshHasher;
use gradus_report::{Claim, Report, Table};

use super::setup::{CLIENTS, GROUPS, R};
use crate::experiments::ExpResult;

/// The ratio needed for "about three orders of magnitude" (10^2.5).
pub const THREE_ORDERS: f64 = 316.2;

/// Appends the table and returns claim (b).
pub fn section(report: &mut Report, sim: &Layout) -> ExpResult<Claim> {
    let mut bytes = Table::new(&[
        "model",
        "parameters",
        &format!("LSH code bytes (r = {R})"),
        "float32 gradient bytes",
        "ratio",
    ]);
    let cnn = Layout::new()
        .matrix("conv1", 16, 9)?
        .vector("conv1.b", 16)?
        .matrix("conv2", 32, 144)?
        .vector("conv2.b", 32)?
        .matrix("fc1", 128, 1568)?
        .vector("fc1.b", 128)?
        .matrix("fc2", 10, 128)?
        .vector("fc2.b", 10)?;
    let mut resnet = Layout::new();
    for (i, (out, inp)) in
        [(64, 3), (128, 64), (128, 128), (128, 128), (256, 128), (512, 256), (512, 512), (512, 512)]
            .iter()
            .enumerate()
    {
        resnet = resnet
            .matrix(&format!("conv{i}"), *out, inp * 9)?
            .vector(&format!("conv{i}.b"), *out)?;
    }
    let resnet = resnet.matrix("linear", 10, 512)?.vector("linear.b", 10)?;
    let mut paper = Vec::new();
    for (name, l, is_paper) in [
        ("this experiment's softmax model", sim, false),
        ("paper 05 MNIST CNN (conv 1-16-32, fc 1568-128-10)", &cnn, true),
        ("ResNet-9 convolutions + linear (batch-norm omitted)", &resnet, true),
    ] {
        let h = LshHasher::new(l, R, 1)?;
        let ratio = h.full_bytes_f32() as f64 / h.code_bytes() as f64;
        bytes.row([
            name.to_string(),
            l.len().to_string(),
            h.code_bytes().to_string(),
            h.full_bytes_f32().to_string(),
            format!("{ratio:.0}x"),
        ]);
        if is_paper {
            paper.push((name, ratio));
        }
    }
    report.text(format!(
        "## Bytes per verification\n\nOne LSH code has r * sum_l c_l bits (c_l = columns of \
         layer l, 1 for a vector); the float32 gradient has 32 * params bits, so a layer's ratio \
         is 32 n_l / r for n_l rows. Per LSHFed round the verifier receives {} codes ({CLIENTS} \
         trainers + {GROUPS} group means) instead of as many full gradients.",
        CLIENTS + GROUPS,
    ));
    report.table("bytes", bytes);
    Ok(Claim::judge(
        "05b",
        format!(
            "hash codes make verification traffic about three orders of magnitude smaller than \
             full gradients (ratio >= {THREE_ORDERS}) on the paper's models"
        ),
        std::iter::empty::<&gradus_report::RunEnd>(),
        paper.iter().all(|p| p.1 >= THREE_ORDERS),
        paper.iter().map(|(n, r)| format!("{n}: {r:.0}x")).collect::<Vec<_>>().join("; "),
    ))
}
