"""A pre-imported parent for the fallback's children: each run is a fork, not a fresh Python.

Starting Python and importing torch and torchvision takes 2-10 s; training a tiny model on
a GPU takes less. So, where the child confines itself (`landlock` and `none`: the layers
of `confine.enter` need no exec), one server per grader thread imports everything the
worker needs once and forks a child per run:

- the server never runs student code, never initialises CUDA (a fork after that is
  unusable) and keeps no state from one run to the next: every run is a fresh fork of
  the same pristine process, so nothing one submission does reaches the next;
- the forked child does exactly what an exec'd one does between fork and exec
  (`confine.preexec`: it joins the run's cgroup, then limits, affinity, no new
  privileges, the kernel's kill when its parent dies) and then `worker.main`, which
  stacks the fallback layers before any student code is imported;
- the server has the trimmed environment a child gets, and each child gets its job's.

bubblewrap needs a fresh exec into new namespaces, so in `bwrap` mode every run still
starts its own Python (launch.py); GRADER_FORKSERVER=0 does that in every mode.

Protocol, over a SOCK_SEQPACKET socket pair: the parent sends {"op": "run", ...} with the
log's descriptor (and the cgroup.procs files to join) and gets {"pid": P}; it watches P
through a pidfd (the server does not reap P until asked, so P cannot be reused meanwhile),
kills its process group when the run ends and then sends {"op": "reap", "pid": P} for its
exit status.
"""
from __future__ import annotations

import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

MAX_MESSAGE = 1 << 20
REPLY_S = 60
MAX_FDS = 8


def enabled() -> bool:
    return os.environ.get("GRADER_FORKSERVER", "1") != "0" and hasattr(os, "pidfd_open") \
        and hasattr(socket, "send_fds")


class ServerGone(Exception):
    pass


class Server:
    """The parent's handle on one fork server (one per grader thread: requests and
    replies are strictly in turn)."""

    def __init__(self, env: dict[str, str], startup_s: float):
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        from grader.sandbox import confine
        t0 = time.monotonic()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "grader.sandbox.forkserver", str(theirs.fileno())],
            env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, pass_fds=(theirs.fileno(),), start_new_session=True,
            preexec_fn=confine.die_with_parent())
        theirs.close()
        self.sock = ours
        self.sock.settimeout(startup_s)
        try:
            reply = self._receive()
        except (ServerGone, OSError) as e:
            self.close()
            raise ServerGone(f"the fork server did not start: {e}; {self._stderr()}") from None
        # A fork or a reap takes milliseconds; a server that does not answer (stopped by a
        # run's signal where Landlock cannot scope signals) is replaced, never waited on.
        self.sock.settimeout(REPLY_S)
        self.pid, self.env = self.proc.pid, env
        self.import_s = time.monotonic() - t0
        if reply.get("ready") is not True:
            self.close()
            raise ServerGone(f"the fork server said {reply!r}")

    def fork(self, *, job_dir: Path, cwd: Path, env: dict, preexec: dict, fds: list[int]) -> "Forked":
        """`fds`: the log the child writes to, then the cgroup.procs files it joins."""
        self._send({"op": "run", "job_dir": str(job_dir), "cwd": str(cwd), "env": env,
                    "preexec": preexec}, fds)
        reply = self._receive()
        if "pid" not in reply:
            raise ServerGone(f"the fork server could not fork: {reply.get('error')}")
        return Forked(self, reply["pid"])

    def reap(self, pid: int) -> int:
        self._send({"op": "reap", "pid": pid})
        return self._receive()["status"]

    def alive(self) -> bool:
        return self.proc.poll() is None

    def close(self) -> None:
        try:
            self.sock.close()
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
            self.proc.wait()

    def _send(self, message: dict, fds: list[int] = ()) -> None:
        try:
            socket.send_fds(self.sock, [json.dumps(message).encode()], list(fds))
        except OSError as e:
            raise ServerGone(f"the fork server is gone ({e})") from None

    def _receive(self) -> dict:
        try:
            data = self.sock.recv(MAX_MESSAGE)
        except OSError as e:  # a timeout included
            self.proc.kill()
            raise ServerGone(f"the fork server did not answer ({e})") from None
        if not data:
            raise ServerGone("the fork server is gone")
        return json.loads(data)

    def _stderr(self) -> str:
        if self.proc.poll() is None:
            return ""
        return (self.proc.stderr.read() or b"").decode(errors="replace")[-2000:]


