"""A single-node Slurm (munged, slurmctld, slurmd from Debian's slurm-wlm and munge) and a Ray
head on loopback, each started for the `cluster` tests in its own folder with its own
ports and stopped after them: nothing is left running, and no system-wide Slurm, munge or
Ray (another user's, /tmp/ray) is touched. `available()` says why one cannot start."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

SLURM_BINARIES = ("munged", "slurmctld", "slurmd", "sbatch", "squeue", "sinfo", "scancel")


def missing_slurm() -> str | None:
    gone = [b for b in SLURM_BINARIES if shutil.which(b) is None and not Path(f"/usr/sbin/{b}").exists()]
    if gone:
        return f"Slurm not installed ({', '.join(gone)} missing: apt-get install slurm-wlm munge)"
    if os.geteuid() != 0:
        return "the test Slurm runs its daemons as root"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _exe(name: str) -> str:
    return shutil.which(name) or f"/usr/sbin/{name}"


def _stop(procs: list[subprocess.Popen]) -> None:
    """Each daemon's own process group, then a wait: only what these tests started."""
    for proc in reversed(procs):
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    for proc in reversed(procs):
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait(timeout=5)


class Slurm:
    """`with Slurm(folder, real_memory_mb=6000) as s:` -> s.env (SLURM_CONF) for the clients."""

    def __init__(self, folder: Path, real_memory_mb: int = 6000):
        self.folder = Path(folder)
        self.real_memory_mb = real_memory_mb
        self.procs: list[subprocess.Popen] = []
        self.conf = self.folder / "slurm.conf"
        self.env = {"SLURM_CONF": str(self.conf)}

    def _spawn(self, *cmd: str, log: str) -> subprocess.Popen:
        out = open(self.folder / log, "ab")
        proc = subprocess.Popen(["nice", "-n", "10", *cmd], stdout=out, stderr=subprocess.STDOUT,
                                start_new_session=True, env={**os.environ, **self.env})
        self.procs.append(proc)
        return proc

    def __enter__(self) -> "Slurm":
        f = self.folder
        for sub in ("state", "spool", "munge"):
            (f / sub).mkdir(parents=True, exist_ok=True)
        os.chmod(f / "munge", 0o700)
        key = f / "munge" / "munge.key"
        key.write_bytes(os.urandom(128))
        os.chmod(key, 0o600)
        sock = f / "munge" / "munge.socket"
        self._spawn(_exe("munged"), "--foreground", "--force", f"--socket={sock}",
                    f"--key-file={key}", f"--pid-file={f / 'munge' / 'munged.pid'}",
                    f"--log-file={f / 'munge' / 'munged.log'}",
                    f"--seed-file={f / 'munge' / 'munged.seed'}", log="munged.out")
        host = socket.gethostname().split(".")[0]
        cpus = len(os.sched_getaffinity(0))
        self.conf.write_text(f"""\
ClusterName=gradertest
SlurmctldHost={host}(127.0.0.1)
SlurmctldPort={_free_port()}
SlurmdPort={_free_port()}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket={sock}
CredType=cred/munge
StateSaveLocation={f / 'state'}
SlurmdSpoolDir={f / 'spool'}
SlurmctldPidFile={f / 'slurmctld.pid'}
SlurmdPidFile={f / 'slurmd.pid'}
SlurmctldLogFile={f / 'slurmctld.log'}
SlurmdLogFile={f / 'slurmd.log'}
ProctrackType=proctrack/pgid
TaskPlugin=task/affinity
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SchedulerType=sched/backfill
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
MpiDefault=none
ReturnToService=2
MinJobAge=10
KillWait=5
InactiveLimit=0
SlurmdTimeout=60
MailProg=/bin/true
NodeName={host} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={self.real_memory_mb} State=UNKNOWN
PartitionName=debug Nodes={host} Default=YES MaxTime=INFINITE State=UP
""")
        for _ in range(50):
            if sock.exists():
                break
            time.sleep(0.1)
        self._spawn(_exe("slurmctld"), "-D", "-i", "-f", str(self.conf), log="slurmctld.out")
        self._spawn(_exe("slurmd"), "-D", "-N", host, "-f", str(self.conf), log="slurmd.out")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            out = subprocess.run(["sinfo", "-h", "-o", "%t"], capture_output=True, text=True,
                                 env={**os.environ, **self.env})
            if out.returncode == 0 and out.stdout.strip() in ("idle", "mix", "alloc"):
                return self
            if any(p.poll() is not None for p in self.procs):
                break
            time.sleep(0.5)
        logs = "\n".join(f"{n}: {(f / n).read_text()[-600:]}" for n in
                         ("munged.out", "slurmctld.log", "slurmd.log", "slurmctld.out", "slurmd.out")
                         if (f / n).exists())
        self.__exit__(None, None, None)
        raise RuntimeError(f"the test Slurm did not come up:\n{logs}")

    def __exit__(self, *exc) -> None:
        _stop(self.procs)
        self.procs.clear()


class RayHead:
    """`ray start --head --block` on loopback in its own session and temp folder, with token
    auth when `token` is given; stopped by killing that session only (`ray stop` would stop
    every Ray on the machine)."""

    def __init__(self, folder: Path, token: str | None = None, cpus: int = 2):
        self.folder, self.token, self.cpus = Path(folder), token, cpus
        self.port = _free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> "RayHead":
        ray_bin = Path(sys.executable).parent / "ray"
        env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
        env.pop("RAY_ADDRESS", None)
        if self.token:
            env.update(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=self.token)
        (self.folder / "tmp").mkdir(parents=True, exist_ok=True)
        log = open(self.folder / "ray-head.log", "ab")
        self.proc = subprocess.Popen(
            ["nice", "-n", "10", str(ray_bin), "start", "--head", "--block", "--port", str(self.port),
             "--node-ip-address", "127.0.0.1", "--num-cpus", str(self.cpus),
             "--include-dashboard", "false", "--disable-usage-stats",
             "--temp-dir", str(self.folder / "tmp")],
            stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError((self.folder / "ray-head.log").read_text()[-2000:])
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    time.sleep(3)  # the GCS listens before the raylet has registered
                    return self
            time.sleep(0.5)
        self.__exit__()
        raise RuntimeError("the Ray head did not listen in 90 s")

    def __exit__(self, *exc) -> None:
        if self.proc is not None:
            _stop([self.proc])
            self.proc = None
