//! The service processes of one setup: started with their environment, their output kept in
//! log files, found listening, measured from /proc (CPU seconds, peak resident memory), and
//! stopped on every way out (SIGTERM, then SIGKILL after a grace period; also when dropped, so
//! an error, a panic or Ctrl-C leaves no process behind).

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// One started process.
#[derive(Debug)]
pub struct Proc {
    /// The member it runs (the group's name for the merged binary).
    pub name: String,
    pub log: PathBuf,
    child: Child,
}

impl Proc {
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Whether it has exited, with the end of its log when it has.
    pub fn exited(&mut self) -> Option<String> {
        match self.child.try_wait() {
            Ok(Some(status)) => Some(format!(
                "`{}` exited ({status}) before it was measured; the end of its log (`{}`):\n{}",
                self.name,
                self.log.display(),
                tail(&self.log, 20)
            )),
            _ => None,
        }
    }
}

/// A service process that could not be started. Its message says the cause (printed as a
/// chain, it is not said twice).
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot create `{}`: {error}", path.display())]
    Create {
        path: PathBuf,
        error: std::io::Error,
    },
    /// The log file, opened a second time for stderr.
    #[error("cannot open `{}` twice: {error}", path.display())]
    Reopen {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("cannot start `{}`: {error}", path.display())]
    Spawn {
        path: PathBuf,
        error: std::io::Error,
    },
}

/// The processes of one setup; dropping it stops them.
#[derive(Debug, Default)]
pub struct Procs(pub Vec<Proc>);

impl Procs {
    /// Starts `program` as `name`, with `env` on top of this process's environment, its
    /// output appended to `log`.
    pub fn start(
        &mut self,
        name: &str,
        program: &Path,
        env: &[(String, String)],
        log: &Path,
    ) -> Result<(), StartError> {
        if let Some(dir) = log.parent() {
            std::fs::create_dir_all(dir).map_err(|error| StartError::Create {
                path: dir.to_path_buf(),
                error,
            })?;
        }
        let out = std::fs::File::create(log).map_err(|error| StartError::Create {
            path: log.to_path_buf(),
            error,
        })?;
        let err = out.try_clone().map_err(|error| StartError::Reopen {
            path: log.to_path_buf(),
            error,
        })?;
        // A process group of its own: stopping it reaches what it started too.
        let child =
            std::os::unix::process::CommandExt::process_group(&mut Command::new(program), 0)
                .envs(env.iter().map(|(k, v)| (k, v)))
                .stdin(Stdio::null())
                .stdout(out)
                .stderr(err)
                .spawn()
                .map_err(|error| StartError::Spawn {
                    path: program.to_path_buf(),
                    error,
                })?;
        self.0.push(Proc {
            name: name.to_owned(),
            log: log.to_path_buf(),
            child,
        });
        Ok(())
    }

