//! A throw-away single-member etcd on free loopback ports, for the tests of
//! `kura serve --meta etcd://…`. Debian's `etcd-server` and `etcd-client`
//! (installed by `scripts/install-deps --test`) provide `etcd` and `etcdctl`.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running etcd; killed (and its data removed) on drop.
pub struct Etcd {
    child: Child,
    /// `127.0.0.1:PORT` of its client listener.
    pub endpoint: String,
    _dir: tempfile::TempDir,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port()
}

fn installed(bin: &str, arg: &str) -> bool {
    Command::new(bin)
        .env("ETCDCTL_API", "3")
        .arg(arg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

impl Etcd {
    /// Starts etcd and waits until it reports healthy; `None` (with a
    /// message on stderr) if etcd is not installed.
    pub fn start() -> Option<Etcd> {
        if !installed("etcd", "--version") || !installed("etcdctl", "version") {
            eprintln!(
                "SKIPPED: etcd is not installed (Debian: apt-get install etcd-server etcd-client, \
                 or scripts/install-deps --test)"
            );
            return None;
        }
        let dir = tempfile::tempdir().expect("tempdir");
        let (client, peer) = (free_port(), free_port());
        let client_url = format!("http://127.0.0.1:{client}");
        let peer_url = format!("http://127.0.0.1:{peer}");
        let log = std::fs::File::create(dir.path().join("etcd.log")).expect("etcd log");
        let child = Command::new("etcd")
            .args(["--name", "one", "--data-dir"])
            .arg(dir.path().join("data"))
            .args(["--listen-client-urls", &client_url])
            .args(["--advertise-client-urls", &client_url])
            .args(["--listen-peer-urls", &peer_url])
            .args(["--initial-advertise-peer-urls", &peer_url])
            .args(["--initial-cluster", &format!("one={peer_url}")])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawning etcd");
        let etcd = Etcd {
            child,
            endpoint: format!("127.0.0.1:{client}"),
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let healthy = Command::new("etcdctl")
                .env("ETCDCTL_API", "3")
                .args(["--endpoints", &client_url, "--dial-timeout=500ms"])
                .args(["endpoint", "health"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if healthy {
                return Some(etcd);
            }
            assert!(
                Instant::now() < deadline,
                "etcd did not become healthy within 30 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The `--meta` value for a kura whose keys live under `root/`.
    pub fn meta(&self, root: &str) -> String {
        format!("etcd://{}/{root}", self.endpoint)
    }

    /// Every key under `prefix`, as `etcdctl get --prefix --keys-only` lists them.
    pub fn keys(&self, prefix: &str) -> Vec<String> {
        keys_at(&format!("http://{}", self.endpoint), prefix)
    }
}

impl Drop for Etcd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One member of an [`EtcdCluster`].
struct Member {
    name: String,
    client_url: String,
    peer_url: String,
    child: Option<Child>,
}

/// A throw-away etcd cluster of several members on loopback (each its own
/// process, data directory and ports); members can be killed and started
/// again. Killed (and its data removed) on drop.
pub struct EtcdCluster {
    members: Vec<Member>,
    dir: tempfile::TempDir,
}

impl EtcdCluster {
    /// Starts `n` members and waits until every one reports healthy;
    /// `None` (with a message on stderr) if etcd is not installed.
    pub fn start(n: usize) -> Option<EtcdCluster> {
        if !installed("etcd", "--version") || !installed("etcdctl", "version") {
            eprintln!(
                "SKIPPED: etcd is not installed (Debian: apt-get install etcd-server etcd-client, \
                 or scripts/install-deps --test)"
            );
            return None;
        }
        let members: Vec<Member> = (0..n)
            .map(|i| Member {
                name: format!("m{i}"),
                client_url: format!("http://127.0.0.1:{}", free_port()),
                peer_url: format!("http://127.0.0.1:{}", free_port()),
                child: None,
            })
            .collect();
        let mut cluster = EtcdCluster {
            members,
            dir: tempfile::tempdir().expect("tempdir"),
        };
        for i in 0..n {
            cluster.spawn(i);
        }
        for i in 0..n {
            cluster.wait_healthy(i);
        }
        Some(cluster)
    }

    fn spawn(&mut self, i: usize) {
        let initial: Vec<String> = self
            .members
            .iter()
            .map(|m| format!("{}={}", m.name, m.peer_url))
            .collect();
        let m = &self.members[i];
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join(format!("{}.log", m.name)))
            .expect("etcd log");
        let child = Command::new("etcd")
            .args(["--name", &m.name, "--data-dir"])
            .arg(self.dir.path().join(&m.name))
            .args(["--listen-client-urls", &m.client_url])
            .args(["--advertise-client-urls", &m.client_url])
            .args(["--listen-peer-urls", &m.peer_url])
            .args(["--initial-advertise-peer-urls", &m.peer_url])
            .args(["--initial-cluster", &initial.join(",")])
            .args(["--initial-cluster-state", "new"])
            .args(["--initial-cluster-token", "kura-test"])
            // Loopback: fast heartbeats make a leader's death short.
            .args(["--heartbeat-interval", "50", "--election-timeout", "500"])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawning etcd");
        self.members[i].child = Some(child);
    }

    fn wait_healthy(&self, i: usize) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !self.healthy(i) {
            assert!(
                Instant::now() < deadline,
                "etcd member {i} did not become healthy within 30 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Whether member `i` answers and the cluster has a leader.
    pub fn healthy(&self, i: usize) -> bool {
        Command::new("etcdctl")
            .env("ETCDCTL_API", "3")
            .args(["--endpoints", &self.members[i].client_url])
            .args(["--dial-timeout=500ms", "--command-timeout=2s"])
            .args(["endpoint", "health"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    /// `127.0.0.1:PORT,…` of every member's client listener.
    pub fn endpoints(&self) -> String {
        self.members
            .iter()
            .map(|m| m.client_url.trim_start_matches("http://"))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The `--meta` value for a kura whose keys live under `root/`.
    pub fn meta(&self, root: &str) -> String {
        format!("etcd://{}/{root}", self.endpoints())
    }

    /// Kills member `i` (SIGKILL); its data stays for [`EtcdCluster::restart`].
    pub fn kill(&mut self, i: usize) {
        if let Some(mut c) = self.members[i].child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts a killed member again on its data and waits until it is healthy.
    pub fn restart(&mut self, i: usize) {
        self.kill(i);
        self.spawn(i);
        self.wait_healthy(i);
    }

    /// Every key under `prefix`, as `etcdctl get --prefix --keys-only` lists
    /// them (asking the first member that answers).
    pub fn keys(&self, prefix: &str) -> Vec<String> {
        keys_at(&self.endpoints(), prefix)
    }
}

impl Drop for EtcdCluster {
    fn drop(&mut self) {
        for i in 0..self.members.len() {
            self.kill(i);
        }
    }
}

/// Every key under `prefix` at `endpoints` (comma-separated URLs), as
/// `etcdctl get --prefix --keys-only` lists them.
fn keys_at(endpoints: &str, prefix: &str) -> Vec<String> {
    let out = Command::new("etcdctl")
        .env("ETCDCTL_API", "3")
        .args(["--endpoints", endpoints])
        .args(["get", "--prefix", "--keys-only", prefix])
        .output()
        .expect("etcdctl");
    assert!(out.status.success(), "etcdctl get failed");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}
