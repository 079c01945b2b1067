//! The cases, by area; the macro gives each a test.

mod files;
mod filters;
mod lifecycle;
mod search;
mod writes;

pub use files::*;
pub use filters::*;
pub use lifecycle::*;
pub use search::*;
pub use writes::*;
