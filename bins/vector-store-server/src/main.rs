//! `vector-store-server`: see [`vector_store_server::cli`].

fn main() -> std::process::ExitCode {
    vector_store_server::cli::main()
}
