//! Compression with error feedback (paper 06: Thomsen, Taylor, Dieuleveut, "Tight analyses of
//! first-order methods with error feedback").
//!
//! - Compressors ([`Compressor`], each with its [`Class`] and wire size): [`TopK`],
//!   [`RandK`], [`ScaledSign`], [`Qsgd`], [`NaturalDithering`], [`NaturalCompression`],
//!   [`Identity`], [`ScaledIdentity`], and the compositions [`Scaled`], [`Induced`], [`Chain`].
//! - Methods for one agent as [`gradus_optim::Optimizer`]s: [`Cgd`], [`Ef`], [`Ef21`]; for
//!   `n` workers and a server: [`Cluster`], an [`gradus_core::Objective`] whose gradient is
//!   the server's aggregated direction.
//! - Theory: [`theory`] (tight rates and optimal steps), [`lyapunov`] (the optimal Lyapunov
//!   functions), [`worst_case`] (exact and searched worst cases over quadratics).

mod cluster;
mod compose;
mod compressed;
mod compressor;
mod feedback;
mod identity;
mod link;
pub mod lyapunov;
mod method;
mod named;
mod quantize;
mod randk;
mod scalar;
mod sign;
pub mod theory;
mod topk;
pub mod worst_case;

#[doc(hidden)]
pub mod fuzzing;

pub use cluster::Cluster;
pub use compose::{Chain, Induced, Scaled};
pub use compressed::Compressed;
pub use compressor::{Class, Compressor, Message, index_bits, message_bits};
pub use feedback::{Ef21Feedback, Ef21Settings, EfSettings, ErrorFeedback, Feedback, NoFeedback};
pub use identity::{Identity, ScaledIdentity};
pub use method::{Ef21Init, Method};
pub use named::{Cgd, Ef, Ef21};
pub use quantize::{NaturalCompression, NaturalDithering, Qsgd};
pub use randk::RandK;
pub use scalar::WireScalar;
pub use sign::ScaledSign;
pub use theory::FunctionClass;
pub use topk::TopK;
