//! Bad input gives a named error and leaves everything bit-for-bit unchanged; state survives
//! save/load exactly; corrupt or mismatched checkpoints are refused with a clear reason.

use gradus_core::{Error, Layout};
use gradus_optim::checkpoint::{self, Checkpoint};
use gradus_optim::control::{ControlRule, ControlRuleConfig, Law};
use gradus_optim::{Agm, AgmConfig, Momentum, Optimizer, Partition, StatePrecision, Statistic};

fn field_of(e: Error) -> &'static str {
    match e {
        Error::InvalidHyperparameter { field, .. } => field,
        other => panic!("expected an invalid-hyperparameter error, got {other}"),
    }
}

#[test]
fn invalid_hyperparameters_name_the_field() {
    let l = || Layout::flat(4).unwrap();
    let with = |f: &dyn Fn(&mut AgmConfig)| {
        let mut c = AgmConfig::adam(1e-3);
        f(&mut c);
        Agm::<f32>::new("adam", c, l()).unwrap_err()
    };
    assert_eq!(field_of(with(&|c| c.lr = 0.0)), "lr");
    assert_eq!(field_of(with(&|c| c.lr = -1.0)), "lr");
    assert_eq!(field_of(with(&|c| c.lr = f64::NAN)), "lr");
    assert_eq!(field_of(with(&|c| c.momentum = Momentum::Ema { beta1: 1.0 })), "beta1");
    assert_eq!(field_of(with(&|c| c.momentum = Momentum::Ema { beta1: -0.1 })), "beta1");
    assert_eq!(
        field_of(with(
            &|c| c.statistic = Statistic::Ema { beta2: 1.5, partition: Partition::Coordinates }
        )),
        "beta2"
    );
    assert_eq!(field_of(with(&|c| c.eps = 0.0)), "eps");
    assert_eq!(field_of(with(&|c| c.exponent = 1.5)), "exponent");
    assert_eq!(field_of(with(&|c| c.weight_decay.coefficient = -1.0)), "weight_decay");
    assert_eq!(field_of(with(&|c| c.max_grad_norm = Some(0.0))), "max_grad_norm");
    assert_eq!(
        field_of(with(
            &|c| c.momentum = Momentum::HeavyBall { mu: 0.0, dampening: 0.0, nesterov: true }
        )),
        "nesterov"
    );
    // bf16 state needs f32 parameters.
    let c = AgmConfig::adam(1e-3).with_precision(StatePrecision::Bf16);
    assert!(matches!(Agm::<f64>::new("adam", c, l()), Err(Error::Unsupported(_))));
    // A state-shaping change between steps is refused; a plain one is accepted.
    let mut opt = Agm::<f32>::adam(l(), 1e-3).unwrap();
    assert!(opt.set_config(AgmConfig::adam(1e-3).with_amsgrad(true)).is_err());
    opt.set_config(AgmConfig::adam(2e-3).with_eps(1e-6)).unwrap();
    assert_eq!(opt.lr(), 2e-3);
    assert!(opt.set_lr(-1.0).is_err());
}

fn configs() -> Vec<(&'static str, AgmConfig)> {
    vec![
        ("adam", AgmConfig::adam(0.01).with_amsgrad(true)),
        ("adam-bf16", AgmConfig::adam(0.01).with_precision(StatePrecision::Bf16)),
        (
            "sgd",
            AgmConfig::sgd(0.01).with_momentum(Momentum::HeavyBall {
                mu: 0.9,
                dampening: 0.0,
                nesterov: true,
            }),
        ),
        ("rmsprop", AgmConfig::rmsprop(0.01).with_centered(true)),
        ("adagrad", AgmConfig::adagrad(0.01)),
        ("adam-mini", AgmConfig::adam(0.01).with_partition(Partition::LayoutBlocks)),
        ("adam-e", AgmConfig::adam(0.01).with_exponent(0.3)),
    ]
}

fn layout() -> Layout {
    Layout::new().matrix("w", 3, 5).unwrap().vector("b", 40).unwrap()
}

