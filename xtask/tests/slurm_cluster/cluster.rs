//! A throwaway single-node Slurm cluster: `munged`, `slurmctld` and `slurmd` started as root,
//! without systemd, from a minimal `slurm.conf` written into a temporary folder, on free ports
//! and with a private munge socket, so it neither needs nor disturbs a Slurm or munge already on
//! the machine, and two runs in a row start from nothing. Dropping the [`Cluster`] cancels its
//! jobs and stops the daemons, also when the test panics.

use std::cell::RefCell;
use std::fs::File;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The partition every job of the cluster runs in.
pub const PARTITION: &str = "xtask";

/// Where Debian puts the daemons; `cargo test` may run with a PATH that lacks the sbin folders.
const SBIN: [&str; 3] = ["/usr/sbin", "/sbin", "/usr/bin"];

/// Slurm job states after which a job or array task does nothing more.
const FINAL_STATES: [&str; 9] = [
    "COMPLETED",
    "FAILED",
    "CANCELLED",
    "TIMEOUT",
    "NODE_FAIL",
    "OUT_OF_MEMORY",
    "BOOT_FAIL",
    "DEADLINE",
    "PREEMPTED",
];

/// One line of `scontrol -o show job`: a job, or one task of an array job.
#[derive(Debug, Clone)]
pub struct JobLine {
    /// `ArrayTaskId` (`0`, `2-3` while pending), or empty for a job that is not an array.
    pub task: String,
    /// `JobState`, e.g. `COMPLETED`.
    pub state: String,
    /// `Reason`, e.g. `DependencyNeverSatisfied`.
    pub reason: String,
}

impl JobLine {
    /// Whether the job or task has stopped for good.
    pub fn is_final(&self) -> bool {
        FINAL_STATES.contains(&self.state.as_str())
    }
}

/// A running single-node cluster; see the module docs.
pub struct Cluster {
    /// The temporary folder holding the config, state, logs and anything the test writes.
    pub root: PathBuf,
    conf: PathBuf,
    /// The daemons started so far, in order (a cell: waiting polls them through `&self`).
    daemons: RefCell<Vec<(&'static str, Child)>>,
    /// Removed after the daemons stopped (fields drop after [`Drop::drop`]).
    _dir: tempfile::TempDir,
}

/// The full path of a program, from PATH or the sbin folders.
fn program(name: &str) -> Result<PathBuf, String> {
    let path = std::env::var("PATH").unwrap_or_default();
    let found = path
        .split(':')
        .chain(SBIN)
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file());
    found.ok_or_else(|| {
        format!(
            "`{name}` is not installed; install Debian's Slurm and munge first: \
                 apt-get install -y --no-install-recommends slurm-wlm munge"
        )
    })
}

fn create_dir(path: &Path, mode: u32) -> Result<(), String> {
    std::fs::create_dir_all(path)
        .and_then(|_| std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)))
        .map_err(|e| format!("creating {}: {e}", path.display()))
}

/// A TCP port nobody listens on now (the OS picks it), for slurmctld and slurmd.
fn free_ports() -> Result<(u16, u16), String> {
    let bind = || std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string());
    let (a, b) = (bind()?, bind()?);
    let port = |l: &std::net::TcpListener| l.local_addr().map(|a| a.port());
    Ok((
        port(&a).map_err(|e| e.to_string())?,
        port(&b).map_err(|e| e.to_string())?,
    ))
}

/// The last `n` lines of a file, or why it could not be read.
fn tail(path: &Path, n: usize) -> String {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let lines: Vec<&str> = text.lines().collect();
            lines[lines.len().saturating_sub(n)..].join("\n")
        }
        Err(e) => format!("(cannot read: {e})"),
    }
}

