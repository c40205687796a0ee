//! The client side of a BR-MTRL round allocates nothing: a client update (head fit, then
//! representation epochs) runs on its preallocated workspace, and a whole round with
//! `Par::Seq` allocates the same number of times whatever the number of participants (only
//! the server's aggregate is fresh). A counting global allocator proves it; it counts only on
//! the thread that enables it.

use gradus_core::alloc_count::{CountingAllocator, count_allocations};
use gradus_core::{Par, rng};
use gradus_dist::federated::aggregate::Aggregator;
use gradus_dist::federated::data::synthetic::GaussianMixture;
use gradus_dist::federated::mtrl::client::client_update;
use gradus_dist::federated::mtrl::data::{label_subset_tasks, linear_tasks, random_basis};
use gradus_dist::federated::mtrl::*;
use gradus_dist::federated::{Attack, NonFinitePolicy};

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

fn mlp_fed() -> Federation<Mlp, SoftmaxHead> {
    let mix = GaussianMixture::new(10, 5, 0.5, &mut rng::seeded(1)).unwrap();
    let tasks = label_subset_tasks(&mix, 12, 2, 23, 10, 2).unwrap();
    let mlp = Mlp::new(10, &[8, 4], Activation::Relu).unwrap();
    Federation::new(mlp, SoftmaxHead::new(4, 5).unwrap(), tasks).unwrap()
}

fn mlp_local() -> LocalUpdate {
    LocalUpdate {
        head: HeadFit::Sgd(LocalSgd { epochs: 3, lr: 0.1, momentum: 0.9, batch: 5 }),
        rep: LocalSgd { epochs: 2, lr: 0.1, momentum: 0.9, batch: 7 },
    }
}

#[test]
fn a_client_update_allocates_nothing() {
    let fed = mlp_fed();
    let local = mlp_local();
    let (rep, head) = (fed.rep(), fed.head());
    let mut ws = ClientWorkspace::for_update(rep, head, fed.max_rows(), &local);
    let mut phi = vec![0.0; rep.num_params()];
    rep.init(&mut rng::seeded(3), &mut phi).unwrap();
    let mut h = vec![0.0; head.num_params()];
    let mut upload = vec![0.0; phi.len()];
    let mut r = rng::seeded(4);
    let task = &fed.clients()[0].train;
    let (res, n) = count_allocations(|| {
        client_update(rep, head, &phi, task, &local, &mut h, &mut upload, &mut ws, &mut r)
    });
    res.unwrap();
    assert_eq!(n, 0, "allocations in an MLP client update");
    assert!(upload.iter().any(|v| *v != 0.0));

    // The linear model with the closed-form head.
    let b = random_basis(8, 2, 5).unwrap();
    let cfg = LinearTasks { train: 15, test: 5, noise: 0.1, whiten: false };
    let tasks = linear_tasks(&b, 8, 2, 3, cfg, 6).unwrap();
    let lin = Federation::new(
        LinearRep::new(8, 2, true).unwrap(),
        RegressionHead::new(2).unwrap(),
        tasks,
    )
    .unwrap();
    let local = LocalUpdate {
        head: HeadFit::Exact { ridge: 1e-6 },
        rep: LocalSgd { epochs: 1, lr: 0.5, momentum: 0.0, batch: 15 },
    };
    let mut ws = ClientWorkspace::for_update(lin.rep(), lin.head(), lin.max_rows(), &local);
    let mut h = vec![0.0; 2];
    let mut upload = vec![0.0; 16];
    let task = &lin.clients()[1].train;
    let (res, n) = count_allocations(|| {
        client_update(lin.rep(), lin.head(), &b, task, &local, &mut h, &mut upload, &mut ws, &mut r)
    });
    res.unwrap();
    assert_eq!(n, 0, "allocations in a linear client update");
}

#[test]
fn round_allocations_do_not_grow_with_participants() {
    let fed = mlp_fed();
    let mut counts = Vec::new();
    for participants in [3, 6, 12] {
        let cfg = MtrlConfig {
            participants,
            local: mlp_local(),
            eval_fit: mlp_local().head,
            byzantine_fraction: 0.0,
            attack: Attack::Honest,
            aggregator: Aggregator::Mean,
            policy: NonFinitePolicy::Reject,
            seed: 1,
            par: Par::Seq,
        };
        let mut m = Mtrl::new(&fed, cfg, None).unwrap();
        m.round().unwrap();
        let (res, n) = count_allocations(|| m.round());
        res.unwrap();
        counts.push(n);
    }
    assert!(counts.windows(2).all(|w| w[0] == w[1]), "allocations per round: {counts:?}");
}
