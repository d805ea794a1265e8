# SPDX-License-Identifier: LGPL-2.1-or-later
"""Shared helpers of the slabcached selftests: TAP output, servers on free
loopback ports, raw protocol exchanges that end on a sentinel reply (never
on a timeout), and the daemon's own counters."""

import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time


class Tap:
    """TAP 13 on stdout; the plan comes last."""

    def __init__(self):
        self.n = 0
        self.failed = 0
        print("TAP version 13", flush=True)

    def ok(self, cond, desc, diag=None):
        self.n += 1
        if cond:
            print(f"ok {self.n} - {desc}", flush=True)
        else:
            self.failed += 1
            print(f"not ok {self.n} - {desc}", flush=True)
            if diag:
                for line in str(diag).splitlines()[:40]:
                    print(f"# {line}", flush=True)
        return cond

    def skip(self, desc, reason):
        self.n += 1
        print(f"ok {self.n} - {desc} # SKIP {reason}", flush=True)

    def diag(self, msg):
        for line in str(msg).splitlines():
            print(f"# {line}", flush=True)

    def done(self):
        print(f"1..{self.n}", flush=True)
        return 1 if self.failed else 0


def objtree():
    here = os.path.dirname(os.path.abspath(__file__))
    return os.environ.get("SC_OBJTREE",
                          os.path.join(here, "..", "..", "build"))


def daemon_path():
    return os.path.join(objtree(), "tools", "slabcached", "slabcached")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def raise_nofile(n):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < n:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(n, hard), hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


PORT_FILE_VAR = "MEMCACHED_PORT_FILENAME"


