//! Test support (feature `testing`): a real PostgreSQL per test run, a fresh database
//! per test, and API Gateway HTTP API (payload 2.0) events.
//!
//! `TEST_DATABASE_URL` (a role that may create databases) is used when set. Otherwise
//! the first test starts a throwaway cluster with the system's `initdb`/`postgres`, as
//! the `postgres` user when running as root; a shell guard stops it and deletes its
//! files when the test process exits, however it exits.

use crate::AppState;
use crate::config::{AuthConfig, Config, DatabaseConfig, HttpConfig, Secret};
use lambda_http::{Body, Request, Response};
use serde_json::{Value, json};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};
use tokio::sync::OnceCell;

pub const TEST_SECRET: &str = "test-secret-0123456789-abcdefghijklmnop";

/// Two users' subjects, and a task id nobody has.
pub const ANN: &str = "6f9619ff-8b86-d011-b42d-00c04fc964ff";
pub const BOB: &str = "0b8c5ae4-2f5b-4c7e-9a53-1f1f0fd1d2a1";
pub const MISSING: &str = "00000000-0000-4000-8000-000000000000";

/// The admin URL of the cluster tests use (database `postgres`).
pub fn cluster_url() -> &'static str {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| match std::env::var("TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => url,
        _ => start_cluster(),
    })
}

/// Keeps the guards' stdin open for the life of the process.
static GUARDS: Mutex<Vec<Child>> = Mutex::new(Vec::new());

fn pg_bin(name: &str) -> PathBuf {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|dir| dir.flatten().map(|e| e.path().join("bin")).collect())
        .unwrap_or_default();
    versions.sort();
    versions
        .into_iter()
        .rev()
        .map(|bin| bin.join(name))
        .find(|p| p.exists())
        .unwrap_or_else(|| PathBuf::from(name))
}

/// uid and gid of `postgres` when we are root (initdb refuses to run as root).
fn unprivileged_ids() -> Option<(u32, u32)> {
    use std::os::unix::fs::MetadataExt;
    // /proc/self belongs to the process's effective user.
    if std::fs::metadata("/proc/self").ok()?.uid() != 0 {
        return None;
    }
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let f: Vec<&str> = line.split(':').collect();
        if f.first() != Some(&"postgres") || f.len() < 4 {
            return None;
        }
        Some((f[2].parse().ok()?, f[3].parse().ok()?))
    })
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free local port")
}

fn as_owner(cmd: &mut Command, ids: Option<(u32, u32)>) -> &mut Command {
    use std::os::unix::process::CommandExt;
    if let Some((uid, gid)) = ids {
        cmd.uid(uid).gid(gid);
    }
    cmd
}

fn start_cluster() -> String {
    let (port, _) = spawn_cluster(|_| vec!["--auth=trust".into()], |_| Vec::new());
    format!("postgres://postgres@127.0.0.1:{port}/postgres?sslmode=disable")
}

/// A cluster that accepts only TLS with SCRAM passwords, as Neon does, its certificate
/// (for `localhost` and 127.0.0.1) signed by a throwaway CA. Always started here, even
/// with `TEST_DATABASE_URL`, because its server settings matter.
pub struct TlsCluster {
    pub port: u16,
    pub password: String,
    /// The CA's certificate (PEM), for `sslrootcert`.
    pub ca_file: PathBuf,
}

pub fn tls_cluster() -> &'static TlsCluster {
    static CLUSTER: OnceLock<TlsCluster> = OnceLock::new();
    CLUSTER.get_or_init(|| {
        let password = uuid::Uuid::new_v4().simple().to_string();
        let (port, dir) = spawn_cluster(
            |dir| {
                // The password for initdb, then a CA and a server certificate it signs.
                let script = r#"
                    set -e
                    cd "$1"
                    printf '%s\n' "$2" > pw
                    ec="-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes"
                    openssl req -x509 $ec -days 2 -subj /CN=todo-test-ca -keyout ca.key -out ca.crt
                    openssl req $ec -subj /CN=localhost -keyout server.key -out server.csr
                    printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' > san.ext
                    openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
                        -days 2 -extfile san.ext -out server.crt
                    chmod 600 server.key
                "#;
                run_as_owner(script, &[dir.to_str().unwrap(), &password]);
                vec![
                    "--auth-local=trust".into(),
                    format!("--pwfile={}", dir.join("pw").display()),
                ]
            },
            |dir| {
                // Overwriting keeps initdb's owner on the file.
                let hba = "local all all trust\n\
                           hostssl all all 127.0.0.1/32 scram-sha-256\n\
                           hostnossl all all 0.0.0.0/0 reject\n";
                std::fs::write(dir.join("data/pg_hba.conf"), hba).expect("write pg_hba.conf");
                let file = |name: &str| dir.join(name).display().to_string();
                [
                    "ssl=on".to_owned(),
                    format!("ssl_cert_file={}", file("server.crt")),
                    format!("ssl_key_file={}", file("server.key")),
                ]
                .into_iter()
                .flat_map(|setting| ["-c".to_owned(), setting])
                .collect()
            },
        );
        TlsCluster {
            port,
            password,
            ca_file: dir.join("ca.crt"),
        }
    })
}

