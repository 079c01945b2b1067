//! The embedders end to end: the built-in model against reference vectors made by the reference
//! implementation, the static model (potion-base-8M), and the HTTP client against a local fake
//! server.

mod late;
mod local;
mod openai;
mod static_model;
