use std::process::ExitCode;

use clap::Parser;
use warroom::cli::{Cli, Cmd, ServeArgs, run_client};
use warroom::server::{ServerConfig, TokenTable};

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(matches!(cli.command, Some(Cmd::Serve(_))));
    let rt = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("warroom: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = rt.block_on(async move {
        match cli.command {
            Some(Cmd::Serve(args)) => serve(args).await,
            Some(cmd) => run_client(&cli.global, cmd).await,
            None => warroom::cli::console_unavailable(&cli.global),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("warroom: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(server: bool) {
    use tracing_subscriber::EnvFilter;
    let default = if server { "info" } else { "warn" };
    let filter = EnvFilter::try_from_env("WARROOM_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let data = match args.data {
        Some(d) => d,
        None => warroom::cli::default_data_dir()?,
    };
    let mut config = ServerConfig::new(args.listen, data);
    if let Some(path) = &args.token_file {
        config.tokens = Some(TokenTable::load(path).map_err(|e| anyhow::anyhow!(e))?);
    }
    let server = warroom::server::start(config).await?;
    let stop = server.stopper();
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutting down");
        let _ = stop.send(true);
    });
    server.wait().await
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
