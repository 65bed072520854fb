//! The harness: a real server on `127.0.0.1:0` over a real database, driven over HTTP.
//!
//! - [`Engine`]: SQLite in a temp dir, or a fresh PostgreSQL database per test.
//! - [`TestServer`]: start, call, stop; [`engine_tests!`] runs a test on both engines.

use std::path::PathBuf;

use dstack_server::{ServeError, Settings};
use reqwest::StatusCode;
use serde_json::Value;
use sqlx::{Connection, PgConnection};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The admin token every test server starts with.
pub const ADMIN_TOKEN: &str = "test-admin-token";

/// The `DSTACK_SSHPROXY_API_TOKEN` of servers that serve `/api/sshproxy`.
pub const PROXY_TOKEN: &str = "test-sshproxy-token";

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// A file in the test's server dir.
    Sqlite,
    /// A database of its own on the server from `DSTACK_TEST_POSTGRES_URL`.
    Postgres,
}

/// A PostgreSQL database made for one test and dropped after it.
#[derive(Debug)]
pub struct PgDatabase {
    admin_url: String,
    name: String,
    /// The URL of the test's database.
    pub url: String,
}

fn postgres_admin_url() -> String {
    std::env::var("DSTACK_TEST_POSTGRES_URL").unwrap_or_else(|_| {
        panic!(
            "DSTACK_TEST_POSTGRES_URL is not set: the PostgreSQL tests need a server; run \
             scripts/test, which starts one (scripts/setup/20-postgres.sh)"
        )
    })
}

impl PgDatabase {
    /// Creates a uniquely named database.
    pub async fn create() -> Self {
        let admin_url = postgres_admin_url();
        let name = format!("dstack_test_{}", uuid::Uuid::new_v4().simple());
        let mut connection = PgConnection::connect(&admin_url)
            .await
            .unwrap_or_else(|e| panic!("connect to {admin_url}: {e}"));
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut connection)
            .await
            .unwrap_or_else(|e| panic!("create database {name}: {e}"));
        let base = admin_url
            .rsplit_once('/')
            .map_or(admin_url.as_str(), |(base, _)| base);
        let url = format!("{base}/{name}");
        Self {
            admin_url,
            name,
            url,
        }
    }
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        // Drop runs outside async code, so the cleanup gets a runtime of its own.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            runtime.block_on(async {
                let mut connection = PgConnection::connect(&admin_url)
                    .await
                    .map_err(|e| e.to_string())?;
                sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut connection)
                    .await
                    .map_err(|e| e.to_string())
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(_))) {
            eprintln!("could not drop test database {}: {dropped:?}", self.name);
        }
    }
}

/// Where a test server keeps its state; survives restarts of the server.
#[derive(Debug)]
pub struct Storage {
    /// The home directory (`.dstack/` lives here).
    pub home: tempfile::TempDir,
    /// The PostgreSQL database, when the engine is PostgreSQL.
    pub postgres: Option<PgDatabase>,
}

impl Storage {
    /// Fresh storage for `engine`.
    pub async fn new(engine: Engine) -> Self {
        let home = tempfile::tempdir().expect("temp home");
        let postgres = match engine {
            Engine::Sqlite => None,
            Engine::Postgres => Some(PgDatabase::create().await),
        };
        Self { home, postgres }
    }

    /// Settings pointing at this storage.
    pub fn settings(&self) -> Settings {
        let mut settings = Settings::with_home(self.home.path().to_owned());
        settings.admin_token = Some(dstack_server::settings::Secret(ADMIN_TOKEN.to_owned()));
        // These tests check the API alone: runs stay as the API leaves them, and plans offer
        // only fleets (the scheduler and the local backend have end-to-end tests of their own).
        settings.background_processing_disabled = true;
        settings.local_backend_disabled = true;
        settings.database_url = self
            .postgres
            .as_ref()
            .map(|db| dstack_server::settings::Secret(db.url.clone()));
        settings
    }

    /// The URL of the server's database, for tests that read or seed rows directly.
    pub fn database_url(&self) -> String {
        match &self.postgres {
            Some(db) => db.url.clone(),
            None => format!(
                "sqlite://{}",
                self.settings()
                    .server_dir()
                    .join("data/sqlite.db")
                    .display()
            ),
        }
    }