class Forked:
    """A run forked by the server, with what launch.py uses of a Popen: pid, poll, wait.
    The pidfd says when it has ended; the server then reaps it for its status."""

    def __init__(self, server: Server, pid: int):
        self.server, self.pid, self.returncode = server, pid, None
        self.pidfd = os.pidfd_open(pid)

    def poll(self) -> int | None:
        if self.returncode is None and select.select([self.pidfd], [], [], 0)[0]:
            self._reap()
        return self.returncode

    def wait(self) -> int:
        if self.returncode is None:
            select.select([self.pidfd], [], [])
            self._reap()
        return self.returncode

    def kill(self) -> None:
        if self.returncode is None:
            signal.pidfd_send_signal(self.pidfd, signal.SIGKILL)

    def _reap(self) -> None:
        try:
            self.returncode = self.server.reap(self.pid)
        except ServerGone:  # it died with its server: killed, as far as anyone can tell
            self.returncode = -signal.SIGKILL
        os.close(self.pidfd)


_LOCAL = threading.local()


def server(env: dict[str, str], startup_s: float) -> Server:
    """This thread's fork server, started on first use (that start-up is the imports
    every exec'd child pays per run) and again if it has died or the environment it was
    given has changed."""
    current = getattr(_LOCAL, "server", None)
    if current is not None and current.alive() and current.env == env:
        return current
    if current is not None:
        current.close()
    _LOCAL.server = Server(env, startup_s)
    return _LOCAL.server


# ---- the server's side ------------------------------------------------------------

def _warm_up() -> None:
    """Everything the worker imports before it touches a submission, and nothing that
    starts a thread or a device (a fork keeps only the thread that forked)."""
    from grader.sandbox import confine, landlock, seccomp, worker
    worker.preload()
    landlock.abi()
    seccomp.available()  # loads libseccomp now, while the file system is open
    confine._libc()


def serve(fd: int) -> None:
    from grader.sandbox import confine
    sock = socket.socket(fileno=fd)
    try:
        _warm_up()
    except BaseException as e:  # noqa: BLE001 - the parent says why and falls back
        sock.send(json.dumps({"ready": False, "error": f"{type(e).__name__}: {e}"}).encode())
        raise
    import gc

    import torch
    gc.freeze()  # the imports stay shared with every fork rather than copied by the collector
    # Not dumpable: no run, same uid or not, may read or write this process's memory
    # (what every later run is forked from). Its forks inherit that.
    libc = confine._libc()
    if libc is not None:
        libc.prctl(confine.PR_SET_DUMPABLE, 0, 0, 0, 0)
    sock.send(json.dumps({"ready": True}).encode())
    while True:
        data, fds, _flags, _addr = socket.recv_fds(sock, MAX_MESSAGE, MAX_FDS)
        if not data:
            return  # the parent closed its end
        message = json.loads(data)
        if message["op"] == "reap":
            _, status = os.waitpid(message["pid"], 0)
            sock.send(json.dumps({"status": os.waitstatus_to_exitcode(status)}).encode())
            continue
        sys.stdout.flush()
        sys.stderr.flush()
        try:
            if torch.cuda.is_initialized():  # a fork would inherit a context it cannot use
                raise OSError("CUDA was initialised in the fork server")
            pid = os.fork()
        except OSError as e:
            for f in fds:
                os.close(f)
            sock.send(json.dumps({"error": str(e)}).encode())
            continue
        if pid == 0:
            sock.close()
            _child(message, fds)  # never returns
        for f in fds:
            os.close(f)
        sock.send(json.dumps({"pid": pid}).encode())


def _child(message: dict, fds: list[int]) -> None:
    """In the fork: become what `subprocess.Popen` would have started, then run the
    worker. Whatever happens, this process ends here."""
    code = 1
    try:
        from grader.sandbox import confine
        os.setsid()
        log, cgroups = fds[0], fds[1:]
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(log, 1)
        os.dup2(log, 2)
        for f in (null, log):
            os.close(f)
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGPIPE):
            signal.signal(sig, signal.SIG_DFL if sig != signal.SIGPIPE else signal.SIG_IGN)
        os.chdir(message["cwd"])
        os.environ.clear()
        os.environ.update(message["env"])
        import tempfile
        tempfile.tempdir = None  # found again from TMPDIR, the job's own folder
        confine.preexec_from(message["preexec"], os.getppid(), cgroups)()  # joins its cgroup first
        for f in cgroups:
            os.close(f)
        sys.argv = ["grader.sandbox.worker", message["job_dir"]]
        from grader.sandbox import worker
        code = worker.main(message["job_dir"])  # ends the process itself once it has saved
    except BaseException:  # noqa: BLE001 - the parent reads the log and the missing result
        import traceback
        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)


if __name__ == "__main__":
    serve(int(sys.argv[1]))
