//! Starting a feed: the exposure check, the listening socket, opening the log and reading
//! the live work from it, then the core thread, the notifier, the periodic tasks and the
//! HTTP routes, all wired together.

use std::net::SocketAddr;
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex, RwLock};

use anyhow::{Context, bail};
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use tokio::sync::{broadcast, mpsc, watch};

use super::core::{self, Published};
use super::presence::PresenceBoard;
use super::{
    App, IntakeAuth, OriginPolicy, RunningServer, ServerConfig, StoreLocation, auth, cluster, feed,
    healthz, http, intake, limits, metrics, notify, tls,
};
use crate::store::{EventStore, LogReader, PgStore};

/// Refuses to expose an unauthenticated feed beyond this machine. `has_tokens`: a token file
/// or a token store (`tokens.json` in the data directory).
pub fn check_exposure(listen: &SocketAddr, has_tokens: bool) -> anyhow::Result<()> {
    if !listen.ip().is_loopback() && !has_tokens {
        bail!(
            "refusing to listen on {listen} without tokens: anyone who can reach it could read \
             and change incidents.\n  Give people tokens with `warroom token add NAME --role \
             viewer|responder|admin --data DIR` (stored in DIR/{store}; with --store URL, in \
             the feed's database, for every replica), or create a file with \
             one `name token` line per person (tokens of 16+ characters, e.g. from `openssl \
             rand -hex 16`) and pass --token-file FILE; or listen on 127.0.0.1.",
            store = auth::STORE_FILE
        );
    }
    Ok(())
}

/// Pending connections the kernel keeps for us. The default (128) overflows when every
/// console reconnects at once, and each dropped attempt is retried by the kernel only after
/// 1, 3, 7 or 15 s: a reconnect storm of 1,000 clients had a 7.8 s tail with it.
const LISTEN_BACKLOG: u32 = 4096;

