//! Compression with error feedback (paper 06: Thomsen, Taylor, Dieuleveut, "Tight analyses of
//! first-order methods with error feedback").
//!
//! - Compressors ([`Compressor`], each with its [`Class`] and wire size): [`TopK`],
//!   [`RandK`], [`ScaledSign`], [`Qsgd`], [`NaturalDithering`], [`NaturalCompression`],
//!   [`Identity`], [`ScaledIdentity`], and the compositions [`Scaled`], [`Induced`], [`Chain`].
//! - Compression with feedback for one agent: [`Compressed`], a wrapper over any
//!   [`gradus_optim::Optimizer`] generic over the compressor and the [`Feedback`] rule
//!   ([`NoFeedback`], [`ErrorFeedback`], [`Ef21Feedback`]), so EF21 with Adam is
//!   `Compressed::wrap(Agm::adam(layout, lr)?, compressor, Ef21Feedback::new(init), seed)`.
//!   Paper 06's methods are its named instances over SGD: [`Cgd`], [`Ef`], [`Ef21`].
//! - For `n` workers and a server: [`Cluster`], an [`gradus_core::Objective`] whose gradient
//!   is the server's aggregated direction.
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