def read_port_file(path):
    """The first TCP port a daemon wrote to its MEMCACHED_PORT_FILENAME
    (it renames the file into place whole); None while there is none."""
    try:
        with open(path) as f:
            for line in f:
                if line.startswith("TCP INET"):
                    return int(line.split(":")[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


def spawn_on_port(argv, env=None, timeout=20, **popen):
    """Start a daemon that speaks memcached's port file protocol with
    "-p -1" in @argv: the kernel picks its port when it binds, so no other
    daemon of a parallel test can hold that port, as one can hold a port
    that free_port() returned before the daemon got to bind it. Return
    (process, port), or (process, None) if it exited first or wrote no
    port within @timeout seconds. A port file named in @env is the
    caller's to read and remove; otherwise one of its own is used."""
    env = dict(os.environ if env is None else env)
    d = None
    if PORT_FILE_VAR not in env:
        d = tempfile.mkdtemp(prefix="sdtest-port-",
                             dir=os.environ.get("TMPDIR", "/tmp"))
        # memcached -u writes it after it has dropped root
        os.chmod(d, 0o1777)
        env[PORT_FILE_VAR] = os.path.join(d, "ports")
    path = env[PORT_FILE_VAR]
    proc = subprocess.Popen(argv, env=env, **popen)
    port = None
    try:
        deadline = time.monotonic() + timeout
        while port is None and proc.poll() is None and \
                time.monotonic() < deadline:
            port = read_port_file(path)
            if port is None:
                time.sleep(0.02)
    finally:
        if d:
            shutil.rmtree(d, ignore_errors=True)
    return proc, (port if proc.poll() is None else None)


class Server:
    """A server process on a loopback port: slabcached or memcached.

    Without @port, @argv says "-p -1" and the port is the one the daemon
    writes to its port file (spawn_on_port()). With @port, it is told that
    port: only for a test that needs to know the port before the start (a
    restart on the same port, a port file of its own); a daemon that fails
    to bind it exits, and the start fails, rather than the test talking to
    another test's daemon on that port."""

    def __init__(self, argv, port=None, env=None, preexec=None):
        self.argv = argv
        # a name of its own: a port number is reused by other runs
        fd, self.logpath = tempfile.mkstemp(
            prefix=f"sdtest-{os.path.basename(argv[0])}-",
            suffix=".log", dir=os.environ.get("TMPDIR", "/tmp"))
        self.log = os.fdopen(fd, "w+")
        popen = dict(stdout=self.log, stderr=self.log, preexec_fn=preexec)
        self.port = port
        if port is not None and env is not None and PORT_FILE_VAR in env:
            # a port file the test may have made unwritable: only a
            # connection tells that it listens
            self.proc = subprocess.Popen(argv, env=env, **popen)
        else:
            # the port file is written once the daemon has bound its port
            self.proc, bound = spawn_on_port(argv, env, **popen)
            if bound is None or (port is not None and bound != port):
                self.proc.kill()
                self.proc.wait()
                raise RuntimeError(f"{argv[0]} did not start: "
                                   f"{self.logtext()}")
            self.port = bound
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), 1).close()
                if self.proc.poll() is None:
                    break
            except OSError:
                pass
            if self.proc.poll() is not None or \
                    time.monotonic() > deadline:
                raise RuntimeError(f"{argv[0]} did not start: "
                                   f"{self.logtext()}")
            time.sleep(0.05)

    @classmethod
    def slabcached(cls, *args, port=None, env=None, preexec=None):
        return cls([daemon_path(), "-p", str(port or -1), *args], port, env,
                   preexec)

    @classmethod
    def memcached(cls, *args, port=None, env=None):
        exe = shutil.which("memcached")
        if not exe:
            return None
        user = ["-u", "nobody"] if os.geteuid() == 0 else []
        return cls([exe, "-p", str(port or -1), "-l", "127.0.0.1", "-U", "0",
                    *user, *args], port, env)

    def logtext(self):
        self.log.flush()
        self.log.seek(0)
        return self.log.read()[-4000:]

    def alive(self):
        """Running: not reaped, and not already past exit_mm() (a process
        being OOM-killed has lost its VmRSS line before it can be reaped)."""
        if self.proc.poll() is not None:
            return False
        try:
            with open(f"/proc/{self.proc.pid}/status") as f:
                if any(line.startswith("VmRSS:") for line in f):
                    return True
        except OSError:
            return False
        # dying: reap it so returncode says how it ended
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        return False

    def rss_kib(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def stop(self, sig=signal.SIGTERM, timeout=10):
        """Stop it; return its exit status (None if it had to be killed)."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                return None
        self.log.close()
        if self.proc.returncode == 0:  # kept for a look otherwise
            os.unlink(self.logpath)
        return self.proc.returncode


def terminate(proc, timeout=20):
    """SIGTERM a daemon started with Popen (stderr piped); return None if
    it exited 0, else how it ended and the tail of its stderr."""
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    if proc.returncode == 0:
        return None
    return f"exit {proc.returncode}: {proc.stderr.read()[-600:]!r}"


# The sentinel ends every raw exchange: three replies no case ends with in
# this order, produced by commands that change nothing (no CAS is used up).
SENTINEL = b"delete __sync__\r\nverbosity 0\r\ntouch __sync__ 0\r\n"
SENTINEL_REPLY = b"NOT_FOUND\r\nOK\r\nNOT_FOUND\r\n"


def exchange(port, data, sentinel=True, timeout=10):
    """Send @data (and the sentinel); return every reply byte up to the
    sentinel's reply, or up to EOF if the server closes first. A reply that
    does not end within @timeout seconds raises (a test failure, not a
    measurement)."""
    s = socket.create_connection(("127.0.0.1", port), timeout)
    try:
        s.sendall(data + (SENTINEL if sentinel else b""))
        out = b""
        while True:
            if sentinel and out.endswith(SENTINEL_REPLY):
                return out[:-len(SENTINEL_REPLY)]
            try:
                d = s.recv(1 << 16)
            except ConnectionResetError:
                return out + b"<EOF>"
            if not d:
                return out + b"<EOF>"
            out += d
    finally:
        s.close()


class Client:
    """A line-oriented client on one connection, for checks between abuse."""

    def __init__(self, port, timeout=10):
        self.s = socket.create_connection(("127.0.0.1", port), timeout)
        self.buf = b""

    def send(self, data):
        self.s.sendall(data)

    def readline(self):
        while b"\r\n" not in self.buf:
            d = self.s.recv(65536)
            if not d:
                raise EOFError("server closed")
            self.buf += d
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def read(self, n):
        while len(self.buf) < n:
            d = self.s.recv(65536)
            if not d:
                raise EOFError("server closed")
            self.buf += d
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def set(self, key, value, flags=0):
        self.send(b"set %s %d 0 %d\r\n%s\r\n" % (key, flags, len(value),
                                                  value))
        return self.readline()

    def get(self, key):
        self.send(b"get %s\r\n" % key)
        line = self.readline()
        if line == b"END":
            return None
        parts = line.split()
        value = self.read(int(parts[3]) + 2)[:-2]
        if self.readline() != b"END":
            raise ValueError("no END")
        return value

    def stats(self, sub=b""):
        self.send(b"stats %s\r\n" % sub if sub else b"stats\r\n")
        st = {}
        while True:
            line = self.readline()
            if line == b"END":
                return st
            _, k, v = line.decode().split(" ", 2)
            st[k] = v

    def close(self):
        self.s.close()


def stats(port, sub=b""):
    c = Client(port)
    try:
        return c.stats(sub)
    finally:
        c.close()


def wait_for(cond, timeout=10, step=0.05):
    """Poll @cond until true; False if @timeout passes (a failure bound, not
    a speed measure)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(step)
    return cond()


def have_module(name):
    try:
        __import__(name)
        return True
    except ImportError:
        return False


def die(msg):
    print(f"Bail out! {msg}", flush=True)
    sys.exit(1)
