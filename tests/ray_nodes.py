"""A real Ray cluster of `ray start` processes on this machine, for tests, that touches
no other Ray instance: its files live under a private `RAY_TMPDIR` (so `address=auto`
finds it only for clients given that environment, and `/tmp/ray` is left alone), and
clean-up ends only the processes it started (the `ray start --block` processes,
everything below them, and any process naming its temp dir), by PID: `ray stop` would
end every Ray process on the machine, other people's too.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

BIN = Path(sys.executable).parent
RAY = str(BIN / "ray")


def free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def http_status(url: str, headers: dict[str, str] | None = None) -> int | None:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=5) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except (urllib.error.URLError, OSError):
        return None


class LocalCluster:
    """A head and worker node started with `ray start --block`, each in its own session,
    one CPU each, token authentication on (the token in `root/auth_token`), or off with
    `auth="disabled"`."""

    def __init__(self, root: Path, *, dashboard: bool = True, auth: str = "token"):
        self.root = root
        self.with_dashboard = dashboard
        self.temp_dir = Path(tempfile.mkdtemp(prefix="garay-ray-", dir="/tmp"))  # short: socket paths
        self.token = secrets.token_hex(32)
        token_file = root / "auth_token"
        token_file.write_text(self.token)
        token_file.chmod(0o600)
        env = {k: v for k, v in os.environ.items() if not k.startswith(("RAY_ADDRESS", "RAY_AUTH"))}
        env.update(
            PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",  # jobs inherit it: `garay` resolves to this venv
            RAY_AUTH_MODE=auth,
            **({"RAY_AUTH_TOKEN_PATH": str(token_file)} if auth == "token" else {}),
            RAY_USAGE_STATS_ENABLED="0",
            RAY_TMPDIR=str(self.temp_dir),  # sessions and the `auto` address file: ours only
        )
        self.env = env
        self.gcs_port, self.dashboard_port, self.client_port = free_ports(3)
        self.dashboard = f"http://127.0.0.1:{self.dashboard_port}"
        self.procs: list[subprocess.Popen] = []

    # Each node's dashboard agent on a port its OS picks: two nodes on one machine must not
    # share Ray's default, and a port chosen here and bound later can be taken in between (then
    # the head's agent serves no HTTP, and every job submission says "No available agent").
    AGENT_PORT = ("--dashboard-agent-listen-port=0",)

    def _start(self, name: str, *args: str) -> None:
        log = open(self.root / f"{name}.log", "w")
        self.procs.append(subprocess.Popen(
            [RAY, "start", "--block", "--num-cpus=1", "--num-gpus=0", "--object-store-memory=100000000",
             "--disable-usage-stats", *args],
            env=self.env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        ))

    def start(self, timeout: float = 180) -> None:
        dashboard = (["--include-dashboard=true", "--dashboard-host=127.0.0.1", f"--dashboard-port={self.dashboard_port}"]
                     if self.with_dashboard else ["--include-dashboard=false"])
        self._start("head", "--head", "--node-ip-address=127.0.0.1", f"--port={self.gcs_port}", *dashboard,
                    f"--ray-client-server-port={self.client_port}", *self.AGENT_PORT)
        if self.with_dashboard:
            self._wait(lambda: http_status(f"{self.dashboard}/api/version") is not None, timeout, "head dashboard")
        self._start("worker", f"--address=127.0.0.1:{self.gcs_port}", "--node-ip-address=127.0.0.1",
                    *self.AGENT_PORT)
        self._wait(lambda: self.alive_nodes() >= 2, timeout, "all nodes")
        if self.with_dashboard:  # the job API answers before the head's agent can take a job
            self._wait(self._takes_jobs, timeout, "job agent")

    def _takes_jobs(self) -> bool:
        """Whether the dashboard accepts a job (a no-op one): it refuses with "No available
        agent" until the head node's dashboard agent has registered."""
        headers = {"Content-Type": "application/json",
                   **({"Authorization": f"Bearer {self.token}"} if self.env.get("RAY_AUTH_MODE") == "token" else {})}
        request = urllib.request.Request(f"{self.dashboard}/api/jobs/", data=b'{"entrypoint": "true"}',
                                         headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=30) as resp:
                return resp.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def _wait(self, ready, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for proc in self.procs:
                if proc.poll() is not None:
                    raise RuntimeError(f"ray start exited with {proc.returncode} waiting for the {what}: {self.logs()}")
            if ready():
                return
            time.sleep(1)
        raise TimeoutError(f"the {what} did not come up in {timeout} s: {self.logs()}")

    def alive_nodes(self) -> int:
        code = (f"import ray; ray.init(address='127.0.0.1:{self.gcs_port}', log_to_driver=False); "
                "print(sum(n['Alive'] for n in ray.nodes()))")
        proc = subprocess.run([sys.executable, "-c", code], env=self.env, capture_output=True, text=True, timeout=120)
        return int(proc.stdout.split()[-1]) if proc.returncode == 0 and proc.stdout.split() else 0

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}" for p in sorted(self.root.glob("*.log")))

    def _ours(self) -> dict[int, str]:
        """pid -> command line of the `ray start` processes, all their descendants, and any
        process whose command line names our temp dir (re-parented after its parent died)."""
        table = processes()
        ours = {p.pid for p in self.procs if p.pid in table}
        grew = True
        while grew:
            more = {pid for pid, (ppid, _) in table.items() if ppid in ours} - ours
            ours |= more
            grew = bool(more)
        ours |= {pid for pid, (_, cmd) in table.items() if str(self.temp_dir) in cmd}
        ours.discard(os.getpid())
        return {pid: table[pid][1] for pid in ours}

    def running(self) -> dict[int, str]:
        """The cluster's processes still alive (after stop(): none, or a leak)."""
        return self._ours()

    def stop(self) -> None:
        ours = self._ours()

        def still_ours() -> dict[int, str]:  # the same pid running the same command: not a reused pid
            now = processes()
            return {pid: cmd for pid, cmd in ours.items() if pid in now and now[pid][1] == cmd} | self._ours()

        for popen in reversed(self.procs):  # worker first; `ray start --block` stops its node on SIGTERM
            if popen.poll() is None:
                popen.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and still_ours():
            time.sleep(0.5)
        for pid in still_ours():
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        for popen in self.procs:
            try:
                popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        shutil.rmtree(self.temp_dir, ignore_errors=True)


def processes() -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, command line) of every live process, from /proc (Linux), zombies left out."""
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            fields = stat[stat.rindex(")") + 2:].split()
            if fields[0] == "Z":
                continue
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            table[int(entry.name)] = (int(fields[1]), cmd)
        except (OSError, ValueError):
            pass
    return table