fn warm(opt: &mut impl Optimizer<f32>, x: &mut [f32], steps: usize) {
    for k in 0..steps {
        let g: Vec<f32> = x
            .iter()
            .enumerate()
            .map(|(i, v)| v - (i as f32 * 0.1).sin() + k as f32 * 0.01)
            .collect();
        opt.step(x, &g).unwrap();
    }
}

#[test]
fn rejected_steps_leave_parameters_and_state_bit_identical() {
    let n = layout().len();
    for (name, cfg) in configs() {
        let mut opt = Agm::<f32>::new(name, cfg, layout()).unwrap();
        let mut x: Vec<f32> = (0..n).map(|i| i as f32 * 0.01).collect();
        warm(&mut opt, &mut x, 3);
        let (x_before, st_before) = (x.clone(), opt.state().unwrap());
        for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
            let mut g = vec![0.5f32; n];
            g[n - 2] = bad;
            match opt.step(&mut x, &g) {
                Err(Error::NonFinite { what: "gradient", index }) => assert_eq!(index, n - 2),
                other => panic!("{name}: expected NonFinite, got {other:?}"),
            }
        }
        // Finite, but its square overflows f32: a second moment would become infinite.
        let mut huge = vec![0.5f32; n];
        huge[1] = -3e19;
        match opt.step(&mut x, &huge) {
            Err(Error::NonFinite { index, .. }) => assert_eq!(index, 1, "{name}"),
            other => panic!("{name}: expected the overflowing square refused, got {other:?}"),
        }
        assert!(matches!(
            opt.step(&mut x, &vec![0.5f32; n - 1]),
            Err(Error::LengthMismatch { .. })
        ));
        assert!(matches!(
            opt.step(&mut x[..n - 1], &vec![0.5f32; n - 1]),
            Err(Error::LengthMismatch { .. })
        ));
        let xb: Vec<u32> = x.iter().map(|v| v.to_bits()).collect();
        let wb: Vec<u32> = x_before.iter().map(|v| v.to_bits()).collect();
        assert_eq!(xb, wb, "{name}: parameters changed");
        assert_eq!(opt.state().unwrap(), st_before, "{name}: state changed");
    }
}

