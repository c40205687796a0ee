//! One preconditioned block ("tile") of a matrix parameter: its Kronecker factors, their
//! inverse roots, and the scratch its update needs, all allocated once.

use faer::linalg::matmul::matmul;
use faer::{Accum, Mat, MatMut, MatRef};
use gradus_core::{Error, Par, Result};
use gradus_linalg::{RootParams, RootWorkspace, inverse_root};

/// Runs `a` and `b`, side by side with `Par::Rayon`.
fn both<A: Send, B: Send>(
    par: Par,
    a: impl FnOnce() -> A + Send,
    b: impl FnOnce() -> B + Send,
) -> (A, B) {
    if par.is_parallel() { rayon::join(a, b) } else { (a(), b()) }
}

/// `dst = a b` as two products over the halves of the columns of `b` and `dst`.
fn split_columns_product(dst: MatMut<'_, f64>, a: MatRef<'_, f64>, b: MatRef<'_, f64>, par: Par) {
    let half = b.ncols() / 2;
    let (d0, d1) = dst.split_at_col_mut(half);
    let (b0, b1) = b.split_at_col(half);
    both(
        par,
        move || matmul(d0, Accum::Replace, a, b0, 1.0, faer::Par::Seq),
        move || matmul(d1, Accum::Replace, a, b1, 1.0, faer::Par::Seq),
    );
}

/// A tile: rows `row0..row0+rows`, columns `col0..col0+cols` of the layout block at `offset`
/// (row-major with `stride` columns).
pub(crate) struct Tile {
    pub offset: usize,
    pub stride: usize,
    pub row0: usize,
    pub col0: usize,
    /// Left statistic `L` (rows x rows) and right statistic `R` (cols x cols).
    pub left: Mat<f64>,
    pub right: Mat<f64>,
    /// `L^{-1/p}`, `R^{-1/p}` (identity until first computed).
    pub left_root: Mat<f64>,
    pub right_root: Mat<f64>,
    /// Whether roots have been computed at least once.
    pub has_roots: bool,
    ws_left: RootWorkspace<f64>,
    ws_right: RootWorkspace<f64>,
    /// Scratch: the gradient tile, products, and candidate statistics.
    pub g: Mat<f64>,
    pub tmp: Mat<f64>,
    pub dir: Mat<f64>,
    new_left: Mat<f64>,
    new_right: Mat<f64>,
    root_scratch_l: Mat<f64>,
    root_scratch_r: Mat<f64>,
}

fn identity(n: usize) -> Mat<f64> {
    Mat::from_fn(n, n, |i, j| if i == j { 1.0 } else { 0.0 })
}

impl Tile {
    pub fn new(
        offset: usize,
        stride: usize,
        row0: usize,
        col0: usize,
        rows: usize,
        cols: usize,
    ) -> Self {
        let z = |r, c| Mat::zeros(r, c);
        Tile {
            offset,
            stride,
            row0,
            col0,
            left: z(rows, rows),
            right: z(cols, cols),
            left_root: identity(rows),
            right_root: identity(cols),
            has_roots: false,
            ws_left: RootWorkspace::new(rows, Par::Seq),
            ws_right: RootWorkspace::new(cols, Par::Seq),
            g: z(rows, cols),
            tmp: z(rows, cols),
            dir: z(rows, cols),
            new_left: z(rows, rows),
            new_right: z(cols, cols),
            root_scratch_l: z(rows, rows),
            root_scratch_r: z(cols, cols),
        }
    }

    pub fn rows(&self) -> usize {
        self.g.nrows()
    }

    pub fn cols(&self) -> usize {
        self.g.ncols()
    }

    /// Flat index of tile entry `(i, j)`.
    #[inline]
    pub fn index(&self, i: usize, j: usize) -> usize {
        self.offset + (self.row0 + i) * self.stride + self.col0 + j
    }

