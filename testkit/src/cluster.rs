//! Throwaway PostgreSQL clusters: the one tests use (unless `TEST_DATABASE_URL` names
//! one), and a TLS-only one that behaves like Neon. Each is started once per test
//! process with `scripts/pg.sh` (the project's one way to start a PostgreSQL); a shell
//! guard stops it and deletes its files when the process exits, however it exits.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};

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

pub fn free_port() -> u16 {
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
    // Logical decoding, for the test that reads the task events through a slot as
    // change data capture would (shared/tests/events.rs).
    let (port, _) = spawn_cluster(temp_dir(), "", &["wal_level=logical".to_owned()]);
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
        let dir = temp_dir();
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
        let file = |name: &str| dir.join(name).display().to_string();
        let (port, dir) = spawn_cluster(
            dir.clone(),
            &format!("--pwfile={}", file("pw")),
            &[
                "ssl=on".to_owned(),
                format!("ssl_cert_file={}", file("server.crt")),
                format!("ssl_key_file={}", file("server.key")),
            ],
        );
        // Now only TLS with a password: overwrite (keeping initdb's owner on the file)
        // and reload, over the trusted connection that is about to go away.
        let hba = "local all all trust\n\
                   hostssl all all 127.0.0.1/32 scram-sha-256\n\
                   hostnossl all all 0.0.0.0/0 reject\n";
        std::fs::write(dir.join("data/pg_hba.conf"), hba).expect("write pg_hba.conf");
        run(
            Command::new(pg_bin("psql"))
                .args(["-h", "127.0.0.1", "-p", &port.to_string(), "-U", "postgres"])
                .args(["-d", "postgres", "-qtAX", "-c", "SELECT pg_reload_conf()"]),
            "psql (pg_reload_conf)",
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
    run(
        as_owner(&mut Command::new("sh"), unprivileged_ids())
            .arg("-c")
            .arg(script)
            .arg("sh")
            .args(args),
        "cluster setup",
    );
}

/// Runs `command` (`what` it is, for the message) to its end; panics with its output
/// unless it succeeds.
fn run(command: &mut Command, what: &str) {
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("{what} does not run: {e}"));
    assert!(
        out.status.success(),
        "{what} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A new folder for a cluster, owned by the user the server will run as.
fn temp_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "todo-test-pg-{}-{}",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&dir).expect("create the cluster folder");
    if let Some((uid, gid)) = unprivileged_ids() {
        std::os::unix::fs::chown(&dir, Some(uid), Some(gid)).expect("chown the cluster folder");
    }
    dir
}

/// Starts a cluster in `dir` on a free port with `scripts/pg.sh`, tuned for tests
/// (durability off: the data dies with the run), with more `initdb` options and
/// `postgres` settings. A guard stops it and deletes `dir` when this process exits.
fn spawn_cluster(dir: PathBuf, initdb_options: &str, settings: &[String]) -> (u16, PathBuf) {
    let pg_sh = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/pg.sh");
    let port = free_port();
    let defaults = [
        "fsync=off",
        "synchronous_commit=off",
        "full_page_writes=off",
    ];
    let settings = defaults
        .iter()
        .map(|s| s.to_string())
        .chain(["max_connections=200".to_owned()])
        .chain(settings.iter().cloned())
        .flat_map(|setting| ["-c".to_owned(), setting]);
    run(
        Command::new(&pg_sh)
            .arg("start")
            .arg(&dir)
            .arg(port.to_string())
            .args(settings)
            .env("PG_INITDB_OPTIONS", format!("--no-sync {initdb_options}")),
        "scripts/pg.sh start (install PostgreSQL, or set TEST_DATABASE_URL)",
    );
    // The guard waits for its stdin to close (this process exiting), then stops the
    // server and removes the folder.
    guard(
        Command::new("sh")
            .arg("-c")
            .arg(r#"cat >/dev/null; "$0" stop "$1"; rm -rf "$1""#)
            .arg(&pg_sh)
            .arg(&dir),
    );
    (port, dir)
}

/// Starts `command`, a shell that cleans up once its stdin closes, and keeps that stdin
/// open until this process exits, however it exits.
fn guard(command: &mut Command) {
    let child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start a guard");
    GUARDS.lock().unwrap().push(child);
}

pub(crate) fn with_dbname(url: &str, dbname: &str) -> String {
    let mut parsed = url::Url::parse(url).expect("a valid TEST_DATABASE_URL");
    parsed.set_path(&format!("/{dbname}"));
    parsed.into()
}

/// Debian's PgBouncer in transaction mode in front of the test cluster, as Neon's
/// pooled endpoint is: a client's transactions may each run on another server
/// connection, so nothing of a session survives (`SET`, session advisory locks, named
/// prepared statements: 1.18 predates their support, the strictest case). Started once
/// per test process, stopped and its folder deleted when the process exits. Its port.
pub fn pooler_port() -> u16 {
    static PORT: OnceLock<u16> = OnceLock::new();
    *PORT.get_or_init(start_pooler)
}

fn start_pooler() -> u16 {
    let server = url::Url::parse(cluster_url()).expect("the cluster's URL");
    let user = match server.username() {
        "" => "postgres",
        user => user,
    };
    let password = server
        .password()
        .map(|p| format!(" password={p}"))
        .unwrap_or_default();
    let dir = temp_dir();
    let port = free_port();
    let ini = format!(
        "[databases]\n\
         * = host={host} port={server_port}{password}\n\
         [pgbouncer]\n\
         listen_addr = 127.0.0.1\n\
         listen_port = {port}\n\
         unix_socket_dir =\n\
         auth_type = trust\n\
         auth_file = {dir}/users.txt\n\
         pool_mode = transaction\n\
         max_client_conn = 400\n\
         default_pool_size = 20\n\
         logfile = {dir}/pgbouncer.log\n",
        host = server.host_str().unwrap_or("127.0.0.1"),
        server_port = server.port().unwrap_or(5432),
        dir = dir.display(),
    );
    std::fs::write(dir.join("pgbouncer.ini"), ini).expect("write pgbouncer.ini");
    std::fs::write(dir.join("users.txt"), format!("\"{user}\" \"\"\n")).expect("users.txt");
    let ids = unprivileged_ids();
    if let Some((uid, gid)) = ids {
        for file in ["pgbouncer.ini", "users.txt"] {
            std::os::unix::fs::chown(dir.join(file), Some(uid), Some(gid)).expect("chown");
        }
    }
    let binary = ["pgbouncer", "/usr/sbin/pgbouncer"]
        .into_iter()
        .find(|b| {
            Command::new(b)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .expect("pgbouncer is installed (scripts/setup.sh test installs it)");
    // PgBouncer refuses to run as root: it runs as the cluster's owner. The guard ends
    // it and deletes its folder when this process exits (its stdin closes).
    guard(
        as_owner(&mut Command::new("sh"), ids)
            .arg("-c")
            .arg(r#""$0" "$1/pgbouncer.ini" & pid=$!; cat >/dev/null; kill "$pid"; wait; rm -rf "$1""#)
            .arg(binary)
            .arg(&dir),
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "pgbouncer did not start: {}",
            std::fs::read_to_string(dir.join("pgbouncer.log")).unwrap_or_default()
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    port
}
