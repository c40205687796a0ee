//! Loaders on small files generated here, client splits, synthetic generators, and the
//! committed fuzz corpus.

use std::path::{Path, PathBuf};

use gradus_core::{Error, rng};
use gradus_dist::federated::data::cifar::{RECORD, load_cifar10_dir, parse_cifar10};
use gradus_dist::federated::data::femnist::{load_femnist_dir, parse_femnist};
use gradus_dist::federated::data::{Dataset, split, synthetic};
use gradus_dist::federated::fuzzing;

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("gradus-fed-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn cifar_bytes(labels: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, &y) in labels.iter().enumerate() {
        out.push(y);
        out.extend((0..3072).map(|p| ((p * 7 + i * 13) % 256) as u8));
    }
    out
}

#[test]
fn cifar10_records_parse_and_bad_files_are_errors() {
    let bytes = cifar_bytes(&[3, 0, 9]);
    let set = parse_cifar10(&bytes).unwrap();
    assert_eq!(set.labels, vec![3, 0, 9]);
    assert_eq!(set.pixels[3072 + 5], 48);
    let ds = set.to_dataset().unwrap();
    assert_eq!((ds.len(), ds.dim, ds.classes), (3, 3072, 10));
    assert_eq!(ds.row(1)[5], (48.0 / 255.0 - 0.5) / 0.5);
    assert!(parse_cifar10(&[]).unwrap().is_empty());
    assert!(matches!(parse_cifar10(&bytes[..RECORD + 1]), Err(Error::Corrupt { .. })));
    let mut bad = bytes.clone();
    bad[RECORD] = 10;
    assert!(
        matches!(parse_cifar10(&bad), Err(Error::Corrupt { detail, .. }) if detail.contains("record 1"))
    );
}

#[test]
fn cifar10_directory_loads_train_and_test_batches() {
    let dir = tmpdir("cifar");
    std::fs::write(dir.join("data_batch_1.bin"), cifar_bytes(&[1, 2])).unwrap();
    std::fs::write(dir.join("data_batch_3.bin"), cifar_bytes(&[4])).unwrap();
    assert!(matches!(load_cifar10_dir(&dir), Err(Error::Io { .. })), "test batch missing");
    std::fs::write(dir.join("test_batch.bin"), cifar_bytes(&[7])).unwrap();
    let (train, test) = load_cifar10_dir(&dir).unwrap();
    assert_eq!(train.labels, vec![1, 2, 4]);
    assert_eq!(test.labels, vec![7]);
    assert!(load_cifar10_dir(Path::new("/nonexistent/gradus")).is_err());
    std::fs::remove_dir_all(dir).unwrap();
}

fn femnist_json(users: &[(&str, usize)], label: i64) -> String {
    let mut data = serde_json::Map::new();
    for (k, &(id, m)) in users.iter().enumerate() {
        let x: Vec<Vec<f64>> =
            (0..m).map(|i| (0..784).map(|p| ((p + i + k) % 10) as f64 / 10.0).collect()).collect();
        let y: Vec<i64> = (0..m).map(|i| (label + i as i64) % 62).collect();
        data.insert(id.into(), serde_json::json!({ "x": x, "y": y }));
    }
    serde_json::json!({
        "users": users.iter().map(|u| u.0).collect::<Vec<_>>(),
        "num_samples": users.iter().map(|u| u.1).collect::<Vec<_>>(),
        "user_data": data,
    })
    .to_string()
}

#[test]
fn femnist_json_parses_writers_in_order() {
    let users = parse_femnist(femnist_json(&[("f_b", 2), ("f_a", 3)], 60).as_bytes()).unwrap();
    assert_eq!(users.iter().map(|u| u.id.as_str()).collect::<Vec<_>>(), ["f_b", "f_a"]);
    assert_eq!(users[0].y, vec![60, 61]);
    assert_eq!(users[1].y, vec![60, 61, 0]);
    assert_eq!(users[1].x.len(), 3 * 784);
    assert_eq!(users[1].x[784 + 3], 0.5);
    let ds = users[1].to_dataset().unwrap();
    assert_eq!((ds.len(), ds.dim, ds.classes), (3, 784, 62));
}