/// Runs a shell script as the cluster's owner; panics with its output when it fails.
fn run_as_owner(script: &str, args: &[&str]) {
    let out = as_owner(&mut Command::new("sh"), unprivileged_ids())
        .arg("-c")
        .arg(script)
        .arg("sh")
        .args(args)
        .output()
        .expect("sh runs");
    assert!(
        out.status.success(),
        "cluster setup failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Creates a cluster in a temporary folder and starts it on a free port. `initdb_args`
/// gets the folder before initdb runs and returns initdb's options; `server_args` gets
/// it after and returns extra `postgres` options. Returns the port and the folder.
fn spawn_cluster(
    initdb_args: impl FnOnce(&Path) -> Vec<String>,
    server_args: impl FnOnce(&Path) -> Vec<String>,
) -> (u16, PathBuf) {
    let ids = unprivileged_ids();
    let dir = std::env::temp_dir().join(format!(
        "todo-test-pg-{}-{}",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&dir).expect("create the cluster folder");
    if let Some((uid, gid)) = ids {
        std::os::unix::fs::chown(&dir, Some(uid), Some(gid)).expect("chown the cluster folder");
    }
    let data = dir.join("data");
    let out = as_owner(&mut Command::new(pg_bin("initdb")), ids)
        .args(initdb_args(&dir))
        .args([
            "--username=postgres",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
            "-D",
        ])
        .arg(&data)
        .output()
        .expect("initdb runs (install PostgreSQL, or set TEST_DATABASE_URL)");
    assert!(
        out.status.success(),
        "initdb failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    let port = free_port();
    // The guard starts postgres, waits for its own stdin to close (this process
    // exiting), then stops postgres and removes the folder.
    let script = r#"
        bin=$1 dir=$2 port=$3
        shift 3
        "$bin" -D "$dir/data" -p "$port" -k "$dir" -c listen_addresses=127.0.0.1 \
             -c fsync=off -c synchronous_commit=off -c full_page_writes=off \
             -c max_connections=200 "$@" >"$dir/log" 2>&1 &
        pid=$!
        cat >/dev/null
        kill -INT "$pid" 2>/dev/null
        wait "$pid"
        rm -rf "$dir"
    "#;
    let child = as_owner(&mut Command::new("sh"), ids)
        .arg("-c")
        .arg(script)
        .arg("guard")
        .arg(pg_bin("postgres"))
        .arg(&dir)
        .arg(port.to_string())
        .args(server_args(&dir))
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start postgres");
    GUARDS.lock().unwrap().push(child);
    wait_for_port(port, &dir);
    (port, dir)
}

fn wait_for_port(port: u16, dir: &Path) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let log = std::fs::read_to_string(dir.join("log")).unwrap_or_default();
    panic!("postgres did not start on port {port}: {log}");
}

fn with_dbname(url: &str, dbname: &str) -> String {
    let mut parsed = url::Url::parse(url).expect("a valid TEST_DATABASE_URL");
    parsed.set_path(&format!("/{dbname}"));
    parsed.into()
}

async fn admin() -> tokio_postgres::Client {
    let url = cluster_url();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match tokio_postgres::connect(url, tokio_postgres::NoTls).await {
            Ok((client, connection)) => {
                tokio::spawn(connection);
                return client;
            }
            // "the database system is starting up"
            Err(_) if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await
            }
            Err(e) => panic!("cannot connect to the test cluster: {e}"),
        }
    }
}

/// A migrated template database, made once per cluster and migration set.
async fn template() -> &'static str {
    static TEMPLATE: OnceCell<String> = OnceCell::const_new();
    TEMPLATE
        .get_or_init(|| async {
            let mut fingerprint = 0u64;
            for m in crate::db::migrate::MIGRATIONS {
                for b in m.sql.bytes().chain(m.name.bytes()) {
                    fingerprint = fingerprint
                        .wrapping_mul(1_099_511_628_211)
                        .wrapping_add(u64::from(b));
                }
            }
            let name = format!("todo_template_{fingerprint:016x}");
            let admin = admin().await;
            let exists = admin
                .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&name])
                .await
                .unwrap()
                .is_some();
            if !exists {
                let building = format!("{name}_{}", std::process::id());
                admin
                    .batch_execute(&format!("CREATE DATABASE {building}"))
                    .await
                    .unwrap();
                {
                    let (mut client, connection) = tokio_postgres::connect(
                        &with_dbname(cluster_url(), &building),
                        tokio_postgres::NoTls,
                    )
                    .await
                    .unwrap();
                    let task = tokio::spawn(connection);
                    crate::db::migrate::run(&mut client).await.unwrap();
                    drop(client);
                    let _ = task.await;
                }
                // Another test process may have won the race: then use its template.
                if admin
                    .batch_execute(&format!("ALTER DATABASE {building} RENAME TO {name}"))
                    .await
                    .is_err()
                {
                    admin
                        .batch_execute(&format!("DROP DATABASE {building}"))
                        .await
                        .unwrap();
                }
            }
            name
        })
        .await
}

