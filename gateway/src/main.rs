//! The `gateway` binary. See `gateway --help`.

use std::process::ExitCode;

use clap::Parser;
use gateway::cli::Cli;

/// mimalloc instead of the C library's allocator: the gateway allocates
/// many short-lived small buffers per request (headers, JSON), where glibc's
/// malloc took about 15 % of its CPU under load (docs/src/performance.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(gateway::run::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("error: {failure}");
            failure.exit_code()
        }
    }
}
