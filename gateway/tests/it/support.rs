//! Test helpers: fresh databases (a temporary SQLite file, or a fresh
//! PostgreSQL schema when `TEST_DATABASE_URL` is set), apps and requests.

use axum::body::Body;
use axum::http::{Request, Response};
use gateway::config::Config;
use gateway::{AppState, Db};
use http_body_util::BodyExt;
use tower::ServiceExt;

/// A database for one test; drops its files or schema when done.
pub struct TestDb {
    pub db: Db,
    pub config: Config,
    cleanup: Cleanup,
}

enum Cleanup {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres { admin_url: String, schema: String },
}

impl TestDb {
    /// Drops the PostgreSQL schema (SQLite files go with the temp dir).
    pub async fn finish(self) {
        self.db.close().await;
        if let Cleanup::Postgres { admin_url, schema } = self.cleanup {
            let admin = sqlx::PgPool::connect(&admin_url).await.unwrap();
            sqlx::query(&format!("DROP SCHEMA IF EXISTS \"{schema}\" CASCADE"))
                .execute(&admin)
                .await
                .unwrap();
            admin.close().await;
        }
    }
}

/// A migrated SQLite database in a new temporary directory.
pub async fn sqlite() -> TestDb {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::default();
    config.database.url = format!("sqlite://{}", dir.path().join("gateway.db").display());
    let db = Db::connect(&config.database).await.unwrap();
    db.migrate().await.unwrap();
    TestDb {
        db,
        config,
        cleanup: Cleanup::Sqlite(dir),
    }
}

/// The PostgreSQL server's URL, or `None` with a printed reason. In CI an
/// unset `TEST_DATABASE_URL` is an error: CI must not skip these tests.
pub fn postgres_url() -> Option<String> {
    match std::env::var("TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var_os("CI").is_none(),
                "TEST_DATABASE_URL must be set in CI: PostgreSQL tests may not be skipped there"
            );
            eprintln!("skipped: TEST_DATABASE_URL is unset, so this PostgreSQL test cannot run");
            None
        }
    }
}

/// A migrated PostgreSQL database in a fresh schema of its own, or `None`
/// (with a printed reason) when no server is configured.
pub async fn postgres() -> Option<TestDb> {
    let admin_url = postgres_url()?;
    let schema = format!("gwtest_{}", uuid::Uuid::new_v4().simple());
    let admin = sqlx::PgPool::connect(&admin_url).await.unwrap();
    sqlx::query(&format!("CREATE SCHEMA \"{schema}\""))
        .execute(&admin)
        .await
        .unwrap();
    admin.close().await;
    let separator = if admin_url.contains('?') { '&' } else { '?' };
    let mut config = Config::default();
    // Every connection of the pool starts in the test's own schema.
    config.database.url = format!("{admin_url}{separator}options=-c%20search_path%3D{schema}");
    let db = Db::connect(&config.database).await.unwrap();
    db.migrate().await.unwrap();
    Some(TestDb {
        db,
        config,
        cleanup: Cleanup::Postgres { admin_url, schema },
    })
}

/// An app on a fresh SQLite database with default settings.
pub async fn app() -> (axum::Router, AppState, TestDb) {
    let test_db = sqlite().await;
    let state = AppState::new(test_db.db.clone(), test_db.config.clone());
    (gateway::app(state.clone()), state, test_db)
}

/// Sends one request through the router.
pub async fn send(app: &axum::Router, request: Request<Body>) -> Response<Body> {
    app.clone().oneshot(request).await.unwrap()
}

/// The body as JSON.
pub async fn json(response: Response<Body>) -> serde_json::Value {
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    serde_json::from_slice(&bytes)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&bytes)))
}

/// The body as text.
pub async fn text(response: Response<Body>) -> String {
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8(bytes.to_vec()).unwrap()
}

pub fn get(uri: &str) -> Request<Body> {
    Request::get(uri).body(Body::empty()).unwrap()
}

/// The `gateway` binary as a command run in `dir`, with a clean
/// environment: no `RUST_LOG` and no `GATEWAY_*` setting of the test run.
pub fn gateway_command(dir: &std::path::Path) -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_gateway"));
    command.current_dir(dir).env_remove("RUST_LOG");
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("GATEWAY_") {
            command.env_remove(key);
        }
    }
    command
}

/// The CSRF token in a page's form.
pub fn csrf_of(html: &str) -> String {
    let marker = "name=\"csrf\" value=\"";
    let start = html.find(marker).expect("a form with a CSRF token") + marker.len();
    html[start..]
        .split('"')
        .next()
        .unwrap_or_default()
        .to_owned()
}