#[test]
fn femnist_errors_name_the_problem() {
    let bad = |s: &str| match parse_femnist(s.as_bytes()) {
        Err(Error::Corrupt { detail, .. }) => detail,
        other => panic!("expected corrupt, got {other:?}"),
    };
    assert!(bad("{not json").contains("invalid JSON"));
    assert!(bad(r#"{"users":["a"],"num_samples":[],"user_data":{}}"#).contains("sample counts"));
    assert!(bad(r#"{"users":["a"],"num_samples":[1],"user_data":{}}"#).contains("no data"));
    assert!(
        bad(r#"{"users":["a"],"num_samples":[1],"user_data":{"a":{"x":[[0.5]],"y":[1]}}}"#)
            .contains("1 values")
    );
    assert!(
        bad(r#"{"users":["a"],"num_samples":[2],"user_data":{"a":{"x":[],"y":[]}}}"#)
            .contains("num_samples 2")
    );
    let s = femnist_json(&[("a", 1)], 0).replace("\"y\":[0]", "\"y\":[62]");
    assert!(bad(&s).contains("label 62"));
    let s = femnist_json(&[("a", 1)], 0).replace("\"y\":[0]", "\"y\":[1.5]");
    assert!(bad(&s).contains("label 1.5"));
}

#[test]
fn femnist_directory_concatenates_files_in_name_order() {
    let dir = tmpdir("femnist");
    std::fs::write(dir.join("b.json"), femnist_json(&[("u2", 1)], 0)).unwrap();
    std::fs::write(dir.join("a.json"), femnist_json(&[("u1", 2)], 0)).unwrap();
    std::fs::write(dir.join("notes.txt"), "ignored").unwrap();
    let users = load_femnist_dir(&dir).unwrap();
    assert_eq!(users.iter().map(|u| u.id.as_str()).collect::<Vec<_>>(), ["u1", "u2"]);
    std::fs::remove_dir_all(dir).unwrap();
}

fn assert_partition(parts: &[Vec<usize>], n: usize) {
    let mut all: Vec<usize> = parts.iter().flatten().copied().collect();
    all.sort_unstable();
    assert_eq!(all, (0..n).collect::<Vec<_>>());
    assert!(parts.iter().all(|p| !p.is_empty()));
}

#[test]
fn iid_and_dirichlet_splits_partition_the_rows() {
    let mut r = rng::seeded(5);
    let parts = split::iid(103, 10, &mut r).unwrap();
    assert_partition(&parts, 103);
    assert!(parts.iter().all(|p| p.len() == 10 || p.len() == 11));
    assert!(split::iid(3, 4, &mut r).is_err());

    let labels: Vec<usize> = (0..2000).map(|i| i % 10).collect();
    let classes_per_client = |alpha: f64| {
        let parts = split::dirichlet(&labels, 10, 20, alpha, &mut rng::seeded(9)).unwrap();
        assert_partition(&parts, labels.len());
        let mean: f64 = parts
            .iter()
            .map(|p| {
                let mut c: Vec<usize> = p.iter().map(|&i| labels[i]).collect();
                c.sort_unstable();
                c.dedup();
                c.len() as f64
            })
            .sum::<f64>()
            / 20.0;
        mean
    };
    let (skewed, even) = (classes_per_client(0.1), classes_per_client(100.0));
    assert!(skewed < 5.0 && even > 9.5, "classes per client {skewed} vs {even}");
    assert!(matches!(
        split::dirichlet(&labels, 10, 20, 0.0, &mut r),
        Err(Error::InvalidHyperparameter { field: "alpha", .. })
    ));
    assert!(split::dirichlet(&[0, 11], 10, 2, 1.0, &mut r).is_err());
}

#[test]
fn synthetic_generators() {
    let mut r = rng::seeded(1);
    let (x, y, w) = synthetic::linear_regression(50, 4, 0.0, &mut r).unwrap();
    for i in 0..50 {
        let p: f64 = (0..4).map(|j| x[i * 4 + j] * w[j]).sum();
        assert!((p - y[i]).abs() < 1e-12);
    }
    let ds = synthetic::gaussian_mixture(300, 5, 3, 2.0, &mut r).unwrap();
    assert_eq!((ds.len(), ds.dim, ds.classes), (300, 5, 3));
    let sub = ds.subset(&[4, 0]).unwrap();
    assert_eq!(sub.row(1), ds.row(0));
    assert_eq!(sub.y, vec![ds.y[4], ds.y[0]]);
    assert!(ds.subset(&[300]).is_err());
    assert!(Dataset::new(vec![0.0; 4], vec![0, 5], 2, 3).is_err());
    assert!(Dataset::new(vec![f64::NAN, 0.0], vec![0], 2, 3).is_err());
}

fn replay(target: &str, f: fn(&[u8])) -> usize {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus").join(target);
    let mut count = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        if path.is_file() {
            f(&std::fs::read(&path).unwrap());
            count += 1;
        }
    }
    count
}

#[test]
fn committed_fuzz_corpus_replays_without_panics() {
    assert!(replay("cifar10_parse", fuzzing::cifar10) > 0);
    assert!(replay("femnist_parse", fuzzing::femnist) > 0);
    assert!(replay("aggregators", fuzzing::aggregators) > 0);
    // Mutations of valid inputs.
    let c = cifar_bytes(&[1, 2]);
    for i in (0..c.len()).step_by(97) {
        fuzzing::cifar10(&c[..i]);
    }
    let j = femnist_json(&[("a", 1), ("b", 2)], 3);
    for i in (0..j.len()).step_by(101) {
        fuzzing::femnist(&j.as_bytes()[..i]);
    }
    let mut bytes = vec![7u8, 5, 3, 1];
    for k in 0..200u64 {
        bytes.extend_from_slice(&(k as f64 * 0.37 - 20.0).to_le_bytes());
    }
    for cut in [4, 13, 60, 400, bytes.len()] {
        fuzzing::aggregators(&bytes[..cut]);
    }
}

#[test]
fn dataset_shapes_whose_product_overflows_are_errors() {
    // 2 * 2^63 wraps to 0 = x.len(): the check must not pass.
    assert!(Dataset::new(vec![], vec![0, 0], 1 << 63, 2).is_err());
    assert!(Dataset::new(vec![], vec![0; 4], usize::MAX / 2 + 1, 2).is_err());
}

#[test]
fn synthetic_sizes_whose_product_overflows_are_errors() {
    let mut r = rng::seeded(0);
    assert!(synthetic::linear_regression(usize::MAX, 2, 0.1, &mut r).is_err());
    assert!(synthetic::linear_regression(3, 2, f64::NAN, &mut r).is_err());
    assert!(synthetic::gaussian_mixture(1 << 40, 1 << 40, 3, 1.0, &mut r).is_err());
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(gradus_core::testing::proptest_cases(300)))]

    /// A poor man's fuzzer of the aggregator harness, biased towards extreme parameters
    /// (byte 2 >= 128) and non-finite entries; the harness asserts Seq == Rayon.
    #[test]
    fn aggregator_harness_never_panics(
        head in proptest::collection::vec(proptest::prelude::any::<u8>(), 4),
        extreme in proptest::prelude::any::<bool>(),
        vals in proptest::collection::vec(proptest::prop_oneof![
            proptest::prelude::any::<f64>(),
            -10.0f64..10.0,
            proptest::strategy::Just(f64::NAN),
            proptest::strategy::Just(1e300),
        ], 0..40),
    ) {
        let mut data = head;
        if extreme {
            data[2] |= 0x80;
        }
        vals.iter().for_each(|v| data.extend_from_slice(&v.to_le_bytes()));
        fuzzing::aggregators(&data);
    }
}