/// A database of its own for one test, dropped when the test ends.
pub struct TestDb {
    pub name: String,
    pub url: String,
}

impl TestDb {
    pub async fn new() -> Self {
        Self::from_template(template().await).await
    }

    /// A database with no schema at all (for migration tests).
    pub async fn empty() -> Self {
        Self::from_template("template0").await
    }

    async fn from_template(template: &str) -> Self {
        let name = format!("todo_test_{}", uuid::Uuid::new_v4().simple());
        let admin = admin().await;
        // CREATE DATABASE ... TEMPLATE refuses while another creation copies it: retry.
        let mut attempts = 0;
        loop {
            match admin
                .batch_execute(&format!("CREATE DATABASE {name} TEMPLATE {template}"))
                .await
            {
                Ok(()) => break,
                Err(e) if attempts < 50 => {
                    attempts += 1;
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(20 * attempts)).await;
                }
                Err(e) => panic!("creating {name}: {e}"),
            }
        }
        let url = with_dbname(cluster_url(), &name);
        Self { name, url }
    }

    /// A configuration pointing at this database, with the test secret and cost 10.
    pub fn config(&self) -> Config {
        Config {
            database: DatabaseConfig {
                url: Secret::new(self.url.clone()),
                pool_max_size: 4,
                auto_migrate: true,
            },
            auth: AuthConfig {
                secret: Secret::new(TEST_SECRET),
                expires_in: 1800,
                issuer: None,
                audience: None,
                bcrypt_cost: 10,
                jwks: None,
            },
            http: HttpConfig::default(),
        }
    }

    pub async fn state(&self) -> AppState {
        AppState::new(&self.config()).await.expect("state builds")
    }

    /// A plain connection, for checking what the handlers wrote.
    pub async fn client(&self) -> tokio_postgres::Client {
        let (client, connection) = tokio_postgres::connect(&self.url, tokio_postgres::NoTls)
            .await
            .expect("connect to the test database");
        tokio::spawn(connection);
        client
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Drop runs inside the test's runtime: do the async work on a thread of its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            rt.block_on(async {
                let admin = admin().await;
                admin
                    .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .await
                    .ok()
            })
        })
        .join();
    }
}

/// The base event, shaped like `sam local generate-event apigateway http-api-proxy`.
const BASE_EVENT: &str = include_str!("../fixtures/http-api-proxy.json");

/// Builds an API Gateway HTTP API (2.0) event and turns it into a `Request` the way
/// the Lambda runtime does.
pub struct Event {
    event: Value,
}

impl Event {
    pub fn new(method: &str, path_and_query: &str) -> Self {
        let mut event: Value = serde_json::from_str(BASE_EVENT).expect("valid fixture");
        let (path, query) = path_and_query
            .split_once('?')
            .unwrap_or((path_and_query, ""));
        event["rawPath"] = json!(path);
        event["rawQueryString"] = json!(query);
        event["requestContext"]["http"]["method"] = json!(method);
        event["requestContext"]["http"]["path"] = json!(path);
        event["requestContext"]["requestId"] = json!(uuid::Uuid::new_v4().to_string());
        Self { event }
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.event["headers"][name.to_ascii_lowercase()] = json!(value);
        self
    }

