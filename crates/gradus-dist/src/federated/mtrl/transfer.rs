//! Transfer to unseen clients (paper 09's meta-test, spec §3): freeze a learned
//! representation and fit only a new head on each new client's few training rows, against
//! the same model trained from scratch on those rows.

use gradus_core::{Par, Result, rng, validate};
use rayon::prelude::*;

use super::client::{ClientWorkspace, HeadFit, LocalSgd, fit_head, score, sgd_epochs};
use super::head::Head;
use super::representation::Representation;
use super::server::Federation;

impl<R: Representation, H: Head> Federation<R, H> {
    /// Each client's test metric after fitting a head from zero on its training rows with
    /// the representation frozen at `rep_params` (client `i` shuffles with
    /// `rng::stream(seed, i)`). Errors on a representation of the wrong length or with
    /// non-finite entries, or invalid `fit` settings.
    pub fn transfer(
        &self,
        rep_params: &[f64],
        fit: &HeadFit,
        seed: u64,
        par: Par,
    ) -> Result<Vec<f64>> {
        validate::same_len("representation parameters", self.rep().num_params(), rep_params.len())?;
        validate::all_finite("representation parameters", rep_params)?;
        fit.validate()?;
        let batch = match fit {
            HeadFit::Sgd(s) => s.batch,
            HeadFit::Exact { .. } => 1,
        };
        self.per_client(batch, par, |c, ws, head_params| {
            let task = &self.clients()[c];
            let mut r = rng::stream(seed, c as u64);
            fit_head(
                self.rep(),
                self.head(),
                rep_params,
                &task.train,
                fit,
                head_params,
                ws,
                &mut r,
            )?;
            score(self.rep(), self.head(), rep_params, head_params, &task.test, ws)
        })
    }

    /// Each client's test metric after training the whole model from scratch on its
    /// training rows: representation from `R::init` and head at zero, then `sgd.epochs` of
    /// joint mini-batch SGD on both (client `i` draws from `rng::stream(seed, i)`).
    pub fn from_scratch(&self, sgd: &LocalSgd, seed: u64, par: Par) -> Result<Vec<f64>> {
        HeadFit::Sgd(*sgd).validate()?;
        self.per_client(sgd.batch, par, |c, ws, head_params| {
            let task = &self.clients()[c];
            let mut r = rng::stream(seed, c as u64);
            let mut rep_params = vec![0.0; self.rep().num_params()];
            self.rep().init(&mut r, &mut rep_params)?;
            let (rep, head) = (self.rep(), self.head());
            sgd_epochs(
                rep,
                head,
                &mut rep_params,
                head_params,
                true,
                &task.train,
                sgd,
                ws,
                &mut r,
            )?;
            score(rep, head, &rep_params, head_params, &task.test, ws)
        })
    }

    /// `f(client, workspace, zeroed head)` for every client, in parallel with one workspace
    /// per rayon task; results in client order.
    fn per_client<F>(&self, batch: usize, par: Par, f: F) -> Result<Vec<f64>>
    where
        F: Fn(usize, &mut ClientWorkspace<H::Target>, &mut [f64]) -> Result<f64> + Sync,
    {
        let hp = self.head().num_params();
        let new_ws = || {
            (ClientWorkspace::new(self.rep(), self.head(), self.max_rows(), batch), vec![0.0; hp])
        };
        let one = |(ws, h): &mut (ClientWorkspace<H::Target>, Vec<f64>), c: usize| {
            h.iter_mut().for_each(|v| *v = 0.0);
            f(c, ws, h)
        };
        let n = self.clients().len();
        if par.is_parallel() {
            (0..n).into_par_iter().map_init(new_ws, one).collect()
        } else {
            let mut w = new_ws();
            (0..n).map(|c| one(&mut w, c)).collect()
        }
    }
}