fn bind(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    // As std's listener does: a restarted server can take its port back at once.
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// The log opened, and what a start-up reads from it.
struct Opened {
    store: Box<dyn EventStore>,
    /// The live work.
    state: crate::model::State,
    resume_floor: u64,
    /// Readers of their own for the sessions and the queries.
    reader: Box<dyn LogReader>,
    query_reader: Box<dyn LogReader>,
    feed_id: String,
    /// A shared log: how the cluster's own connections reach its database.
    shared: Option<crate::store::Connect>,
    /// A shared log: the feed's tokens in its database, as read at start.
    shared_tokens: Option<auth::SharedTokens>,
}

/// Opens the log at `location` and reads the live work as of `now` (its latest checkpoint
/// and what follows). Blocking.
fn open_log(
    location: &StoreLocation,
    now: chrono::DateTime<chrono::Utc>,
    recent_secs: u64,
) -> anyhow::Result<Opened> {
    let (store, shared): (Box<dyn EventStore>, Option<crate::store::Connect>) = match location {
        StoreLocation::Sqlite(dir) => (
            location
                .open()
                .with_context(|| format!("opening the event log in {}", dir.display()))?,
            None,
        ),
        // Its errors name the database already.
        StoreLocation::Postgres(url) => {
            let pg = PgStore::open(url)?;
            let connect = pg.connector();
            (Box::new(pg), Some(connect))
        }
    };
    let (state, archived_upto) = crate::store::load_live(store.as_ref(), now, recent_secs)
        .context("reading the live work from the event log")?;
    let resume_floor = store.resume_floor()?.max(archived_upto);
    let shared_tokens = match &shared {
        Some(connect) => Some(auth::first_read(connect, &location.to_string())?),
        None => None,
    };
    tracing::info!(
        events = state.seq,
        live = state.incidents.len(),
        log = %location,
        "the live work read from the event log (its latest checkpoint and what follows)"
    );
    Ok(Opened {
        reader: store.open_reader()?,
        query_reader: store.open_reader()?,
        feed_id: store.feed_id()?,
        store,
        state,
        resume_floor,
        shared,
        shared_tokens,
    })
}

/// Opens the log, rebuilds state from it, binds and starts serving.
pub async fn start(config: ServerConfig) -> anyhow::Result<RunningServer> {
    let auth = auth::Auth::new(
        config.tokens.clone(),
        &config.data_dir,
        !config.listen.ip().is_loopback(),
    )?;
    // On a shared log the database's tokens count too: they are read with the log.
    if let StoreLocation::Sqlite(_) = config.store {
        check_exposure(&config.listen, auth.has_tokens())?;
    }
    let origins = OriginPolicy::new(&config.allowed_origins).map_err(|e| anyhow::anyhow!(e))?;
    let tls = match &config.tls {
        Some(files) => Some(crate::tls::server_config(&files.cert, &files.key)?),
        None => None,
    };
    if tls.is_none() && !config.listen.ip().is_loopback() {
        tracing::warn!(
            "listening on {} without TLS: tokens, incidents and notes cross the network in \
             clear; pass --tls-cert FILE --tls-key FILE to serve wss://",
            config.listen
        );
    }
    // Bind first: a taken port is found at once, before the log is opened and folded.
    let listener =
        bind(config.listen).with_context(|| format!("cannot listen on {}", config.listen))?;
    // The backend is chosen here, and only here: the core works through the trait. The log
    // is read off the async workers (a PostgreSQL client must never block one).
    let location = config.store.clone();
    let (now, recent_secs) = (config.clock.now(), config.recent_secs);
    let Opened {
        store,
        state,
        resume_floor,
        reader,
        query_reader,
        feed_id,
        shared,
        shared_tokens,
    } = tokio::task::spawn_blocking(move || open_log(&location, now, recent_secs))
        .await
        .context("opening the event log")??;
    let auth = Arc::new(match shared_tokens {
        Some(tokens) => {
            let auth = auth.with_source(auth::TokenSource::Database(Arc::new(tokens)));
            let own = auth.directory_tokens();
            if own > 0 {
                tracing::warn!(
                    "{} holds {own} active token(s) that only this replica knows: the feed's \
                     tokens are kept in its database, the same for every replica (warroom \
                     token add NAME --role ROLE --store URL)",
                    auth::TokenStore::path(&config.data_dir).display()
                );
            }
            auth
        }
        None => auth,
    });
    check_exposure(&config.listen, auth.has_tokens())?;
    let token_db = shared.clone();
    let (events_tx, _) = broadcast::channel(config.limits.broadcast_capacity);
    let published = Arc::new(Published {
        state: RwLock::new(state.clone()),
        events: events_tx,
        commits: Default::default(),
        resume_floor: resume_floor.into(),
        recent_secs,
    });
    let (cmd_tx, cmd_rx) = mpsc::channel(config.limits.command_queue);
    let metrics = metrics::Metrics::new(!config.metrics.disabled);
    let core_clock = config.clock.clone();
    let (deliver_tx, deliver_rx) = mpsc::unbounded_channel();
    let addr = listener.local_addr()?;
    let scheme = if tls.is_some() { "wss" } else { "ws" };
    let own_url = format!("{scheme}://{addr}/feed");
    // On a shared log this replica starts as a follower; it takes the lead (and with it the
    // deliveries nobody made) if no one holds it.
    let cluster = shared.map(|connect| {
        let health = Arc::new(cluster::Health::default());
        let forwarder = cluster::Forwarder::start(connect.clone());
        let advertise = config.advertise.clone().unwrap_or_else(|| own_url.clone());
        let public_policy =
            serde_json::to_string(&config.rules.public_policy()).unwrap_or_default();
        let link = cluster::Link::new(
            connect.clone(),
            advertise,
            (config.policy_source.clone(), public_policy),
            health.clone(),
            forwarder.clone(),
        );
        (connect, health, forwarder, link)
    });
    let pending = match cluster {
        Some(_) => Vec::new(),
        None => notify::undelivered(&state, &config.rules, config.clock.now()),
    };
    let (link, cluster) = match cluster {
        Some((connect, health, forwarder, link)) => {
            (Some(link), Some((connect, health, forwarder)))
        }
        None => (None, None),
    };
    let the_core = core::Core {
        store,
        state,
        published: published.clone(),
        rules: config.rules.clone(),
        deliveries: deliver_tx,
        archive: Default::default(),
        checkpoint_every: config.checkpoint_every.max(1),
        leading: link.is_none(),
        link,
        metrics: metrics.clone(),
        ask_answers_until: std::time::Instant::now() + config.ask_answers_for,
        ask_answers_for: config.ask_answers_for,
    };
    let core = std::thread::Builder::new()
        .name("warroom-core".into())
        .spawn(move || core::run(the_core, core_clock, cmd_rx))
        .context("starting the core thread")?;
    let presence_db = cluster.as_ref().map(|(connect, ..)| connect.clone());
    let forwarder = cluster.as_ref().map(|(_, _, forwarder)| forwarder.clone());
    let health = cluster.map(|(connect, health, forwarder)| {
        cluster::spawn_listener(
            connect,
            cmd_tx.downgrade(),
            forwarder,
            health.clone(),
            published.clone(),
        );
        health
    });
    // Steps whose time passed while the server was down fire now, marked late, before
    // anyone is served.
    let (started_tx, started_rx) = tokio::sync::oneshot::channel();
    let _ = cmd_tx.send(core::CoreInput::Tick(Some(started_tx))).await;
    let _ = started_rx.await;
    tokio::spawn(notify::run(
        config.rules.clone(),
        feed_id.clone(),
        config.notify_backoff,
        cmd_tx.downgrade(),
        deliver_rx,
        pending,
        metrics.clone(),
    ));

    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let core_handle = cmd_tx.downgrade();
    let ticker = cmd_tx.downgrade();
    let policy_frame = crate::protocol::encode(&crate::protocol::ServerMessage::Policy {
        policy: config.rules.public_policy(),
    })
    .into();
    let app = Arc::new(App {
        published,
        commands: cmd_tx,
        reader: Arc::new(Mutex::new(reader)),
        query_reader: Arc::new(Mutex::new(query_reader)),
        archive: Default::default(),
        rules: config.rules.clone(),
        feed_id,
        policy_frame,
        policy_source: config.policy_source.clone(),
        presence: PresenceBoard::default(),
        clock: config.clock.clone(),
        auth: auth.clone(),
        shutdown: shutdown_rx.clone(),
        connections: AtomicUsize::new(0),
        intake_rate: std::sync::Mutex::new(limits::RateLimiter::with_rate(
            config.limits.intake_per_second,
            config.limits.intake_burst,
            u32::MAX,
        )),
        limits: config.limits.clone(),
        intake: IntakeAuth {
            exposed: config.intake.exposed || !config.listen.ip().is_loopback(),
            ..config.intake.clone()
        },
        origins,
        cluster: health,
        forwarder,
        own_url,
        metrics: metrics.clone(),
        metrics_config: config.metrics.clone(),
    });
    if let Some(connect) = presence_db {
        cluster::spawn_presence(connect, uuid::Uuid::new_v4().to_string(), app.clone());
    }
    // The database's tokens are read again on every change, and every second.
    if let Some(connect) = token_db {
        auth::spawn_token_reader(connect, auth.clone(), shutdown_rx.clone());
    }
    // The token store is looked at every `token_check_every` (handshakes look at it too):
    // sessions of a revoked token are closed.
    let mut check_stop = shutdown_rx.clone();
    let check_every = config.token_check_every;
    let checker = auth.clone();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(check_every) => {}
                _ = check_stop.wait_for(|s| *s) => return,
            }
            checker.refresh();
        }
    });
    // Presence changes that wait for their interval are published by this task.
    let presence_app = app.clone();
    let presence_stop = shutdown_rx.clone();
    tokio::spawn(async move { presence_app.presence.publish_later(presence_stop).await });
    // The engine looks at the clock every `tick_every`; commands trigger it as well.
    let mut tick_stop = shutdown_rx.clone();
    let every = config.tick_every;
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = tick_stop.wait_for(|s| *s) => return,
            }
            let Some(tx) = ticker.upgrade() else { return };
            if tx.send(core::CoreInput::Tick(None)).await.is_err() {
                return;
            }
        }
    });
    let metrics_addr = metrics::listener(&app, shutdown_rx.clone()).await?;
    let router = Router::new()
        .route("/feed", get(feed))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics::serve_metrics))
        .merge(
            Router::new()
                .route("/webhook/alertmanager", post(intake::alertmanager))
                .route("/webhook/pagerduty", post(intake::pagerduty))
                .route("/v2/enqueue", post(intake::enqueue))
                .route("/webhook/deploy", post(super::deploys::deploy))
                .route_layer(axum::middleware::from_fn_with_state(
                    app.clone(),
                    limits::limit_intake,
                )),
        )
        .layer(DefaultBodyLimit::max(intake::MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            limits::limit_head,
        ))
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            metrics::count_requests,
        ))
        .with_state(app);
    let scheme = if tls.is_some() { "wss" } else { "ws" };
    tracing::info!("listening on {scheme}://{addr}/feed");
    let stop = shutdown_rx;
    let limits = config.limits.clone();
    let served_tls = tls.is_some();
    let task = tokio::spawn(async move {
        match tls {
            Some(tls) => {
                let listener = tls::TlsListener::new(listener, tls)?;
                http::serve(listener, router, &limits, stop).await
            }
            None => {
                // Frames are small and answered at once: without TCP_NODELAY, Nagle's
                // algorithm and delayed acknowledgements add ~40 ms to every command.
                let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
                    if let Err(e) = tcp.set_nodelay(true) {
                        tracing::debug!("TCP_NODELAY on an incoming connection: {e}");
                    }
                });
                http::serve(listener, router, &limits, stop).await
            }
        }
        .context("serving")?;
        // Every session has closed and dropped its command sender; the core drains and exits.
        tokio::task::spawn_blocking(move || core.join())
            .await
            .context("joining the core")?
            .map_err(|_| anyhow::anyhow!("the core thread panicked"))?;
        tracing::info!("stopped");
        Ok(())
    });
    Ok(RunningServer {
        addr,
        shutdown: shutdown_tx,
        task,
        core: core_handle,
        auth,
        tls: served_tls,
        metrics_addr,
    })
}