    pub fn bearer(self, token: &str) -> Self {
        self.header("authorization", &format!("Bearer {token}"))
    }

    /// A JSON body with `content-type: application/json`.
    pub fn json(self, body: &Value) -> Self {
        self.header("content-type", "application/json")
            .raw_body(&body.to_string())
    }

    /// A body sent as it is (set `content-type` yourself).
    pub fn raw_body(mut self, body: &str) -> Self {
        self.event["body"] = json!(body);
        self.event["isBase64Encoded"] = json!(false);
        self.event["headers"]["content-length"] = json!(body.len().to_string());
        self
    }

    /// A body API Gateway could not pass as text: base64 with `isBase64Encoded`.
    pub fn binary_body(mut self, content_type: &str, bytes: &[u8]) -> Self {
        use base64::Engine;
        self = self.header("content-type", content_type);
        self.event["body"] = json!(base64::engine::general_purpose::STANDARD.encode(bytes));
        self.event["isBase64Encoded"] = json!(true);
        self
    }

    pub fn form(self, pairs: &[(&str, &str)]) -> Self {
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
        self.header("content-type", "application/x-www-form-urlencoded")
            .raw_body(&body)
    }

    pub fn to_json(&self) -> String {
        self.event.to_string()
    }

    pub fn request(&self) -> Request {
        lambda_http::request::from_str(&self.to_json()).expect("a valid API Gateway event")
    }
}

/// A response's status, headers and parsed JSON body (null when empty).
pub struct Answer {
    pub status: u16,
    pub headers: lambda_http::http::HeaderMap,
    pub body: Value,
}

