//! The federated rounds over the in-process transport against `Federation::run`: the same
//! history, bit for bit, for robust rules and the LSH screen, with and without attackers.

use std::time::Duration;

use gradus_core::{Layout, Par, rng};
use gradus_dist::comm::fed::{self, FedPart};
use gradus_dist::comm::{Local, Transport, block};
use gradus_dist::federated::aggregate::{Aggregator, Krum, Weiszfeld};
use gradus_dist::federated::attack::Attack;
use gradus_dist::federated::data::{Dataset, split, synthetic};
use gradus_dist::federated::screening::HammingScreen;
use gradus_dist::federated::sim::{Benchmark, Defense, FedConfig, FedHistory, Federation};
use gradus_optim::{Agm, AgmConfig};

fn data(seed: u64, clients: usize) -> (Vec<Dataset>, Dataset, Dataset) {
    let mut r = rng::seeded(seed);
    let all = synthetic::gaussian_mixture(clients * 40 + 300, 6, 3, 1.0, &mut r).unwrap();
    let server = all.subset(&(clients * 40..clients * 40 + 100).collect::<Vec<_>>()).unwrap();
    let test = all.subset(&(clients * 40 + 100..clients * 40 + 300).collect::<Vec<_>>()).unwrap();
    let train = all.subset(&(0..clients * 40).collect::<Vec<_>>()).unwrap();
    let parts = split::iid(train.len(), clients, &mut r).unwrap();
    (parts.iter().map(|p| train.subset(p).unwrap()).collect(), server, test)
}

fn sgd(l: Layout) -> gradus_core::Result<Agm<f64>> {
    Agm::new("sgd", AgmConfig::sgd(0.1).with_par(Par::Seq), l)
}

fn bits(h: &FedHistory) -> (Vec<u64>, Vec<u64>) {
    (
        h.params.iter().map(|x| x.to_bits()).collect(),
        h.rounds.iter().map(|r| r.accuracy.to_bits()).collect(),
    )
}

#[test]
fn ranks_reproduce_the_simulator() {
    let clients = 10;
    let (sets, server, test) = data(4, clients);
    let fedn = Federation::new(sets.clone(), server.clone(), test.clone()).unwrap();
    let defenses = [
        Defense::Aggregate(Aggregator::Krum(Krum::new(2))),
        Defense::Aggregate(Aggregator::GeometricMedian(Weiszfeld::default())),
        Defense::Aggregate(Aggregator::TrimmedMean { b: 2 }),
        Defense::LshScreen {
            r: 4,
            benchmark: Benchmark::ServerUpdate,
            screen: HammingScreen::default(),
            then: Aggregator::Mean,
        },
        Defense::LshScreen {
            r: 4,
            benchmark: Benchmark::PreviousAggregate,
            screen: HammingScreen::default(),
            then: Aggregator::Mean,
        },
    ];
    for defense in defenses {
        for (attack, frac) in [(Attack::Honest, 0.0), (Attack::SignFlip { scale: 4.0 }, 0.2)] {
            let cfg = FedConfig {
                rounds: 4,
                participants: 7,
                local_steps: 3,
                batch: 8,
                byzantine_fraction: frac,
                attack: attack.clone(),
                defense: defense.clone(),
                seed: 6,
                par: Par::Seq,
                ..FedConfig::default()
            };
            let want = fedn.run(&cfg, sgd).unwrap();
            for ranks in [2, 3] {
                let mesh = Local::mesh(ranks, Duration::from_secs(30)).unwrap();
                let got: Vec<FedHistory> = std::thread::scope(|s| {
                    let hs: Vec<_> = mesh
                        .into_iter()
                        .map(|mut t| {
                            let (sets, server, test, cfg) = (&sets, &server, &test, &cfg);
                            s.spawn(move || {
                                let mine = block(clients, t.ranks(), t.rank());
                                let part = FedPart {
                                    clients,
                                    local: sets[mine].to_vec(),
                                    server: server.clone(),
                                    test: test.clone(),
                                };
                                fed::run(&mut t, &part, cfg, sgd).unwrap()
                            })
                        })
                        .collect();
                    hs.into_iter().map(|h| h.join().unwrap()).collect()
                });
                for (rank, g) in got.iter().enumerate() {
                    let what =
                        format!("{} {} ranks {ranks} rank {rank}", defense.name(), attack.name());
                    assert_eq!(bits(g), bits(&want), "{what}");
                    assert_eq!(g.rounds, want.rounds, "{what}");
                    assert_eq!(g.byzantine, want.byzantine, "{what}");
                }
            }
        }
    }
}

#[test]
fn lshfed_and_bad_parts_are_errors() {
    let (sets, server, test) = data(5, 4);
    let mut t = Local::mesh(1, Duration::from_secs(1)).unwrap().remove(0);
    let part =
        FedPart { clients: 4, local: sets.clone(), server: server.clone(), test: test.clone() };
    let cfg = FedConfig {
        defense: Defense::LshFed {
            r: 4,
            groups: 2,
            grouping: gradus_dist::federated::lshfed::Grouping::RoundRobin,
            score: gradus_dist::federated::lshfed::ReputationScore::Official,
        },
        participants: 2,
        ..FedConfig::default()
    };
    assert!(fed::run(&mut t, &part, &cfg, sgd).is_err());
    let short = FedPart { local: sets[..3].to_vec(), ..part.clone() };
    let cfg = FedConfig { participants: 2, rounds: 1, ..FedConfig::default() };
    assert!(fed::run(&mut t, &short, &cfg, sgd).is_err());
    let h = fed::run(&mut t, &part, &cfg, sgd).unwrap();
    assert_eq!(h.rounds.len(), 1);
}
