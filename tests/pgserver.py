"""A real, throw-away PostgreSQL server for the tests.

``PgServer.start()`` finds ``initdb`` and ``postgres`` (on ``PATH``, else the newest
``/usr/lib/postgresql/*/bin``, where Debian's ``postgresql`` package puts them), creates a
cluster in a temporary folder and starts the postmaster on 127.0.0.1 on a free port, its unix
socket inside that folder. ``stop()`` ends that postmaster by its own process id (SIGINT: fast
shutdown), waits for it and removes the folder.

Authentication: the superuser ``annotator`` has a password; TCP connections (every URL the
tests use) need it (``scram-sha-256``), so a wrong password is refused like on a real server.
Only the unix socket inside the private temporary folder trusts the local user.

PostgreSQL refuses to run as root: as root the cluster belongs to the unprivileged
``postgres`` user that the Debian package creates (``nobody`` where there is none), and
``initdb``/``postgres`` run as that user.
"""

from __future__ import annotations

import atexit
import glob
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

USER = "annotator"
BINARIES = ("initdb", "postgres")


def find_bindir() -> Path | None:
    """The folder holding ``initdb`` and ``postgres``: ``PATH`` first, then the newest
    ``/usr/lib/postgresql/<version>/bin``; None when there is none."""
    found = [shutil.which(b) for b in BINARIES]
    if all(found):
        dirs = {Path(f).resolve().parent for f in found}
        if len(dirs) == 1:
            return dirs.pop()
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin"),
                        key=lambda p: _version_key(Path(p).parent.name), reverse=True)
    for d in candidates:
        if all(os.access(Path(d) / b, os.X_OK) for b in BINARIES):
            return Path(d)
    return None


def _version_key(name: str) -> tuple:
    return tuple(int(p) if p.isdigit() else 0 for p in name.split("."))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PgServer:
    def __init__(self, bindir: Path):
        self.bindir = bindir
        self.password = secrets.token_hex(8)
        self.port = 0
        self.root: Path | None = None
        self.proc: subprocess.Popen | None = None
        self._run_as: dict = {}
        self._n = 0

    # -------------------------------------------------------------- life cycle
    def start(self, timeout: float = 60.0) -> PgServer:
        """Create the cluster and start the server; on failure nothing is left running."""
        atexit.register(self.stop)  # also when the caller never gets to call it
        try:
            return self._start(timeout)
        except BaseException:
            self.stop()
            raise

    def _start(self, timeout: float) -> PgServer:
        as_root = os.getuid() == 0
        # as root, in /tmp: the server's user must reach the folder (TMPDIR may be private)
        self.root = Path(tempfile.mkdtemp(prefix="annotator-pg-", dir="/tmp" if as_root
                                          else None))
        if as_root:
            try:
                pw = pwd.getpwnam("postgres")
            except KeyError:
                pw = pwd.getpwnam("nobody")
            os.chown(self.root, pw.pw_uid, pw.pw_gid)
            self._run_as = {"user": pw.pw_uid, "group": pw.pw_gid, "extra_groups": []}
        (self.root / "pwfile").write_text(self.password + "\n")
        if self._run_as:
            os.chown(self.root / "pwfile", self._run_as["user"], self._run_as["group"])
        self._run([str(self.bindir / "initdb"), "-D", str(self.root / "data"), "-U", USER,
                   "--pwfile", str(self.root / "pwfile"), "--auth-local=trust",
                   "--auth-host=scram-sha-256", "-E", "UTF8", "--locale=C", "-N"])
        for attempt in range(3):  # the free port may be taken between the probe and the bind
            self.port = _free_port()
            log = open(self.root / "postgres.log", "wb")  # noqa: SIM115 - kept for the server
            self.proc = subprocess.Popen(
                [str(self.bindir / "postgres"), "-D", str(self.root / "data"),
                 "-h", "127.0.0.1", "-p", str(self.port), "-k", str(self.root),
                 # a test cluster: durability is not needed, speed is
                 "-c", "fsync=off", "-c", "synchronous_commit=off",
                 "-c", "full_page_writes=off", "-c", "max_connections=200"],
                stdout=log, stderr=subprocess.STDOUT, cwd=self.root, **self._run_as)
            log.close()
            if self._wait_ready(timeout):
                return self
            if attempt == 2 or "could not bind" not in self.log():
                raise RuntimeError(f"PostgreSQL did not start:\n{self.log()}")
            self.proc.wait()
        raise AssertionError("unreachable")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # fast shutdown of the postmaster we started
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None

    def _run(self, cmd: list[str]) -> None:
        res = subprocess.run(cmd, capture_output=True, text=True, cwd=self.root,
                             **self._run_as)
        if res.returncode:
            raise RuntimeError(f"{' '.join(cmd)} failed:\n{res.stdout}{res.stderr}")

    def _wait_ready(self, timeout: float) -> bool:
        import psycopg

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                psycopg.connect(self.dsn("postgres"), connect_timeout=2).close()
                return True
            except psycopg.OperationalError:
                time.sleep(0.05)
        return False

    def log(self) -> str:
        try:
            return (self.root / "postgres.log").read_text(errors="replace")
        except (OSError, TypeError):
            return ""

    # -------------------------------------------------------------- databases
    def dsn(self, dbname: str) -> str:
        return (f"host=127.0.0.1 port={self.port} user={USER} password={self.password} "
                f"dbname={dbname}")

    def url(self, dbname: str, *, password: bool = True) -> str:
        """A SQLAlchemy URL of database ``dbname`` (over TCP, with the password unless not)."""
        auth = f"{USER}:{self.password}" if password else USER
        return f"postgresql+psycopg://{auth}@127.0.0.1:{self.port}/{dbname}"

    def sql(self, statement: str, dbname: str = "postgres") -> None:
        import psycopg

        with psycopg.connect(self.dsn(dbname), autocommit=True) as c:
            c.execute(statement)

    def create_database(self, prefix: str = "t", template: str | None = None) -> str:
        """Create a new empty database (a copy of ``template`` when given); its name."""
        self._n += 1
        name = f"{prefix}_{os.getpid()}_{self._n}"
        self.sql(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
        return name