    /// A connection to the server's database.
    pub async fn connect(&self) -> sqlx::AnyConnection {
        use sqlx::Connection;
        sqlx::any::install_default_drivers();
        let url = self.database_url();
        sqlx::AnyConnection::connect(&url)
            .await
            .unwrap_or_else(|e| panic!("connect to {url}: {e}"))
    }

    /// `~/.dstack/config.yml` of this home.
    pub fn client_config(&self) -> PathBuf {
        self.home.path().join(".dstack").join("config.yml")
    }
}

/// A running server.
pub struct TestServer {
    /// Its base URL.
    pub url: String,
    client: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), ServeError>>>,
    /// Its storage; owned here unless the test restarts the server.
    pub storage: Option<Storage>,
}

/// The answer to one call.
#[derive(Debug)]
pub struct Reply {
    /// The status.
    pub status: StatusCode,
    /// The JSON body (`Value::Null` for an empty one).
    pub body: Value,
}

impl TestServer {
    /// Starts a server on fresh storage.
    pub async fn start(engine: Engine) -> Self {
        let storage = Storage::new(engine).await;
        let mut server = Self::start_with(storage.settings()).await;
        server.storage = Some(storage);
        server
    }

    /// Starts a server on fresh storage with `configure` applied to its settings.
    pub async fn start_configured(engine: Engine, configure: impl FnOnce(&mut Settings)) -> Self {
        let storage = Storage::new(engine).await;
        let mut settings = storage.settings();
        configure(&mut settings);
        let mut server = Self::start_with(settings).await;
        server.storage = Some(storage);
        server
    }

    /// Starts a server with `settings`.
    pub async fn start_with(settings: Settings) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(dstack_server::serve(settings, listener, async move {
            let _ = stopped.await;
        }));
        Self {
            url,
            client: dstack_agents::http::plain_client(),
            stop: Some(stop),
            task: Some(task),
            storage: None,
        }
    }

    /// Stops the server and waits for it; returns how it ended.
    pub async fn stop(mut self) -> Result<(), ServeError> {
        self.stop_in_place().await
    }

    async fn stop_in_place(&mut self) -> Result<(), ServeError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.task.take() {
            Some(task) => task.await.expect("server task"),
            None => Ok(()),
        }
    }

    /// Stops the server and hands its storage back, for a restart.
    pub async fn stop_keeping_storage(mut self) -> Storage {
        self.stop_in_place().await.expect("clean stop");
        self.storage.take().expect("storage")
    }

    /// Sends a request as the 0.22.5 CLI does.
    pub async fn send(
        &self,
        path: &str,
        token: Option<&str>,
        version: Option<&str>,
        body: Option<String>,
    ) -> Reply {
        let mut request = self.client.post(format!("{}{path}", self.url));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(version) = version {
            request = request.header("X-API-VERSION", version);
        }
        if let Some(body) = body {
            request = request
                .header("Content-Type", "application/json")
                .body(body);
        }
        let response = request.send().await.expect("request");
        let status = response.status();
        let text = response.text().await.expect("body");
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{path}: non-JSON body {text:?}: {e}"))
        };
        Reply { status, body }
    }

    /// A `GET` of a non-API path, as `token`: the status, the content type and the text.
    pub async fn get_text(&self, path: &str, token: Option<&str>) -> (StatusCode, String, String) {
        let mut request = self.client.get(format!("{}{path}", self.url));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("request");
        let status = response.status();
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        (status, content_type, response.text().await.expect("body"))
    }

    /// A multipart upload of `bytes` as the field `file` named `file_name`, as `token`.
    pub async fn upload(&self, path: &str, token: &str, file_name: &str, bytes: &[u8]) -> Reply {
        let part = reqwest::multipart::Part::bytes(bytes.to_vec()).file_name(file_name.to_owned());
        let form = reqwest::multipart::Form::new().part("file", part);
        let response = self
            .client
            .post(format!("{}{path}", self.url))
            .bearer_auth(token)
            .header("X-API-VERSION", "0.22.5")
            .multipart(form)
            .send()
            .await
            .expect("request");
        let status = response.status();
        let body = response.json().await.expect("a JSON body");
        Reply { status, body }
    }

    /// A call with a JSON body, as `token`.
    pub async fn post(&self, path: &str, token: &str, body: Value) -> Reply {
        self.send(path, Some(token), Some("0.22.5"), Some(body.to_string()))
            .await
    }

    /// A call without a body, as `token`.
    pub async fn post_empty(&self, path: &str, token: &str) -> Reply {
        self.send(path, Some(token), Some("0.22.5"), None).await
    }

    /// A call that must succeed; returns the body.
    pub async fn ok(&self, path: &str, token: &str, body: Value) -> Value {
        let reply = self.post(path, token, body).await;
        assert_eq!(reply.status, StatusCode::OK, "{path}: {}", reply.body);
        reply.body
    }

    /// Creates a user and returns their token.
    pub async fn create_user(&self, name: &str) -> String {
        self.ok(
            "/api/users/create",
            ADMIN_TOKEN,
            serde_json::json!({"username": name, "global_role": "user", "email": null, "active": true}),
        )
        .await;
        let creds = self
            .ok(
                "/api/users/refresh_token",
                ADMIN_TOKEN,
                serde_json::json!({"username": name}),
            )
            .await;
        creds["creds"]["token"].as_str().expect("token").to_owned()
    }

    /// Creates a project as `token`.
    pub async fn create_project(&self, name: &str, token: &str) -> Value {
        self.ok(
            "/api/projects/create",
            token,
            serde_json::json!({"project_name": name, "is_public": false, "templates_repo": null}),
        )
        .await
    }
}

