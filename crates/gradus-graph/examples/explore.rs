use gradus_graph::env::{ModelPool, SimEnv, TaskProfile};
use gradus_graph::optimise::{AgentReinforce, HeuristicAgent, Reinforce, SearchConfig};
use gradus_graph::{Environment, GraphSpace, search};
use gradus_optim::Agm;

fn main() {
    let space = GraphSpace::new(4, 8, 2, 3).unwrap();
    for task in TaskProfile::all() {
        let env = SimEnv::new(ModelPool::open_2024(), task.clone(), 100, 1000, 1).unwrap();
        let unit = env.cost_model().call_flops(0, 1, 0);
        for k in [4.0, 16.0] {
            let mut line = format!("{} {k}:", task.name);
            for lr in [0.03, 0.1, 0.3, 1.0] {
                let mut acc = [0.0; 3];
                for seed in 0..8 {
                    let cfg = SearchConfig::new(k * unit, 400, 8, seed);
                    let opt = Agm::<f64>::adam(space.layout().unwrap(), lr).unwrap();
                    let r = search(&mut Reinforce::new(&space, opt, 20.0).unwrap(), &env, &cfg).unwrap();
                    for (i, n) in [50, 100, 400].iter().enumerate() { acc[i] += r.curve[n - 1] / 8.0; }
                }
                line += &format!(" | adam {lr}: {:.3} {:.3} {:.3}", acc[0], acc[1], acc[2]);
            }
            for step in [0.3, 0.5, 0.8] {
                let mut acc = [0.0; 3];
                for seed in 0..8 {
                    let cfg = SearchConfig::new(k * unit, 400, 8, seed);
                    let a = HeuristicAgent { step, ..HeuristicAgent::default() };
                    let r = search(&mut AgentReinforce::new(&space, a, 20.0).unwrap(), &env, &cfg).unwrap();
                    for (i, n) in [50, 100, 400].iter().enumerate() { acc[i] += r.curve[n - 1] / 8.0; }
                }
                line += &format!(" | agent {step}: {:.3} {:.3} {:.3}", acc[0], acc[1], acc[2]);
            }
            println!("{line}");
        }
    }
}