/// Runs a command to its end; its stdout, or an error with its stderr.
fn output(cmd: &mut Command) -> Result<String, String> {
    let out = cmd.output().map_err(|e| format!("starting {cmd:?}: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "{cmd:?} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

impl Cluster {
    /// Starts munged, slurmctld and slurmd and waits until the node is idle; the error says why
    /// the cluster could not start, with the daemons' logs.
    pub fn start() -> Result<Cluster, String> {
        let uid = output(Command::new("id").arg("-u"))?;
        if uid.trim() != "0" {
            return Err(format!(
                "the Slurm cluster test must run as root (uid is {})",
                uid.trim()
            ));
        }
        let (munged, slurmctld, slurmd) = (
            program("munged")?,
            program("slurmctld")?,
            program("slurmd")?,
        );
        for client in ["sbatch", "squeue", "scontrol", "scancel", "sinfo"] {
            program(client)?;
        }
        let dir = tempfile::tempdir().map_err(|e| format!("temporary folder: {e}"))?;
        let root = dir.path().to_path_buf();
        // munged wants every folder above its socket searchable by all, and its key private.
        create_dir(&root, 0o755)?;
        let (key_dir, run, log) = (root.join("munge"), root.join("run"), root.join("log"));
        create_dir(&key_dir, 0o700)?;
        for d in [&run, &log, &root.join("state"), &root.join("spool")] {
            create_dir(d, 0o755)?;
        }
        let cluster = Cluster {
            conf: root.join("slurm.conf"),
            root,
            daemons: RefCell::new(Vec::new()),
            _dir: dir,
        };
        // A fresh random key: munge only needs both ends to share one.
        let key_path = key_dir.join("munge.key");
        let mut key = vec![0u8; 128];
        std::io::Read::read_exact(
            &mut File::open("/dev/urandom").map_err(|e| e.to_string())?,
            &mut key,
        )
        .map_err(|e| format!("reading /dev/urandom: {e}"))?;
        std::fs::write(&key_path, &key)
            .and_then(|_| {
                std::fs::set_permissions(&key_path, std::fs::Permissions::from_mode(0o600))
            })
            .map_err(|e| format!("writing {}: {e}", key_path.display()))?;
        let socket = run.join("munge.sock");
        cluster.spawn(
            "munged",
            Command::new(munged).arg("--foreground").args([
                format!("--socket={}", socket.display()),
                format!("--key-file={}", key_path.display()),
                format!("--pid-file={}", run.join("munged.pid").display()),
                format!("--seed-file={}", run.join("munged.seed").display()),
                format!("--log-file={}", log.join("munged.log").display()),
            ]),
        )?;
        cluster.wait_until(
            "munged to create its socket",
            Duration::from_secs(20),
            || socket.exists(),
        )?;

        // The node line as slurmd sees this machine (CPUs, memory), reachable on loopback.
        let probe = output(Command::new(&slurmd).arg("-C"))?;
        let node_line = probe
            .lines()
            .find(|l| l.starts_with("NodeName="))
            .ok_or_else(|| format!("`slurmd -C` printed no NodeName line:\n{probe}"))?
            .to_string();
        let node = node_line["NodeName=".len()..]
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_string();
        let (ctld_port, slurmd_port) = free_ports()?;
        let r = cluster.root.display();
        let conf = format!(
            "ClusterName=xtasktest\n\
             SlurmctldHost={node}(127.0.0.1)\n\
             SlurmctldPort={ctld_port}\n\
             SlurmdPort={slurmd_port}\n\
             SlurmUser=root\n\
             SlurmdUser=root\n\
             AuthType=auth/munge\n\
             CredType=cred/munge\n\
             AuthInfo=socket={socket}\n\
             StateSaveLocation={r}/state\n\
             SlurmdSpoolDir={r}/spool\n\
             SlurmctldPidFile={r}/run/slurmctld.pid\n\
             SlurmdPidFile={r}/run/slurmd.pid\n\
             SlurmctldLogFile={r}/log/slurmctld.log\n\
             SlurmdLogFile={r}/log/slurmd.log\n\
             ProctrackType=proctrack/linuxproc\n\
             TaskPlugin=task/none\n\
             JobAcctGatherType=jobacct_gather/none\n\
             AccountingStorageType=accounting_storage/none\n\
             JobCompType=jobcomp/none\n\
             SelectType=select/cons_tres\n\
             SelectTypeParameters=CR_Core\n\
             SchedulerType=sched/backfill\n\
             MpiDefault=none\n\
             MailProg=/bin/true\n\
             ReturnToService=2\n\
             SlurmctldTimeout=30\n\
             SlurmdTimeout=30\n\
             KillWait=5\n\
             {node_line} NodeAddr=127.0.0.1 State=UNKNOWN\n\
             PartitionName={PARTITION} Nodes=ALL Default=YES MaxTime=INFINITE State=UP\n",
            socket = socket.display(),
        );
        std::fs::write(&cluster.conf, conf).map_err(|e| e.to_string())?;
        let conf_arg = cluster.conf.clone();
        cluster.spawn(
            "slurmctld",
            Command::new(slurmctld).arg("-D").arg("-f").arg(&conf_arg),
        )?;
        cluster.spawn(
            "slurmd",
            Command::new(&slurmd)
                .args(["-D", "-N", &node, "-f"])
                .arg(&conf_arg),
        )?;
        cluster.wait_until(
            &format!("node {node} to be idle in sinfo"),
            Duration::from_secs(60),
            || {
                cluster
                    .run("sinfo", &["-h", "-n", &node, "-o", "%T"])
                    .is_ok_and(|s| s.trim() == "idle")
            },
        )?;
        Ok(cluster)
    }

    /// Starts a daemon in the foreground, its output into `log/<name>.out`.
    fn spawn(&self, name: &'static str, cmd: &mut Command) -> Result<(), String> {
        let out = self.root.join("log").join(format!("{name}.out"));
        let file = File::create(&out).map_err(|e| format!("{}: {e}", out.display()))?;
        let err = file.try_clone().map_err(|e| e.to_string())?;
        let child = cmd
            .env("SLURM_CONF", &self.conf)
            .stdin(Stdio::null())
            .stdout(file)
            .stderr(err)
            .spawn()
            .map_err(|e| format!("starting {name}: {e}"))?;
        self.daemons.borrow_mut().push((name, child));
        Ok(())
    }

    /// The first daemon that has exited, if any.
    fn stopped_daemon(&self) -> Option<String> {
        self.daemons
            .borrow_mut()
            .iter_mut()
            .find_map(|(name, child)| {
                child
                    .try_wait()
                    .ok()
                    .flatten()
                    .map(|status| format!("{name} ({status})"))
            })
    }

    /// Polls `ready` every 100 ms until it holds; fails with the logs after `timeout` or when a
    /// daemon stops.
    pub fn wait_until(
        &self,
        what: &str,
        timeout: Duration,
        mut ready: impl FnMut() -> bool,
    ) -> Result<(), String> {
        let start = Instant::now();
        while !ready() {
            if let Some(stopped) = self.stopped_daemon() {
                return Err(self.report(&format!("{stopped} stopped while waiting for {what}")));
            }
            if start.elapsed() > timeout {
                return Err(self.report(&format!("timed out after {timeout:?} waiting for {what}")));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        Ok(())
    }

    /// A command of this cluster (`SLURM_CONF` set): sbatch, squeue, ..., or xtask.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut c = Command::new(program);
        c.env("SLURM_CONF", &self.conf);
        c
    }

    /// Runs a Slurm client to its end; its stdout.
    pub fn run(&self, program: &str, args: &[&str]) -> Result<String, String> {
        output(self.command(program).args(args))
    }

    /// The job's lines (one per array task, pending tasks folded), from `scontrol`.
    pub fn job(&self, id: &str) -> Result<Vec<JobLine>, String> {
        let text = self.run("scontrol", &["-o", "show", "job", id])?;
        Ok(text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                let field = |key: &str| {
                    l.split_whitespace()
                        .find_map(|kv| kv.strip_prefix(key))
                        .unwrap_or_default()
                        .to_string()
                };
                JobLine {
                    task: field("ArrayTaskId="),
                    state: field("JobState="),
                    reason: field("Reason="),
                }
            })
            .collect())
    }

    /// Waits until every task of the jobs has stopped (or one waits on a dependency that can
    /// never be met), then returns their lines.
    pub fn wait_final(&self, ids: &[&str], timeout: Duration) -> Result<Vec<JobLine>, String> {
        let mut lines = Vec::new();
        let mut error = None;
        let what = format!("jobs {ids:?} to finish");
        self.wait_until(&what, timeout, || {
            lines.clear();
            for id in ids {
                match self.job(id) {
                    Ok(l) => lines.extend(l),
                    Err(e) => {
                        error = Some(e);
                        return true;
                    }
                }
            }
            lines
                .iter()
                .all(|l| l.is_final() || l.reason == "DependencyNeverSatisfied")
        })?;
        match error {
            Some(e) => Err(self.report(&e)),
            None => Ok(lines),
        }
    }

    /// Waits for the jobs and fails unless every task of them completed successfully.
    pub fn wait_completed(&self, ids: &[&str], timeout: Duration) -> Result<(), String> {
        let lines = self.wait_final(ids, timeout)?;
        if lines.iter().all(|l| l.state == "COMPLETED") {
            Ok(())
        } else {
            Err(self.report(&format!("jobs {ids:?} did not all complete: {lines:?}")))
        }
    }

    /// `what`, then the queue, the daemons' logs and every job output under the cluster's
    /// folder: the failure message of a test that could not get its jobs through.
    pub fn report(&self, what: &str) -> String {
        let mut text = format!("{what}\n--- squeue\n");
        text.push_str(&self.run("squeue", &["-a"]).unwrap_or_else(|e| e));
        let mut files: Vec<PathBuf> = Vec::new();
        let mut stack = vec![self.root.clone()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                let p = entry.path();
                if p.is_dir() {
                    stack.push(p);
                } else if p.extension().is_some_and(|e| e == "log" || e == "out") {
                    files.push(p);
                }
            }
        }
        files.sort();
        for f in files {
            text.push_str(&format!("\n--- {} (end)\n{}\n", f.display(), tail(&f, 40)));
        }
        text
    }
}

impl Drop for Cluster {
    /// Cancels every job, shuts Slurm down, then stops munged; kills what does not stop.
    fn drop(&mut self) {
        let daemons = self.daemons.get_mut().len();
        if daemons == 3 {
            let _ = self.run("scancel", &["--partition", PARTITION]);
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(20)
                && self
                    .run("squeue", &["-h"])
                    .is_ok_and(|q| !q.trim().is_empty())
            {
                std::thread::sleep(Duration::from_millis(200));
            }
            let _ = self.run("scontrol", &["shutdown"]);
        }
        while let Some((_, mut child)) = self.daemons.get_mut().pop() {
            let _ = Command::new("kill")
                .args(["-TERM", &child.id().to_string()])
                .stderr(Stdio::null())
                .status();
            let start = Instant::now();
            while start.elapsed() < Duration::from_secs(10) && matches!(child.try_wait(), Ok(None))
            {
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
