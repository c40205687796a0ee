use faer::traits::RealField;
use gradus_core::Scalar;

/// A real scalar usable both by gradus (`Scalar`) and by faer (`RealField`): `f32` or `f64`.
pub trait LinalgScalar: Scalar + RealField {}

impl<T: Scalar + RealField> LinalgScalar for T {}
