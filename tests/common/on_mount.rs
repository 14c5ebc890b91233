//! A kura process whose data directory is given (the FUSE mounts of the
//! power-loss and fault tests), started and killed by hand: those tests cut
//! power under it, so it cannot be the harness's own [`super::Server`].

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use aws_sdk_s3::config::{Credentials, Region};
use aws_sdk_s3::Client;

use super::{ACCESS_KEY, SECRET_KEY};

/// A running kura (killed when dropped, also on a panic: a live kura would
/// keep the mount busy).
pub struct Kura {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    /// `127.0.0.1:PORT`.
    pub addr: String,
}

impl Kura {
    /// Starts kura on `data` (16 KiB chunks, so small objects span several),
    /// its log appended to `log`, and waits until it listens.
    pub fn start(data: &Path, log: &Path) -> Kura {
        let log_file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_kura"))
            .args(["serve", "--listen", "127.0.0.1:0", "--chunk-size", "16KiB"])
            .arg("--data-dir")
            .arg(data)
            .env("KURA_ACCESS_KEY_ID", ACCESS_KEY)
            .env("KURA_SECRET_ACCESS_KEY", SECRET_KEY)
            .env("KURA_LOG", "info")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log_file)
            .spawn()
            .expect("spawn kura");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let endpoint = loop {
            match lines.next() {
                Some(Ok(line)) => {
                    if let Some(url) = line.strip_prefix("kura listening on ") {
                        break url.trim().to_string();
                    }
                }
                _ => panic!(
                    "kura exited before listening; log:\n{}",
                    std::fs::read_to_string(log).unwrap_or_default()
                ),
            }
        };
        std::thread::spawn(move || for _ in lines {});
        let addr = endpoint.split_once("://").unwrap().1.to_string();
        Kura {
            child,
            endpoint,
            addr,
        }
    }

    /// SIGKILL, and wait until the process is gone (no more file system calls).
    pub fn kill(self) {
        drop(self);
    }

    /// An SDK client without retries (a test counts every failure).
    pub fn client(&self) -> Client {
        let conf = aws_sdk_s3::config::Builder::new()
            .behavior_version_latest()
            .endpoint_url(&self.endpoint)
            .region(Region::new("us-east-1"))
            .credentials_provider(Credentials::new(ACCESS_KEY, SECRET_KEY, None, None, "t"))
            .force_path_style(true)
            .retry_config(aws_sdk_s3::config::retry::RetryConfig::disabled())
            .timeout_config(
                aws_sdk_s3::config::timeout::TimeoutConfig::builder()
                    .operation_timeout(Duration::from_secs(60))
                    .build(),
            )
            .build();
        Client::from_conf(conf)
    }
}

impl Drop for Kura {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