impl Answer {
    pub fn from(response: Response<Body>) -> Self {
        let (parts, body) = response.into_parts();
        let bytes: &[u8] = body.as_ref();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(bytes).into_owned()))
        };
        Self {
            status: parts.status.as_u16(),
            headers: parts.headers,
            body,
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts a problem document with `status`; returns it for further checks.
    pub fn problem(&self, status: u16) -> &Value {
        assert_eq!(self.status, status, "body: {}", self.body);
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json")
        );
        assert_eq!(self.body["status"], status);
        assert_eq!(self.body["type"], "about:blank");
        assert!(self.body["detail"].as_str().is_some_and(|d| !d.is_empty()));
        &self.body
    }

    /// The field names of a 400's `errors`.
    pub fn error_fields(&self) -> Vec<String> {
        self.problem(400)["errors"]
            .as_array()
            .map(|errors| {
                errors
                    .iter()
                    .filter_map(|e| e["field"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Writes to stderr without interleaving (for timing notes in tests).
pub fn note(message: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{message}");
}

/// A valid token for `sub`, signed with the state's key.
pub fn token(state: &AppState, sub: &str) -> String {
    state
        .tokens
        .issue(sub, "tester")
        .expect("token signs")
        .access_token
}

/// Inserts a task for `owner` through the data layer.
pub async fn seed_task(state: &AppState, owner: &str, title: &str) -> crate::db::tasks::Task {
    let owner = crate::auth::Subject::parse(owner).expect("a valid subject");
    let changes = crate::model::TaskChanges {
        title: crate::model::Title::parse(title).expect("a valid title"),
        description: None,
        completed: false,
    };
    crate::db::tasks::create(&state.db, &owner, &changes)
        .await
        .expect("task inserted")
}

/// Runs `route` on `event` the way the Lambda runtime would, through [`crate::http::serve`].
pub async fn call<'s, S, F, Fut>(state: &'s S, route: F, event: Event) -> Answer
where
    S: crate::http::Edge,
    F: FnOnce(&'s S, Request) -> Fut,
    Fut: std::future::Future<Output = crate::http::ApiResult>,
{
    Answer::from(
        crate::http::serve(event.request(), crate::http::Edge::cors(state), |req| {
            route(state, req)
        })
        .await,
    )
}

/// The route table as each place declares it: `(METHOD, path, function)`; OpenAPI
/// names no function, so its entries carry "".
pub mod routes {
    use std::collections::BTreeSet;
    use std::path::PathBuf;

    pub type Route = (String, String, String);

    fn repo_file(name: &str) -> String {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join(name);
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    /// `HttpApi` events of `template.yaml`, with the binary each function builds.
    pub fn template() -> BTreeSet<Route> {
        let doc: serde_yaml_ng::Value =
            serde_yaml_ng::from_str(&repo_file("template.yaml")).unwrap();
        let mut routes = BTreeSet::new();
        for (_, resource) in doc["Resources"].as_mapping().unwrap() {
            if resource["Type"].as_str() != Some("AWS::Serverless::Function") {
                continue;
            }
            let binary = resource["Metadata"]["BuildProperties"]["Binary"]
                .as_str()
                .unwrap()
                .to_owned();
            for (_, event) in resource["Properties"]["Events"].as_mapping().unwrap() {
                if event["Type"].as_str() == Some("HttpApi") {
                    let p = &event["Properties"];
                    routes.insert((
                        p["Method"].as_str().unwrap().to_uppercase(),
                        p["Path"].as_str().unwrap().to_owned(),
                        binary.clone(),
                    ));
                }
            }
        }
        routes
    }

    /// Operations of `openapi.yaml`.
    pub fn openapi() -> BTreeSet<Route> {
        let doc: serde_yaml_ng::Value =
            serde_yaml_ng::from_str(&repo_file("openapi.yaml")).unwrap();
        let mut routes = BTreeSet::new();
        for (path, item) in doc["paths"].as_mapping().unwrap() {
            for (method, _) in item.as_mapping().unwrap() {
                let method = method.as_str().unwrap();
                if [
                    "get", "put", "post", "delete", "patch", "options", "head", "trace",
                ]
                .contains(&method)
                {
                    routes.insert((
                        method.to_uppercase(),
                        path.as_str().unwrap().to_owned(),
                        String::new(),
                    ));
                }
            }
        }
        routes
    }

    /// `[workspace.metadata.lambda.watch.router]` in `Cargo.toml`, without the OPTIONS
    /// entries that exist only so functions answer CORS preflights locally.
    pub fn watch_router() -> BTreeSet<Route> {
        let doc: toml::Table = repo_file("Cargo.toml").parse().unwrap();
        let router = doc["workspace"]["metadata"]["lambda"]["watch"]["router"]
            .as_table()
            .unwrap();
        let mut routes = BTreeSet::new();
        for (path, entries) in router {
            for entry in entries.as_array().unwrap() {
                let method = entry["method"].as_str().unwrap().to_uppercase();
                if method != "OPTIONS" {
                    routes.insert((
                        method,
                        path.clone(),
                        entry["function"].as_str().unwrap().to_owned(),
                    ));
                }
            }
        }
        routes
    }

    /// The paths whose OPTIONS the watch router sends to a function.
    pub fn watch_preflight_paths() -> BTreeSet<(String, String)> {
        let doc: toml::Table = repo_file("Cargo.toml").parse().unwrap();
        let router = doc["workspace"]["metadata"]["lambda"]["watch"]["router"]
            .as_table()
            .unwrap();
        router
            .iter()
            .flat_map(|(path, entries)| {
                entries
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|e| e["method"].as_str() == Some("OPTIONS"))
                    .map(move |e| (path.clone(), e["function"].as_str().unwrap().to_owned()))
            })
            .collect()
    }

    /// `(METHOD, path)` of `function` in `template.yaml`.
    pub fn of(function: &str) -> Vec<(String, String)> {
        template()
            .into_iter()
            .filter(|(_, _, f)| f == function)
            .map(|(m, p, _)| (m, p))
            .collect()
    }

    /// A concrete path for a pattern: `{user_id}` and `{id}` become UUIDs.
    pub fn concrete(pattern: &str) -> String {
        pattern
            .replace("{user_id}", super::ANN)
            .replace("{id}", super::MISSING)
    }

    /// Asserts that `route` handles exactly `function`'s routes of the table: each is
    /// answered by the function (not 404/405), and every other method on those paths
    /// is a 405.
    pub async fn assert_function_routes<'s, S, F, Fut>(state: &'s S, function: &str, route: F)
    where
        S: crate::http::Edge,
        F: Fn(&'s S, lambda_http::Request) -> Fut + Copy,
        Fut: std::future::Future<Output = crate::http::ApiResult>,
    {
        let routes = of(function);
        assert!(
            !routes.is_empty(),
            "template.yaml has no routes for {function}"
        );
        let paths: BTreeSet<&String> = routes.iter().map(|(_, p)| p).collect();
        for path in paths {
            for method in ["GET", "POST", "PUT", "PATCH", "DELETE"] {
                let declared = routes.iter().any(|(m, p)| m == method && p == path);
                let answer =
                    super::call(state, route, super::Event::new(method, &concrete(path))).await;
                if declared {
                    assert!(
                        ![404, 405].contains(&answer.status),
                        "{function} does not route {method} {path}: {} {}",
                        answer.status,
                        answer.body
                    );
                } else {
                    assert_eq!(
                        answer.status, 405,
                        "{function} answers {method} {path}, which the table does not give it"
                    );
                }
            }
        }
    }
}

/// A loopback proxy in front of the test database that counts round trips: every
/// `Sync` (extended protocol) or `Query` (simple protocol) message a client sends ends
/// one exchange with the server. Lets tests prove "one request, one round trip".
pub struct RoundTrips {
    pub url: String,
    count: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

impl RoundTrips {
    /// Starts the proxy for `db`; connect through [`RoundTrips::url`] (no TLS).
    pub async fn proxy(db: &TestDb) -> Self {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicUsize, Ordering};
        use tokio::io::{AsyncReadExt, AsyncWriteExt};

        let target = url::Url::parse(&db.url).unwrap();
        let upstream = format!(
            "{}:{}",
            target.host_str().unwrap(),
            target.port().unwrap_or(5432)
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut url = target.clone();
        url.set_port(Some(listener.local_addr().unwrap().port()))
            .unwrap();
        let count = Arc::new(AtomicUsize::new(0));
        let counter = count.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = tokio::net::TcpStream::connect(&upstream).await else {
                    continue;
                };
                let counter = counter.clone();
                tokio::spawn(async move {
                    let (mut client_read, mut client_write) = client.into_split();
                    let (mut server_read, mut server_write) = server.into_split();
                    tokio::spawn(async move {
                        let _ = tokio::io::copy(&mut server_read, &mut client_write).await;
                    });
                    // The startup message has a length but no type byte.
                    let mut len = [0u8; 4];
                    if client_read.read_exact(&mut len).await.is_err() {
                        return;
                    }
                    let mut body = vec![0u8; (u32::from_be_bytes(len) as usize).saturating_sub(4)];
                    if client_read.read_exact(&mut body).await.is_err()
                        || server_write.write_all(&len).await.is_err()
                        || server_write.write_all(&body).await.is_err()
                    {
                        return;
                    }
                    loop {
                        let mut head = [0u8; 5];
                        if client_read.read_exact(&mut head).await.is_err() {
                            return;
                        }
                        let len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
                        let mut body = vec![0u8; len.saturating_sub(4)];
                        if client_read.read_exact(&mut body).await.is_err() {
                            return;
                        }
                        if matches!(head[0], b'S' | b'Q') {
                            counter.fetch_add(1, Ordering::SeqCst);
                        }
                        if server_write.write_all(&head).await.is_err()
                            || server_write.write_all(&body).await.is_err()
                        {
                            return;
                        }
                    }
                });
            }
        });
        Self {
            url: url.into(),
            count,
        }
    }

    /// A state whose pool connects through the proxy, warmed so that connecting and
    /// the migration check are behind us.
    pub async fn state(&self, db: &TestDb) -> AppState {
        let mut config = db.config();
        config.database.url = Secret::new(self.url.clone());
        config.database.pool_max_size = 1;
        let state = AppState::new(&config).await.expect("state builds");
        state
            .db
            .ping()
            .await
            .expect("database reachable through the proxy");
        state
    }

    pub fn count(&self) -> usize {
        self.count.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// How many round trips `work` made.
    pub async fn of<T>(&self, work: impl std::future::Future<Output = T>) -> (usize, T) {
        let before = self.count();
        let out = work.await;
        (self.count() - before, out)
    }
}

#[cfg(test)]
mod tests {
    use super::routes;
    use std::collections::BTreeSet;

    fn without_function(routes: &BTreeSet<routes::Route>) -> BTreeSet<(String, String)> {
        routes
            .iter()
            .map(|(m, p, _)| (m.clone(), p.clone()))
            .collect()
    }

    /// template.yaml, openapi.yaml and the watch router declare the same routes, and
    /// the template and the router send each to the same function.
    #[test]
    fn one_route_table() {
        let template = routes::template();
        let router = routes::watch_router();
        assert_eq!(
            template, router,
            "template.yaml and the watch router differ"
        );
        assert_eq!(
            without_function(&template),
            without_function(&routes::openapi()),
            "template.yaml and openapi.yaml differ"
        );
        assert_eq!(template.len(), 14);
        // Locally, every route a browser may call with custom headers gets its preflight.
        for (method, path, function) in &template {
            if path.starts_with("/api/") {
                assert!(
                    routes::watch_preflight_paths().contains(&(path.clone(), function.clone())),
                    "no OPTIONS for {method} {path}"
                );
            }
        }
    }
}
