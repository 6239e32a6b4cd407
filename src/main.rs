fn main() -> std::process::ExitCode {
    clambake::cli::main()
}
