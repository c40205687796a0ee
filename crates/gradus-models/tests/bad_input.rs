//! Caller mistakes are errors naming the argument, never panics or silent NaN/inf (issue 18).

use gradus_core::{Error, rng};
use gradus_models::data::{classification, gaussian_matrix};
use gradus_models::sharpness::{Plateau, block_measure, implicit_measure};
use gradus_models::toeplitz_cov::baselines::{
    crb_first_row, fisher_information, sample_covariance, toeplitz_projection,
};
use gradus_models::toeplitz_cov::data::{random_caratheodory, sinusoid_column};
use gradus_models::toeplitz_cov::metrics::{
    first_row_squared_error, kl_divergence, relative_frobenius,
};
use gradus_models::toeplitz_cov::{DataKind, SinusoidModel};
use gradus_models::{
    Dense, DiagParam, DiagonalNet, LabelNoise, LogisticRegression, MatrixFactorization, Regression,
};
use num_complex::Complex64;

fn hyper_field(e: Error) -> &'static str {
    match e {
        Error::InvalidHyperparameter { field, .. } => field,
        other => panic!("expected an invalid hyperparameter, got {other:?}"),
    }
}

#[test]
fn classification_names_its_bad_argument() {
    let mut r = rng::seeded(1);
    // The README example with k = 0 used to panic in `random_range(0..0)`.
    assert_eq!(hyper_field(classification::<f32>(10, 3, 0, 1.0, 10.0, &mut r).unwrap_err()), "k");
    assert_eq!(hyper_field(classification::<f32>(10, 0, 2, 1.0, 10.0, &mut r).unwrap_err()), "d");
    let sep = classification::<f64>(10, 3, 2, f64::NAN, 10.0, &mut r).unwrap_err();
    assert_eq!(hyper_field(sep), "separation");
    let cond = classification::<f64>(10, 3, 2, 1.0, 0.0, &mut r).unwrap_err();
    assert_eq!(hyper_field(cond), "condition");
    assert!(matches!(
        classification::<f64>(usize::MAX, 3, 2, 1.0, 1.0, &mut r),
        Err(Error::InvalidShape { .. })
    ));
    // Valid input still works, with one class and with no rows.
    let (x, y) = classification::<f64>(5, 3, 1, 1.0, 10.0, &mut r).unwrap();
    assert_eq!((x.rows(), x.cols()), (5, 3));
    assert!(y.iter().all(|&l| l == 0));
    assert_eq!(classification::<f64>(0, 3, 2, 1.0, 1.0, &mut r).unwrap().1.len(), 0);
}

#[test]
fn matfac_entry_checks_indices_and_length() {
    let m = MatrixFactorization::new(2, 3, 1, vec![(0, 0, 1.0)]).unwrap();
    let theta = [1.0, 2.0, 3.0, 4.0, 5.0];
    assert_eq!(m.entry(&theta, 1, 2).unwrap(), 2.0 * 5.0);
    assert!(matches!(m.entry(&theta, 2, 0), Err(Error::InvalidShape { what: "matrix entry", .. })));
    assert!(matches!(m.entry(&theta, 0, 3), Err(Error::InvalidShape { .. })));
    assert!(matches!(m.entry(&theta[..4], 0, 0), Err(Error::LengthMismatch { .. })));
}

#[test]
fn logistic_error_rate_checks_the_parameter_length() {
    let x = Dense::from_row_major(2, 2, vec![1.0, 0.0, 0.0, 1.0]).unwrap();
    let m = LogisticRegression::new(x, vec![1.0, -1.0], 0.0, 2).unwrap();
    assert_eq!(m.error_rate(&[1.0, -1.0, 0.0]).unwrap(), 0.0);
    assert_eq!(m.error_rate(&[-1.0, 1.0, 0.0]).unwrap(), 1.0);
    let e = m.error_rate(&[1.0, -1.0]).unwrap_err();
    assert_eq!(e, Error::LengthMismatch { what: "parameters", expected: 3, got: 2 });
}

#[test]
fn diag_net_checks_lengths_and_rows() {
    let mut r = rng::seeded(2);
    let x = gaussian_matrix::<f64>(4, 3, &mut r);
    let net = DiagonalNet::new(x, vec![0.0; 4], DiagParam::Product).unwrap();
    let mut w = [0.0; 3];
    assert!(net.weights(&[1.0; 6], &mut w).is_ok());
    assert_eq!(w, [1.0; 3]);
    assert!(matches!(net.weights(&[1.0; 5], &mut w), Err(Error::LengthMismatch { .. })));
    assert!(matches!(net.weights(&[1.0; 6], &mut [0.0; 2]), Err(Error::LengthMismatch { .. })));
    assert!(net.trace_closed_form(&[1.0; 7]).is_err());
    assert!(net.sqrt_diag_closed_form(&[]).is_err());
    assert!(net.measures_minimum(&[1.0; 4]).is_err());
    // No rows: the second moments c_i = 0/0 used to be NaN.
    let empty = Dense::from_row_major(0, 3, vec![]).unwrap();
    assert!(matches!(
        DiagonalNet::new(empty, vec![], DiagParam::Product),
        Err(Error::InvalidShape { .. })
    ));
    // The regression wrapper's loss helpers check the parameter length too.
    let x = gaussian_matrix::<f64>(4, 3, &mut r);
    let net = DiagonalNet::new(x, vec![0.0; 4], DiagParam::Product).unwrap();
    let reg = Regression::new(net, 4, LabelNoise::None).unwrap();
    assert!(reg.train_loss(&[0.5; 6]).unwrap().is_finite());
    assert!(matches!(reg.train_loss(&[0.5; 5]), Err(Error::LengthMismatch { .. })));
    assert!(reg.gauss_newton_diag(&[0.5; 5], &mut [0.0; 6]).is_err());
}

