//! The server's command line, built with this package so that its integration tests can start
//! it as a process of its own (crash tests) and as the text-extraction sandbox.

fn main() -> std::process::ExitCode {
    vector_store_server::cli::main()
}