#[test]
fn checkpoints_resume_exactly() {
    let n = layout().len();
    let dir = std::env::temp_dir().join(format!("gradus-ck-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (name, cfg) in configs() {
        let mut a = Agm::<f32>::new(name, cfg.clone(), layout()).unwrap();
        let mut xa: Vec<f32> = (0..n).map(|i| (i as f32).cos()).collect();
        warm(&mut a, &mut xa, 5);
        let path = dir.join(format!("{name}.ck"));
        let ck = Checkpoint {
            optimizer: a.state().unwrap(),
            params: Some(gradus_optim::BufferData::from_scalars(&xa)),
            meta: serde_json::Value::Null,
        };
        checkpoint::save(&path, &ck).unwrap();
        let back = checkpoint::load(&path).unwrap();
        assert_eq!(back, ck, "{name}: round trip");
        let mut b = Agm::<f32>::new(name, cfg, layout()).unwrap();
        b.load_state(&back.optimizer).unwrap();
        let mut xb = vec![0.0f32; n];
        back.params.unwrap().copy_to("params", &mut xb).unwrap();
        warm(&mut a, &mut xa, 4);
        warm(&mut b, &mut xb, 4);
        assert_eq!(xa, xb, "{name}: resumed run diverged");
        assert_eq!(a.state().unwrap(), b.state().unwrap());
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn mismatched_states_are_refused_with_the_reason() {
    let mut adam = Agm::<f32>::adam(layout(), 0.01).unwrap();
    let mut x = vec![0.1f32; layout().len()];
    warm(&mut adam, &mut x, 2);
    let st = adam.state().unwrap();
    let before = adam.state().unwrap();
    let reason = |r: Result<(), Error>| match r {
        Err(Error::StateMismatch { field, .. }) => field,
        other => panic!("expected StateMismatch, got {other:?}"),
    };
    let mut other_layout =
        Agm::<f32>::adam(Layout::new().matrix("w", 5, 3).unwrap().vector("b", 40).unwrap(), 0.01)
            .unwrap();
    assert_eq!(reason(other_layout.load_state(&st)), "layout");
    assert_eq!(reason(Agm::<f32>::rmsprop(layout(), 0.01).unwrap().load_state(&st)), "optimizer");
    assert_eq!(reason(Agm::<f64>::adam(layout(), 0.01).unwrap().load_state(&st)), "scalar type");
    let mut old = st.clone();
    old.schema_version = 0;
    assert_eq!(reason(adam.load_state(&old)), "schema version");
    let mut ams =
        Agm::<f32>::new("adam", AgmConfig::adam(0.01).with_amsgrad(true), layout()).unwrap();
    assert_eq!(reason(ams.load_state(&st)), "optimizer configuration");
    let mut short = st.clone();
    short.buffers[0].data = gradus_optim::BufferData::F32(vec![0.0; 3]);
    assert_eq!(reason(adam.load_state(&short)), "m");
    let mut nan = st.clone();
    nan.buffers[1].data = gradus_optim::BufferData::F32(vec![f32::NAN; layout().len()]);
    assert!(matches!(adam.load_state(&nan), Err(Error::NonFinite { .. })));
    assert_eq!(adam.state().unwrap(), before, "a refused load changed the optimizer");
}

#[test]
fn corrupt_checkpoint_bytes_are_errors() {
    let adam = Agm::<f32>::adam(layout(), 0.01).unwrap();
    let ck = Checkpoint {
        optimizer: adam.state().unwrap(),
        params: None,
        meta: serde_json::json!({"k": 1}),
    };
    let bytes = checkpoint::encode(&ck);
    assert_eq!(checkpoint::decode(&bytes).unwrap(), ck);
    for cut in [0, 7, 20, bytes.len() / 2, bytes.len() - 1] {
        assert!(checkpoint::decode(&bytes[..cut]).is_err(), "truncated at {cut}");
    }
    for pos in [0, 9, 30, bytes.len() / 2, bytes.len() - 2] {
        let mut b = bytes.clone();
        b[pos] ^= 0x40;
        assert!(
            matches!(
                checkpoint::decode(&b),
                Err(Error::Corrupt { .. } | Error::StateMismatch { .. })
            ),
            "flip at {pos}"
        );
    }
    assert!(checkpoint::load("/nonexistent/dir/x.ck").is_err());
    assert!(checkpoint::save("/nonexistent/dir/x.ck", &ck).is_err());
}

#[test]
fn failed_save_keeps_the_previous_checkpoint() {
    let dir = std::env::temp_dir().join(format!("gradus-atomic-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("run.ck");
    let adam = Agm::<f32>::adam(layout(), 0.01).unwrap();
    let ck = Checkpoint {
        optimizer: adam.state().unwrap(),
        params: None,
        meta: serde_json::Value::Null,
    };
    checkpoint::save(&path, &ck).unwrap();
    // A directory squatting on the temporary file's name makes the next save fail before the
    // rename: the old checkpoint must survive intact and no temporary file may remain.
    let tmp = dir.join(format!(".run.ck.tmp-{}", std::process::id()));
    std::fs::create_dir(&tmp).unwrap();
    let mut ck2 = ck.clone();
    ck2.optimizer.step = 99;
    assert!(checkpoint::save(&path, &ck2).is_err());
    assert_eq!(checkpoint::load(&path).unwrap(), ck);
    std::fs::remove_dir(&tmp).unwrap();
    checkpoint::save(&path, &ck2).unwrap();
    assert_eq!(checkpoint::load(&path).unwrap().optimizer.step, 99);
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp-"))
        .collect();
    assert!(leftovers.is_empty());
    std::fs::remove_dir_all(&dir).ok();
}

/// The control-derived rules of paper 10, one per setting (the layout has 55 parameters).
fn control_configs() -> Vec<(&'static str, ControlRuleConfig)> {
    let n = layout().len();
    let per_coord = |base: f64| (0..n).map(|i| base + (i % 5) as f64 * 0.5).collect::<Vec<_>>();
    vec![
        ("control-gd", ControlRuleConfig::gd(0.01)),
        ("natural-gradient", ControlRuleConfig::natural_gradient(0.01, per_coord(0.5))),
        ("sqrt-curvature", ControlRuleConfig::sqrt_curvature(0.01, per_coord(0.2))),
        ("ballistic", ControlRuleConfig::ballistic(0.01, 0.999, 1e-8).with_clipping(5.0)),
        (
            "adaptive",
            ControlRuleConfig::adaptive(0.01, 0.5, 0.99, 1e-8).with_decay(0.01).with_hazard(0.1),
        ),
        ("momentum", ControlRuleConfig::momentum(0.01, 0.5, 1.0)),
        (
            "adaptive-inertial",
            ControlRuleConfig {
                law: Law::Inertial,
                ..ControlRuleConfig::adaptive(0.01, 0.5, 0.9, 1e-8)
            },
        ),
    ]
}

#[test]
fn control_rules_reject_bad_steps_leaving_everything_bit_identical() {
    let n = layout().len();
    for (name, cfg) in control_configs() {
        let mut opt = ControlRule::<f32>::new(name, cfg, layout()).unwrap();
        let mut x: Vec<f32> = (0..n).map(|i| i as f32 * 0.01).collect();
        warm(&mut opt, &mut x, 3);
        let (x_before, st_before) = (x.clone(), opt.state().unwrap());
        for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
            let mut g = vec![0.5f32; n];
            g[n - 2] = bad;
            match opt.step(&mut x, &g) {
                Err(Error::NonFinite { what: "gradient", index }) => assert_eq!(index, n - 2),
                other => panic!("{name}: expected NonFinite, got {other:?}"),
            }
        }
        assert!(matches!(
            opt.step(&mut x, &vec![0.5f32; n - 1]),
            Err(Error::LengthMismatch { .. })
        ));
        assert!(matches!(
            opt.step(&mut x[..n - 1], &vec![0.5f32; n - 1]),
            Err(Error::LengthMismatch { .. })
        ));
        let xb: Vec<u32> = x.iter().map(|v| v.to_bits()).collect();
        let wb: Vec<u32> = x_before.iter().map(|v| v.to_bits()).collect();
        assert_eq!(xb, wb, "{name}: parameters changed");
        assert_eq!(opt.state().unwrap(), st_before, "{name}: state changed");
    }
}

#[test]
fn control_rule_checkpoints_resume_exactly() {
    let n = layout().len();
    let dir = std::env::temp_dir().join(format!("gradus-ck-control-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for (name, cfg) in control_configs() {
        let mut a = ControlRule::<f32>::new(name, cfg.clone(), layout()).unwrap();
        let mut xa: Vec<f32> = (0..n).map(|i| (i as f32).cos()).collect();
        warm(&mut a, &mut xa, 5);
        let path = dir.join(format!("{name}.ck"));
        let ck = Checkpoint {
            optimizer: a.state().unwrap(),
            params: Some(gradus_optim::BufferData::from_scalars(&xa)),
            meta: serde_json::Value::Null,
        };
        checkpoint::save(&path, &ck).unwrap();
        let back = checkpoint::load(&path).unwrap();
        assert_eq!(back, ck, "{name}: round trip");
        // A fresh rule with other hyperparameters but the same state shape takes the saved
        // configuration with the state.
        let mut b =
            ControlRule::<f32>::new(name, ControlRuleConfig { lr: 0.5, ..cfg }, layout()).unwrap();
        b.load_state(&back.optimizer).unwrap();
        assert_eq!(b.config(), a.config());
        let mut xb = vec![0.0f32; n];
        back.params.unwrap().copy_to("params", &mut xb).unwrap();
        warm(&mut a, &mut xa, 4);
        warm(&mut b, &mut xb, 4);
        assert_eq!(xa, xb, "{name}: resumed run diverged");
        assert_eq!(a.state().unwrap(), b.state().unwrap());
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn control_rule_mismatched_states_are_refused_with_the_reason() {
    let mut ballistic = ControlRule::<f32>::new(
        "ballistic",
        ControlRuleConfig::ballistic(0.01, 0.99, 1e-8),
        layout(),
    )
    .unwrap();
    let mut x = vec![0.1f32; layout().len()];
    warm(&mut ballistic, &mut x, 2);
    let st = ballistic.state().unwrap();
    let before = ballistic.state().unwrap();
    let reason = |r: Result<(), Error>| match r {
        Err(Error::StateMismatch { field, .. }) => field,
        other => panic!("expected StateMismatch, got {other:?}"),
    };
    assert_eq!(reason(Agm::<f32>::adam(layout(), 0.01).unwrap().load_state(&st)), "optimizer");
    assert_eq!(
        reason(ControlRule::<f64>::ballistic(layout(), 0.01, 0.99, 1e-8).unwrap().load_state(&st)),
        "scalar type"
    );
    // Same name, other state shape (an inertial law needs a velocity buffer).
    let inertial =
        ControlRuleConfig { law: Law::Inertial, ..ControlRuleConfig::ballistic(0.01, 0.9, 1e-8) };
    let mut other = ControlRule::<f32>::new("ballistic", inertial, layout()).unwrap();
    assert_eq!(reason(other.load_state(&st)), "optimizer configuration");
    let mut short = st.clone();
    short.buffers[0].data = gradus_optim::BufferData::F32(vec![0.0; 3]);
    assert_eq!(reason(ballistic.load_state(&short)), "v");
    let mut extra = st.clone();
    extra.buffers.push(gradus_optim::NamedBuffer {
        name: "m".into(),
        data: gradus_optim::BufferData::F32(vec![0.0; layout().len()]),
    });
    assert_eq!(reason(ballistic.load_state(&extra)), "buffers");
    let mut nan = st.clone();
    nan.buffers[0].data = gradus_optim::BufferData::F32(vec![f32::NAN; layout().len()]);
    assert!(matches!(ballistic.load_state(&nan), Err(Error::NonFinite { .. })));
    let mut bad_cfg = st.clone();
    bad_cfg.config["curvature"]["GradSquareEma"]["eps"] = serde_json::json!(-1.0);
    assert!(matches!(
        ballistic.load_state(&bad_cfg),
        Err(Error::InvalidHyperparameter { field: "eps", .. })
    ));
    bad_cfg.config = serde_json::json!({"lr": "fast"});
    assert!(matches!(ballistic.load_state(&bad_cfg), Err(Error::Corrupt { .. })));
    assert_eq!(ballistic.state().unwrap(), before, "a refused load changed the optimizer");
}

/// A configuration that cannot be serialised is an error, not a JSON `null` in the state (which
/// a later `load_state` would refuse as corrupt); real configurations serialise to objects.
#[test]
fn unserialisable_configuration_is_an_error_and_real_ones_are_objects() {
    // JSON object keys must be strings: a map keyed by pairs cannot be written.
    let bad: std::collections::BTreeMap<(u8, u8), f64> = [((1, 2), 0.5)].into_iter().collect();
    assert!(matches!(
        gradus_optim::config_value(&bad),
        Err(Error::Corrupt { what: "optimizer configuration", .. })
    ));
    let l = || Layout::flat(4).unwrap();
    let agm = Agm::<f32>::new("adam", AgmConfig::adam(1e-3), l()).unwrap();
    let shampoo =
        gradus_optim::Shampoo::<f64>::new(gradus_optim::ShampooConfig::new(0.1), l()).unwrap();
    for st in [agm.state().unwrap(), shampoo.state().unwrap()] {
        assert!(st.config.is_object(), "{}: config {}", st.optimizer, st.config);
    }
}