    /// Stops every process: SIGTERM, up to `grace` to exit, then SIGKILL.
    pub fn stop(&mut self, grace: Duration) {
        for p in &mut self.0 {
            if matches!(p.child.try_wait(), Ok(None)) {
                // SIGTERM, as a service is stopped in production (std sends only SIGKILL).
                let _ = Command::new("kill")
                    .args(["-TERM", "--", &format!("-{}", p.child.id())])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status();
            }
        }
        let deadline = Instant::now() + grace;
        for p in &mut self.0 {
            while Instant::now() < deadline {
                if matches!(p.child.try_wait(), Ok(Some(_))) {
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            if !matches!(p.child.try_wait(), Ok(Some(_))) {
                let _ = Command::new("kill")
                    .args(["-KILL", "--", &format!("-{}", p.child.id())])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status();
                let _ = p.child.kill();
                let _ = p.child.wait();
            }
        }
        self.0.clear();
    }

    /// CPU seconds (user + system) the processes used so far.
    pub fn cpu_seconds(&self) -> f64 {
        self.0.iter().filter_map(|p| cpu_seconds(p.pid())).sum()
    }

    /// Their peak resident memory, summed, in bytes.
    pub fn peak_rss(&self) -> u64 {
        self.0.iter().filter_map(|p| peak_rss(p.pid())).sum()
    }
}

impl Drop for Procs {
    fn drop(&mut self) {
        self.stop(Duration::from_secs(5));
    }
}

/// The last `n` lines of a log.
pub fn tail(log: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// User + system CPU seconds of `pid` (/proc/PID/stat, fields 14 and 15).
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces: fields count from after its closing parenthesis.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    // Clock ticks: USER_HZ, which Linux fixes at 100 for /proc on every architecture.
    Some((utime + stime) / 100.0)
}

/// Peak resident memory of `pid` in bytes (/proc/PID/status, VmHWM).
pub fn peak_rss(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// The TCP addresses `pid` listens on (its socket inodes matched in /proc/PID/net/tcp{,6});
/// an unspecified address (`0.0.0.0`, `::`) is given as loopback, where bench connects.
pub fn listening(pid: u32) -> Vec<SocketAddr> {
    let mut inodes = BTreeSet::new();
    if let Ok(fds) = std::fs::read_dir(format!("/proc/{pid}/fd")) {
        for fd in fds.flatten() {
            if let Ok(target) = std::fs::read_link(fd.path()) {
                let target = target.to_string_lossy();
                if let Some(inode) = target
                    .strip_prefix("socket:[")
                    .and_then(|s| s.strip_suffix(']'))
                {
                    inodes.insert(inode.to_owned());
                }
            }
        }
    }
    let mut out = Vec::new();
    for (file, v6) in [("tcp", false), ("tcp6", true)] {
        let Ok(table) = std::fs::read_to_string(format!("/proc/{pid}/net/{file}")) else {
            continue;
        };
        for line in table.lines().skip(1) {
            let f: Vec<&str> = line.split_whitespace().collect();
            // local_address, state 0A (LISTEN), inode.
            if f.len() > 9 && f[3] == "0A" && inodes.contains(f[9]) {
                if let Some(addr) = parse_addr(f[1], v6) {
                    out.push(addr);
                }
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// `0100007F:1F90` (IPv4, little-endian words) or the 32-digit IPv6 form.
fn parse_addr(text: &str, v6: bool) -> Option<SocketAddr> {
    let (ip, port) = text.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let ip = if v6 {
        let mut bytes = [0u8; 16];
        for (i, word) in bytes.chunks_mut(4).enumerate() {
            let w = u32::from_str_radix(ip.get(i * 8..i * 8 + 8)?, 16).ok()?;
            word.copy_from_slice(&w.to_le_bytes());
        }
        let ip = Ipv6Addr::from(bytes);
        match ip.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(ip),
        }
    } else {
        IpAddr::V4(Ipv4Addr::from(
            u32::from_str_radix(ip, 16).ok()?.to_le_bytes(),
        ))
    };
    let ip = match ip {
        IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    Some(SocketAddr::new(ip, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_net_addresses_parse() {
        assert_eq!(
            parse_addr("0100007F:1F90", false),
            Some("127.0.0.1:8080".parse().expect("addr"))
        );
        assert_eq!(
            parse_addr("00000000:0050", false),
            Some("127.0.0.1:80".parse().expect("addr"))
        );
        assert_eq!(
            parse_addr("00000000000000000000000001000000:1F90", true),
            Some("[::1]:8080".parse().expect("addr"))
        );
    }

    #[test]
    fn a_started_process_is_found_listening_measured_and_stopped() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("addr");
        // This very process: it listens on `addr`.
        assert!(listening(std::process::id()).contains(&addr));
        assert!(cpu_seconds(std::process::id()).is_some());
        assert!(peak_rss(std::process::id()).is_some_and(|b| b > 0));

        let dir = tempfile::tempdir().expect("tempdir");
        let script = dir.path().join("sleeper");
        std::fs::write(&script, "#!/bin/sh\nexec sleep 60\n").expect("write");
        std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .expect("chmod");
        let mut procs = Procs::default();
        procs
            .start(
                "sleeper",
                &script,
                &[("BENCH_TEST".to_owned(), "1".to_owned())],
                &dir.path().join("sleeper.log"),
            )
            .expect("starts");
        let pid = procs.0[0].pid();
        assert!(procs.0[0].exited().is_none());
        procs.stop(Duration::from_secs(2));
        assert!(
            !Path::new(&format!("/proc/{pid}")).exists(),
            "stopped and reaped"
        );
    }
}