#[test]
fn dense_rows_and_products_are_checked() {
    let a = Dense::from_row_major(2, 3, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]).unwrap();
    assert_eq!(a.get_row(1).unwrap(), &[4.0, 5.0, 6.0]);
    assert!(a.get_row(2).is_err());
    let mut out = [0.0; 2];
    a.matvec(&[1.0, 1.0, 1.0], &mut out).unwrap();
    assert_eq!(out, [6.0, 15.0]);
    assert!(a.matvec(&[1.0, 1.0], &mut out).is_err());
    assert!(a.matvec(&[1.0; 3], &mut [0.0; 3]).is_err());
}

fn c(re: f64, im: f64) -> Complex64 {
    Complex64::new(re, im)
}

#[test]
fn toeplitz_baselines_reject_empty_and_mismatched_input() {
    let x = vec![c(1.0, 0.0); 6];
    // n = 0 used to give 1/0 = inf weights (NaN covariance).
    assert!(matches!(sample_covariance(&x, 0, 3), Err(Error::InvalidShape { .. })));
    assert!(matches!(sample_covariance(&x, 2, 4), Err(Error::LengthMismatch { .. })));
    assert!(sample_covariance(&x, 2, 0).is_err());
    assert!(sample_covariance(&x, usize::MAX, 2).is_err());
    let s = sample_covariance(&x, 2, 3).unwrap();
    assert!(s.iter().all(|z| (z - c(1.0, 0.0)).norm() < 1e-15));
    assert_eq!(toeplitz_projection(&s, 3).unwrap(), vec![c(1.0, 0.0); 3]);
    assert!(matches!(toeplitz_projection(&s, 2), Err(Error::LengthMismatch { .. })));
    assert!(toeplitz_projection(&[], 0).is_err());
    let r = [c(2.0, 0.0), c(0.5, 0.1)];
    assert!(crb_first_row(&r, 10, DataKind::Complex).unwrap().is_finite());
    let e = crb_first_row(&r, 0, DataKind::Complex).unwrap_err();
    assert_eq!(hyper_field(e), "n");
    assert!(fisher_information(&[], DataKind::Complex).is_err());
    assert!(fisher_information(&[c(f64::NAN, 0.0)], DataKind::Real).is_err());
}

#[test]
fn toeplitz_metrics_reject_mismatched_columns() {
    let truth = [c(2.0, 0.0), c(0.5, 0.0)];
    let est = [c(2.0, 0.0), c(0.4, 0.0)];
    assert!((first_row_squared_error(&est, &truth).unwrap() - 0.01).abs() < 1e-15);
    // A shorter estimate used to be compared on its prefix only.
    assert!(matches!(
        first_row_squared_error(&est[..1], &truth),
        Err(Error::LengthMismatch { .. })
    ));
    assert!(kl_divergence(&est[..1], &truth).is_err());
    assert!(kl_divergence(&[], &[]).is_err());
    assert!(relative_frobenius(&est, &[c(0.0, 0.0); 2]).is_err());
    assert!(relative_frobenius(&est, &truth[..1]).is_err());
    assert!(relative_frobenius(&est, &truth).unwrap() > 0.0);
}

#[test]
fn toeplitz_generators_and_backprop_check_their_input() {
    assert!(sinusoid_column(0, &[0.1], &[1.0], 0.0).is_err());
    assert!(matches!(
        sinusoid_column(3, &[0.1, 0.2], &[1.0], 0.0),
        Err(Error::LengthMismatch { .. })
    ));
    assert!(sinusoid_column(3, &[f64::NAN], &[1.0], 0.0).is_err());
    assert_eq!(sinusoid_column(2, &[0.0], &[1.0], 0.5).unwrap(), vec![c(1.5, 0.0), c(1.0, 0.0)]);
    assert!(random_caratheodory(0, 1).is_err());
    assert_eq!(random_caratheodory(4, 1).unwrap().len(), 4);
    let m = SinusoidModel::new(3, 2, DataKind::Complex).unwrap();
    let gamma = vec![c(1.0, 0.0); 3];
    let mut g = vec![0.0; 4];
    assert!(m.backprop(&[0.0; 4], &gamma, &mut g).is_ok());
    assert!(m.backprop(&[0.0; 3], &gamma, &mut g).is_err());
    assert!(m.backprop(&[0.0; 4], &gamma[..2], &mut g).is_err());
    assert!(m.backprop(&[0.0; 4], &gamma, &mut [0.0; 5]).is_err());
}

#[test]
fn sharpness_rejects_unsorted_bounds_and_replayed_steps() {
    let diag = [1.0, 4.0, 9.0];
    for bad in [&[0, 2, 1, 3][..], &[0, 1, 1, 3], &[1, 3], &[0, 2], &[0]] {
        assert!(matches!(block_measure(&diag, bad), Err(Error::InvalidShape { .. })), "{bad:?}");
        assert!(implicit_measure(&diag, bad, 0.5).is_err(), "{bad:?}");
    }
    assert!(
        (block_measure(&diag, &[0, 1, 3]).unwrap() - (1.0 + (2.0f64 * 13.0).sqrt())).abs() < 1e-12
    );
    // A step before the entry step neither panics nor wraps around to "long on the manifold".
    let mut p = Plateau::new(1.0, 1e-3, 10, 1).unwrap();
    assert!(!p.observe(100, 0.5, 2.0));
    assert!(!p.observe(50, 0.5, 2.0));
    assert_eq!(p.converged_at(), None);
}