    /// Copies the tile of `grads` (scaled) into `self.g`.
    pub fn load_grad<T: gradus_core::Scalar>(&mut self, grads: &[T], scale: f64) {
        for i in 0..self.rows() {
            for j in 0..self.cols() {
                self.g[(i, j)] = grads[self.index(i, j)].to_f64() * scale;
            }
        }
    }

    /// Candidate statistics `beta2 S + w G G^T` (and `G^T G`) into scratch; errors if they are
    /// not finite (the caller then leaves the state untouched).
    /// With `par`, the two products run side by side (each is the same sequential product
    /// either way, so the result does not depend on it).
    pub fn stage_statistics(&mut self, beta2: f64, par: Par) -> Result<()> {
        let w = if beta2 == 1.0 { 1.0 } else { 1.0 - beta2 };
        let g = self.g.as_ref();
        let (nl, nr) = (self.new_left.as_mut(), self.new_right.as_mut());
        let left = move || matmul(nl, Accum::Replace, g, g.transpose(), w, faer::Par::Seq);
        let right = move || matmul(nr, Accum::Replace, g.transpose(), g, w, faer::Par::Seq);
        both(par, left, right);
        // new = beta2 * old + w G G^T (faer's Accum::Add would scale old by 1; do it by hand).
        let (r, c) = (self.rows(), self.cols());
        for j in 0..r {
            for i in 0..r {
                self.new_left[(i, j)] += beta2 * self.left[(i, j)];
            }
        }
        for j in 0..c {
            for i in 0..c {
                self.new_right[(i, j)] += beta2 * self.right[(i, j)];
            }
        }
        if !self.new_left.as_ref().is_all_finite() || !self.new_right.as_ref().is_all_finite() {
            return Err(self.statistics_error());
        }
        Ok(())
    }

    /// The error of a non-finite staged statistic in this tile.
    pub fn statistics_error(&self) -> Error {
        Error::NonFinite { what: "Shampoo statistics", index: self.offset }
    }

    /// Makes the staged statistics current.
    pub fn commit_statistics(&mut self) {
        std::mem::swap(&mut self.left, &mut self.new_left);
        std::mem::swap(&mut self.right, &mut self.new_right);
    }

    /// Recomputes both roots; on failure keeps the previous ones and returns how many failed.
    /// With `par`, the two roots are computed side by side (each sequentially, so the result
    /// does not depend on it).
    pub fn refresh_roots(&mut self, params: &RootParams, par: Par) -> u32 {
        let (l, sl, wl) = (self.left.as_ref(), self.root_scratch_l.as_mut(), &mut self.ws_left);
        let (r, sr, wr) = (self.right.as_ref(), self.root_scratch_r.as_mut(), &mut self.ws_right);
        let (ok_l, ok_r) = both(
            par,
            move || inverse_root(l, sl, params, wl).is_ok(),
            move || inverse_root(r, sr, params, wr).is_ok(),
        );
        if ok_l {
            std::mem::swap(&mut self.left_root, &mut self.root_scratch_l);
        }
        if ok_r {
            std::mem::swap(&mut self.right_root, &mut self.root_scratch_r);
        }
        self.has_roots = true;
        u32::from(!ok_l) + u32::from(!ok_r)
    }

    /// `dir = L^{-1/p} G R^{-1/p}`. Each product is cut into the same two column halves
    /// whatever `par` says (with `par` they run side by side), so the result does not depend
    /// on it.
    pub fn precondition(&mut self, par: Par) {
        split_columns_product(self.tmp.as_mut(), self.left_root.as_ref(), self.g.as_ref(), par);
        split_columns_product(self.dir.as_mut(), self.tmp.as_ref(), self.right_root.as_ref(), par);
    }

    /// Read access for the state writer.
    pub fn matrices(&self) -> [MatRef<'_, f64>; 4] {
        [self.left.as_ref(), self.right.as_ref(), self.left_root.as_ref(), self.right_root.as_ref()]
    }

    /// Write access for the state loader.
    pub fn matrices_mut(&mut self) -> [&mut Mat<f64>; 4] {
        [&mut self.left, &mut self.right, &mut self.left_root, &mut self.right_root]
    }
}
