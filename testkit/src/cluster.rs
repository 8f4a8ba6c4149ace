//! Throwaway PostgreSQL clusters: the one tests use (unless `TEST_DATABASE_URL` names
//! one), and a TLS-only one that behaves like Neon. Each is started once per test
//! process; a shell guard stops it and deletes its files when the process exits,
//! however it exits.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

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

pub(crate) fn with_dbname(url: &str, dbname: &str) -> String {
    let mut parsed = url::Url::parse(url).expect("a valid TEST_DATABASE_URL");
    parsed.set_path(&format!("/{dbname}"));
    parsed.into()
}