const TRAFFIC: &str = include_str!("../../../core/tests/fixtures/api-traffic-0.22.5.jsonl");

/// The exchanges the 0.22.5 CLI had with the reference server, in order.
pub fn recorded_exchanges() -> Vec<Value> {
    TRAFFIC
        .lines()
        .map(|line| serde_json::from_str(line).expect("a recorded exchange"))
        .collect()
}

/// A pool of its own on the server's database, to write rows as the pipelines will.
pub async fn open_db(server: &TestServer) -> dstack_server::db::Database {
    let settings = server.storage.as_ref().expect("storage").settings();
    let url = settings.database_url.as_ref().map(|url| url.0.clone());
    dstack_server::db::Database::open(url.as_deref(), &settings.server_dir())
        .await
        .expect("open the database")
}

/// The business error body dstack sends with 400.
pub fn business_error(code: &str, reply: &Reply) {
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{}", reply.body);
    assert_eq!(reply.body["detail"][0]["code"], code, "{}", reply.body);
    let keys: Vec<&String> = reply.body["detail"][0]
        .as_object()
        .expect("error item")
        .keys()
        .collect();
    assert_eq!(keys, ["code", "msg"], "{}", reply.body);
}

/// Posts `body` to `path` four times at once as the admin: the unique index must let exactly
/// one create through and answer the others with `resource_exists`.
pub async fn one_of_concurrent_creates_wins(server: &TestServer, path: &str, body: Value) {
    let create = || server.post(path, ADMIN_TOKEN, body.clone());
    // All four requests are in flight at once; the unique index decides.
    let (a, b, c, d) = tokio::join!(create(), create(), create(), create());
    let replies = [a, b, c, d];
    let created = replies
        .iter()
        .filter(|r| r.status == StatusCode::OK)
        .count();
    assert_eq!(created, 1, "{path}: {replies:?}");
    for reply in replies.iter().filter(|r| r.status != StatusCode::OK) {
        business_error("resource_exists", reply);
    }
}

/// Runs each listed `async fn(&TestServer)` against a fresh server on SQLite and on
/// PostgreSQL, as `<test>::sqlite` and `<test>::postgres`.
#[macro_export]
macro_rules! engine_tests {
    ($($test:ident),+ $(,)?) => {$(
        mod $test {
            use $crate::support::{Engine, TestServer};

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let server = TestServer::start(Engine::Sqlite).await;
                super::$test(&server).await;
                server.stop().await.expect("clean stop");
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let server = TestServer::start(Engine::Postgres).await;
                super::$test(&server).await;
                server.stop().await.expect("clean stop");
            }
        }
    )+};
}

/// Runs each listed `async fn(Engine)` once per engine, for tests that manage their own
/// servers (restarts, start-up failures).
#[macro_export]
macro_rules! per_engine {
    ($($test:ident),+ $(,)?) => {$(
        mod $test {
            use $crate::support::Engine;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$test(Engine::Sqlite).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$test(Engine::Postgres).await;
            }
        }
    )+};
}
