use gradus_core::rng;
use gradus_graph::env::{ModelPool, SimEnv, TaskProfile};
use gradus_graph::optimise::{AgentReinforce, HeuristicAgent, RandomSearch, Reinforce, SearchConfig, fixed};
use gradus_graph::{Environment, Graph, GraphDistribution, GraphSpace, Role, search};
use gradus_optim::Agm;

fn main() {
    let space = GraphSpace::new(4, 8, 2, 3).unwrap();
    for task in TaskProfile::all() {
        let env = SimEnv::new(ModelPool::open_2024(), task.clone(), 100, 2000, 1).unwrap();
        let unit = env.cost_model().call_flops(0, 1, 0);
        println!("== {} unit {:.3e}", task.name, unit);
        if false { for (f, s) in [(0, 0), (0, 1), (1, 0), (0, 2), (1, 1)] {
            let par: Vec<String> = [1, 2, 4, 8, 16].iter().map(|&n| format!("{:.3}", env.reference(&Graph::parallel(f, s, n).unwrap()).unwrap().accuracy)).collect();
            let ch: Vec<String> = [1, 2, 3, 4, 6, 8].iter().map(|&n| format!("{:.3}", env.reference(&Graph::chain(f, s, n).unwrap()).unwrap().accuracy)).collect();
            println!("{:>14} par {:?} chain {:?} cost {:.2}", env.model_name(f, s), par, ch, env.cost_model().call_flops(f, s, 0) / unit);
        }
        for role in [Role::Refine, Role::Aggregate] {
            for w in [1, 2, 4, 8] {
                let row: Vec<String> = (1..=4).map(|d| { let g = Graph::grid(0, 1, w, d, role).unwrap(); format!("{:.3}/{:.1}", env.reference(&g).unwrap().accuracy, env.cost_model().flops(&g).unwrap() / unit) }).collect();
                println!("  grid {role:?} w{w}: {row:?}");
            }
        }
        }
        let dist = GraphDistribution::uniform(&space);
        for k in [4.0, 8.0, 16.0, 32.0] {
            let mut g = Graph::default();
            let mut r = rng::seeded(1);
            let n = 20000;
            let ok = (0..n).filter(|_| { dist.sample(&mut r, &mut g); env.cost_model().flops(&g).unwrap() <= k * unit }).count();
            let fx = fixed::all(&env, &space, k * unit).unwrap();
            let best = fx.iter().max_by(|a, b| a.reference.accuracy.total_cmp(&b.reference.accuracy)).unwrap();
            println!("  budget {k}: feasible {:.3}; best fixed {} {:.3}", ok as f64 / n as f64, best.graph.describe(|f, s| env.model_name(f, s)), best.reference.accuracy);
            if k == 4.0 || k == 16.0 {
                for seed in 0..3 {
                    let cfg = SearchConfig::new(k * unit, 400, 8, seed);
                    let t0 = std::time::Instant::now();
                    let r1 = search(&mut RandomSearch::new(&space), &env, &cfg).unwrap();
                    let opt = Agm::<f64>::adam(space.layout().unwrap(), 0.1).unwrap();
                    let r2 = search(&mut Reinforce::new(&space, opt, 20.0).unwrap(), &env, &cfg).unwrap();
                    let r3 = search(&mut AgentReinforce::new(&space, HeuristicAgent::default(), 20.0).unwrap(), &env, &cfg).unwrap();
                    let at = |r: &gradus_graph::SearchResult, n: usize| r.curve[n - 1];
                    println!("   seed {seed} ({:.2}s): random {:.3} {:.3} {:.3} | reinforce {:.3} {:.3} {:.3} | agent {:.3} {:.3} {:.3}", t0.elapsed().as_secs_f64(),
                        at(&r1, 50), at(&r1, 100), at(&r1, 400), at(&r2, 50), at(&r2, 100), at(&r2, 400), at(&r3, 50), at(&r3, 100), at(&r3, 400));
                    println!("     agent best: {}", r3.best.describe(|f, s| env.model_name(f, s)));
                    println!("     reinf best: {}", r2.best.describe(|f, s| env.model_name(f, s)));
                }
            }
        }
    }
}
