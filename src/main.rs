use std::process::ExitCode;

use clap::Parser;
use warroom::cli::{Cli, Cmd, ServeArgs, run_client};
use warroom::server::{ServerConfig, StoreLocation, TokenTable};

fn main() -> ExitCode {
    let cli = Cli::parse();
    if cli.print_default_config {
        print!("{}", warroom::tui::config::DEFAULT_CONFIG);
        return ExitCode::SUCCESS;
    }
    warroom::cli::init_logging(match &cli.command {
        Some(Cmd::Serve(args)) => warroom::cli::LogSetup::Serve(&args.ops),
        None | Some(Cmd::Demo { .. }) => warroom::cli::LogSetup::Console(&cli.console_log),
        Some(_) => warroom::cli::LogSetup::Script,
    });
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
            Some(Cmd::Demo { speed, name }) => {
                let global = warroom::cli::Global {
                    name: name.or(cli.global.name),
                    ..Default::default()
                };
                demo(&global, cli.theme.as_deref(), speed).await
            }
            Some(Cmd::Policy { action }) => warroom::cli::policy(&action),
            // Blocking: the database's client must not run on an async worker.
            Some(Cmd::Token { action }) => {
                tokio::task::spawn_blocking(move || warroom::cli::token(&action))
                    .await
                    .map_err(|e| anyhow::anyhow!("the token command stopped: {e}"))?
            }
            Some(Cmd::Store { action }) => {
                tokio::task::spawn_blocking(move || warroom::cli::store(&action))
                    .await
                    .map_err(|e| anyhow::anyhow!("the copy stopped: {e}"))?
            }
            Some(Cmd::Oncall {
                policy: Some(policy),
                at,
                handoffs,
                ..
            }) => warroom::cli::oncall(&policy, at.as_deref(), handoffs).map(|out| print!("{out}")),
            Some(cmd) => run_client(&cli.global, cmd).await,
            None => {
                warroom::cli::console(&cli.global, cli.theme.as_deref(), cli.policy.as_deref())
                    .await
            }
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

async fn demo(
    global: &warroom::cli::Global,
    theme: Option<&str>,
    speed: f64,
) -> anyhow::Result<()> {
    if !(speed.is_finite() && speed > 0.0) {
        anyhow::bail!("--speed must be a positive number, got {speed}");
    }
    let setup = warroom::cli::console_setup(global, theme);
    let (server, player, _data) = warroom::demo::start(speed).await?;
    let url = server.url();
    let result = warroom::tui::run(warroom::tui::ConsoleOptions {
        url,
        fallbacks: Vec::new(),
        name: setup.name,
        token: None,
        theme: setup.theme,
        keymap: setup.keymap,
        outbox: None,
        warnings: setup.warnings,
        local_feed: Some(Box::new(warroom::cli::HostedFeed::running(server))),
        tls: None,
        bell: setup.bell,
        demo: true,
    })
    .await;
    player.abort();
    result
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let data = match args.data {
        Some(d) => d,
        None => warroom::cli::default_data_dir()?,
    };
    let mut config = ServerConfig::new(args.listen, data);
    if let Some(url) = args.store.as_deref().filter(|u| !u.trim().is_empty()) {
        config.store = StoreLocation::parse(url).map_err(|e| anyhow::anyhow!(e))?;
    }
    if let Some(path) = &args.token_file {
        config.tokens = Some(TokenTable::load(path).map_err(|e| anyhow::anyhow!(e))?);
    }
    let (rules, policy_source) = warroom::cli::load_policy_with_source(args.policy.as_deref())?;
    config.rules = std::sync::Arc::new(rules);
    config.policy_source = policy_source;
    config.intake.token = args.intake_token.clone().filter(|t| !t.is_empty());
    config.intake.pagerduty_secret = args.pagerduty_secret.clone().filter(|t| !t.is_empty());
    if let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) {
        config.tls = Some(warroom::server::TlsFiles {
            cert: cert.clone(),
            key: key.clone(),
        });
    }
    config.allowed_origins = args.allow_origins.clone();
    config.limits.max_connections = args.max_connections;
    config.limits.commands_per_second = args.max_commands_per_second;
    config.limits.command_burst = args.max_commands_per_second.saturating_mul(4);
    config.recent_secs = args.recent_days * 86_400;
    config.checkpoint_every = args.checkpoint_every;
    config.ask_answers_for = std::time::Duration::from_secs(args.ask_answers_for);
    config.advertise = args.advertise.clone();
    config.metrics = args.ops.metrics()?;
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
