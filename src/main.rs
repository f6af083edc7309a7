//! Wiring only: see `atalaya::cli`.
fn main() -> std::process::ExitCode {
    atalaya::cli::main()
}
