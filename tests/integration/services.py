"""services.py: real software and process set-ups for the tests of tracing a whole service (issue 9).

Every helper here tears down what it made, whatever happens: start it with the TestCase as first
argument and it registers its own cleanup (addCleanup), or call .close() (idempotent) yourself.
None of them runs leaktop; tests/integration/test_services.py proves each one works on its own.

  Postgres(test)             a throwaway PostgreSQL 15 cluster with the pg_leak extension loaded
  Nginx(test)                nginx with 2 workers on a free loopback port; reload() waits for new workers
  MountNsWorkload(test, ..)  a workload run from a tmpfs that exists only in its own mount namespace
  Cgroup(test)               a fresh cgroup v2 group, removed at the end
  children(pid), alive(pid)  process helpers over /proc
  adopt_orphans(test)        the orphans below the test become its children: wait_exit(pid) reaps one,
                             kill_orphan(pid) one a failed test left
"""
import ctypes
import glob
import os
import pwd
import re
import shlex
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request

import harness
from harness import free_port, read_text, tail

# pg_leak(n) leaks this many bytes of plain malloc per unit of n, at the site leak_per_call
# (tests/workloads/pg_leak/pg_leak.c).
PG_LEAK_BYTES = 1234
PG_LEAK_SITE = 'leak_per_call'


def wait_for(cond, timeout, what, interval=0.02):
    """Polls COND until it returns a true value (returned); fails naming WHAT after TIMEOUT s."""
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() > deadline:
            raise AssertionError('timed out after %g s waiting for %s' % (timeout, what))
        time.sleep(interval)


def proc_state(pid):
    """The state letter of /proc/PID/stat (R, S, Z...), or None when there is no such process."""
    try:
        with open('/proc/%d/stat' % pid) as f:
            return f.read().rsplit(')', 1)[1].split()[0]
    except (OSError, IndexError):
        return None


def alive(pid):
    """PID exists and is not a zombie."""
    return proc_state(pid) not in (None, 'Z', 'X')


def children(pid):
    """The live children of PID, sorted (a scan of /proc: this kernel has no /proc/PID/task/TID/children)."""
    out = []
    for d in os.listdir('/proc'):
        if not d.isdigit():
            continue
        try:
            with open('/proc/%s/stat' % d) as f:
                fields = f.read().rsplit(')', 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid and fields[0] not in ('Z', 'X'):
            out.append(int(d))
    return sorted(out)


def cmdline(pid):
    """/proc/PID/cmdline as one string (a server's process title), '' when gone."""
    try:
        with open('/proc/%d/cmdline' % pid, 'rb') as f:
            return f.read().replace(b'\0', b' ').decode(errors='replace').strip()
    except OSError:
        return ''


def _kill(pid, sig=signal.SIGKILL):
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def _reap(pid, timeout):
    """Waits for our child PID to exit and reaps it; True when it did within TIMEOUT s."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:  # not our child (or already reaped): wait until it is gone
            if not alive(pid):
                return True
            done = 0
        if done == pid:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)


_libc = ctypes.CDLL(None, use_errno=True)
PR_SET_CHILD_SUBREAPER = 36


def _set_subreaper(on):
    if _libc.prctl(PR_SET_CHILD_SUBREAPER, 1 if on else 0, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), 'prctl(PR_SET_CHILD_SUBREAPER)')


def adopt_orphans(test):
    """Makes this process the child subreaper until TEST's cleanup: the processes orphaned below it
    (a command's child whose parent has exited) become its children, for wait_exit()."""
    _set_subreaper(True)
    test.addCleanup(_set_subreaper, False)


def wait_exit(pid, timeout):
    """Waits for PID, a child of ours (adopted: adopt_orphans()), to end and reaps it; returns its
    wait status. Fails after TIMEOUT s naming the state it is in (T: stopped)."""
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            return status
        if time.monotonic() > deadline:
            raise AssertionError('pid %d has not exited in %g s: state %s' % (pid, timeout, proc_state(pid)))
        time.sleep(0.02)


def kill_orphan(pid):
    """Kills and reaps PID if it is a child of ours still (an adopted orphan a failed test left)."""
    if pid in children(os.getpid()):
        _kill(pid)
        os.waitpid(pid, 0)


def require_tools(test, *tools):
    """Skips TEST when a tool is missing (scripts/install-deps installs them); under CI=true, fails."""
    for tool in tools:
        if not (shutil.which(tool) or os.access(tool, os.X_OK)):
            msg = '%s is not installed (scripts/install-deps installs it)' % tool
            if harness.in_ci():
                test.fail(msg)
            test.skipTest(msg)


class _Owned:
    """Base of the helpers: registers close() with the test, and closes what a failed start made."""

    def _register(self, test):
        if test is not None:
            test.addCleanup(self.close)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# --------------------------------------------------------------------------------------------------
# PostgreSQL


def pg_bindir():
    """The bin directory of PostgreSQL 15 (LEAKTOP_PG_BINDIR overrides)."""
    d = os.environ.get('LEAKTOP_PG_BINDIR')
    if d:
        return d
    if os.path.isdir('/usr/lib/postgresql/15/bin'):
        return '/usr/lib/postgresql/15/bin'
    found = sorted(glob.glob('/usr/lib/postgresql/*/bin/initdb'))
    return os.path.dirname(found[-1]) if found else '/usr/lib/postgresql/15/bin'


class PgbenchResult:
    def __init__(self, rc, stdout, stderr):
        self.rc, self.stdout, self.stderr = rc, stdout, stderr
        m = re.search(r'number of transactions actually processed: (\d+)/(\d+)', stdout)
        self.processed = int(m.group(1)) if m else None
        self.planned = int(m.group(2)) if m else None
        m = re.search(r'number of failed transactions: (\d+)', stdout)
        self.failed = int(m.group(1)) if m else None


class PgSession:
    """One psql connection kept open: one backend that lives until close(). query(SQL) -> rows."""

    MARK = '__leaktop_pg_session_end__'

    def __init__(self, pg):
        self.pg = pg
        # psql reads its script from the pipe statement by statement; stdbuf -oL makes it write each
        # result as soon as it has it (its stdout is a pipe, so it would buffer it otherwise).
        self.proc = subprocess.Popen(['stdbuf', '-oL'] + pg.psql_argv() + ['-f', '-'],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True, bufsize=1)
        try:
            self.backend_pid = int(self.query('SELECT pg_backend_pid()')[0][0])
        except BaseException:
            self.close()
            raise

    def query(self, sql, timeout=30):
        """Runs SQL (one statement, no trailing ';' needed); returns its rows as lists of strings."""
        self.proc.stdin.write(sql.rstrip().rstrip(';') + ';\n\\echo ' + self.MARK + '\n')
        self.proc.stdin.flush()
        rows, errors = [], []
        deadline = time.monotonic() + timeout
        while True:
            line = self.proc.stdout.readline()  # psql answers or dies; the deadline is a last resort
            if line == '':
                raise AssertionError('psql session ended (exit %s) during %r; errors %r' % (
                    self.proc.poll(), sql, errors))
            line = line.rstrip('\n')
            if line == self.MARK:
                break
            if line.startswith(('psql:', 'ERROR:')):
                errors.append(line)
            elif line:
                rows.append(line.split('|'))
            if time.monotonic() > deadline:
                raise AssertionError('psql session: no answer to %r in %d s' % (sql, timeout))
        if errors:
            raise AssertionError('psql session: %r failed: %s' % (sql, ' '.join(errors)))
        return rows

    def close(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for f in (self.proc.stdin, self.proc.stdout):
            try:
                f.close()
            except (OSError, ValueError):
                pass


class Postgres(_Owned):
    """A throwaway PostgreSQL 15 cluster, as root: initdb as the postgres user into a temp dir, the
    pg_leak extension's files copied into the cluster's own lib/ and share/extension/ and its
    functions created in database postgres, started with pg_ctl on 127.0.0.1:free_port() and a
    socket in the temp dir.

        pg = Postgres(self)                   # started; stopped and removed at cleanup
        pg.psql('SELECT pg_leak(3)')          # -> [['3702']]
        pg.pgbench('SELECT pg_leak(2);', clients=4, transactions=50)  # -> PgbenchResult (.processed)
        s = pg.session(); s.backend_pid; s.query('SELECT pg_leak(1)')  # a backend that stays
        pg.postmaster_pid; pg.backend_pids(); pg.child_pids()
        pg.extension_so                       # the path backends map pg_leak.so from

    PostgreSQL 15 reads extension control files from its compiled-in share dir only, so the
    extension is not installed system-wide: pg_leak--1.0.sql runs as CREATE EXTENSION would, with
    MODULE_PATHNAME set to the cluster's copy of pg_leak.so. The postmaster, which pg_ctl leaves
    behind as an orphan, is adopted by this process (PR_SET_CHILD_SUBREAPER while pg_ctl starts
    it) and reaped at stop: PID 1 here reaps nothing.
    """

    USER = 'postgres'

    def __init__(self, test=None, extension_dir=None, conf=None, start=True):
        self.bindir = pg_bindir()
        self.dir = None
        self.postmaster_pid = None
        self.sessions = []
        self.port = free_port()
        self._register(test)
        if test is not None:
            require_tools(test, os.path.join(self.bindir, 'initdb'), os.path.join(self.bindir, 'pg_ctl'),
                          os.path.join(self.bindir, 'pgbench'), os.path.join(self.bindir, 'psql'), 'stdbuf')
        try:
            self.pw = pwd.getpwnam(self.USER)
        except KeyError:
            raise AssertionError('no user %r: the postgresql-15 package creates it' % self.USER)
        src = extension_dir or os.path.join(harness.CONFIG.workloads, 'pg_leak')
        if not os.path.exists(os.path.join(src, 'pg_leak.so')):
            raise AssertionError('%s/pg_leak.so is not built (make workloads)' % src)
        self.dir = tempfile.mkdtemp(prefix='leaktop-pg-')
        os.chmod(self.dir, 0o755)
        self.data = os.path.join(self.dir, 'data')
        self.sockdir = os.path.join(self.dir, 'run')
        self.libdir = os.path.join(self.dir, 'lib')
        self.sharedir = os.path.join(self.dir, 'share', 'extension')
        self.log = os.path.join(self.dir, 'postgres.log')
        for d in (self.sockdir, self.libdir, self.sharedir):
            os.makedirs(d)
        for f in ('pg_leak.so',):
            shutil.copy2(os.path.join(src, f), self.libdir)
        for f in ('pg_leak.control', 'pg_leak--1.0.sql'):
            shutil.copy2(os.path.join(src, f), self.sharedir)
        self.extension_so = os.path.join(self.libdir, 'pg_leak.so')
        for root, dirs, files in os.walk(self.dir):
            for n in dirs + files:
                os.chown(os.path.join(root, n), self.pw.pw_uid, self.pw.pw_gid)
        os.chown(self.dir, self.pw.pw_uid, self.pw.pw_gid)
        try:
            self._as_postgres([os.path.join(self.bindir, 'initdb'), '-D', self.data, '-U', self.USER,
                               '--auth=trust', '--no-sync', '-E', 'UTF8', '--locale=C'], timeout=120)
            lines = ["listen_addresses = '127.0.0.1'", 'port = %d' % self.port,
                     "unix_socket_directories = '%s'" % self.sockdir, 'max_connections = 40',
                     'shared_buffers = 16MB', 'fsync = off', 'synchronous_commit = off',
                     'full_page_writes = off', 'autovacuum = off']
            lines += list(conf or ())
            with open(os.path.join(self.data, 'postgresql.conf'), 'a') as f:
                f.write('\n# leaktop test cluster\n' + '\n'.join(lines) + '\n')
            if start:
                self.start()
        except BaseException:
            self.close()
            raise

    def _as_postgres(self, argv, timeout=60, check=True, **kw):
        p = subprocess.run(argv, user=self.pw.pw_uid, group=self.pw.pw_gid, extra_groups=[], cwd=self.dir,
                           env=dict(os.environ, HOME=self.dir, USER=self.USER, LOGNAME=self.USER, LC_ALL='C'),
                           stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout, **kw)
        if check and p.returncode != 0:
            raise AssertionError('%s failed (exit %d):\n%s\n%s' % (' '.join(argv), p.returncode, tail(p.stdout),
                                                                 tail(p.stderr)))
        return p

    def start(self):
        """pg_ctl start -w; then loads pg_leak's functions (once)."""
        _set_subreaper(True)
        try:
            self._as_postgres([os.path.join(self.bindir, 'pg_ctl'), 'start', '-w', '-t', '60', '-D', self.data,
                               '-l', self.log], timeout=90)
        except AssertionError as e:
            raise AssertionError('%s\nserver log:\n%s' % (e, tail(read_text(self.log))))
        finally:
            _set_subreaper(False)
        with open(os.path.join(self.data, 'postmaster.pid')) as f:
            self.postmaster_pid = int(f.readline())
        if not alive(self.postmaster_pid):
            raise AssertionError('postmaster %d is not running:\n%s' % (self.postmaster_pid, tail(read_text(self.log))))
        if not self.psql("SELECT 1 FROM pg_proc WHERE proname = 'pg_leak'"):
            self.install_extension()

    def install_extension(self):
        """Runs pg_leak--1.0.sql in database postgres, MODULE_PATHNAME = the cluster's pg_leak.so."""
        with open(os.path.join(self.sharedir, 'pg_leak--1.0.sql')) as f:
            script = ''.join(l for l in f if not l.startswith('\\echo'))
        script = script.replace('MODULE_PATHNAME', self.extension_so)
        p = subprocess.run(self.psql_argv() + ['-f', '-'], input=script, capture_output=True, text=True,
                           timeout=60)
        if p.returncode != 0:
            raise AssertionError('loading pg_leak failed: %s%s' % (p.stdout, p.stderr))

    def conninfo_args(self):
        return ['-h', self.sockdir, '-p', str(self.port), '-U', self.USER]

    def psql_argv(self, db='postgres'):
        return [os.path.join(self.bindir, 'psql'), '-X', '-q', '-A', '-t', '-v', 'ON_ERROR_STOP=1',
                '-d', db] + self.conninfo_args()

    def psql(self, sql, db='postgres', timeout=60):
        """psql -c SQL (as root, over the socket); returns the rows, each a list of strings."""
        p = subprocess.run(self.psql_argv(db) + ['-c', sql], stdin=subprocess.DEVNULL, capture_output=True,
                           text=True, timeout=timeout)
        if p.returncode != 0:
            raise AssertionError('psql -c %r failed (exit %d): %s' % (sql, p.returncode, p.stderr.strip()))
        return [l.split('|') for l in p.stdout.splitlines() if l]

    def pgbench_argv(self, script_path, clients, transactions, extra=()):
        return [os.path.join(self.bindir, 'pgbench'), '-n', '-f', script_path, '-c', str(clients),
                '-t', str(transactions)] + self.conninfo_args() + list(extra) + ['postgres']

    def write_script(self, text, name='script.sql'):
        path = os.path.join(self.dir, name)
        with open(path, 'w') as f:
            f.write(text if text.endswith('\n') else text + '\n')
        return path

    def pgbench(self, script, clients=1, transactions=10, extra=(), timeout=300, check=True):
        """pgbench -n -f SCRIPT -c CLIENTS -t TRANSACTIONS (SCRIPT: SQL text, or a path to one).
        Each client is a backend of its own, forked by the postmaster at connect, gone at the end."""
        path = script if os.path.exists(script) else self.write_script(script)
        p = subprocess.run(self.pgbench_argv(path, clients, transactions, extra), stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=timeout)
        r = PgbenchResult(p.returncode, p.stdout, p.stderr)
        if check and (p.returncode != 0 or r.processed != clients * transactions):
            raise AssertionError('pgbench failed (exit %d, %s/%d transactions):\n%s\n%s' % (
                p.returncode, r.processed, clients * transactions, tail(p.stdout), tail(p.stderr)))
        return r

    def session(self):
        """A psql connection held open (closed at cleanup): its backend outlives each query."""
        s = PgSession(self)
        self.sessions.append(s)
        return s

    def backend_pids(self):
        """The client backends now connected (pg_stat_activity), less the one that asks."""
        rows = self.psql("SELECT pid FROM pg_stat_activity WHERE backend_type = 'client backend' "
                         "AND pid <> pg_backend_pid() ORDER BY pid")
        return [int(r[0]) for r in rows]

    def child_pids(self):
        """Every live child of the postmaster: backends and its auxiliary processes."""
        return children(self.postmaster_pid) if self.postmaster_pid else []

    def stop(self):
        """pg_ctl stop -m fast (immediate, then SIGKILL when that fails); reaps the postmaster."""
        for s in self.sessions:
            s.close()
        self.sessions = []
        pid, self.postmaster_pid = self.postmaster_pid, None
        if pid is None:
            return
        if alive(pid):
            for mode in ('fast', 'immediate'):
                p = self._as_postgres([os.path.join(self.bindir, 'pg_ctl'), 'stop', '-w', '-t', '30', '-m', mode,
                                       '-D', self.data], timeout=60, check=False)
                if p.returncode == 0:
                    break
        if not _reap(pid, 10):
            for c in children(pid):
                _kill(c)
            _kill(pid)
            _reap(pid, 10)

    def close(self):
        try:
            self.stop()
        finally:
            if self.dir:
                shutil.rmtree(self.dir, ignore_errors=True)
                self.dir = None


# --------------------------------------------------------------------------------------------------
# nginx


class Nginx(_Owned):
    """nginx as root, in the foreground (daemon off: the master is our child), 2 worker processes
    (as www-data), listening on 127.0.0.1:free_port(); config, logs, pid file and temp dirs in a
    temp dir. Every response names the worker that served it (X-Worker-Pid, and the body of /pid).

        ng = Nginx(self)                      # started, workers up and serving
        ng.master_pid; ng.worker_pids()       # -> [pid, pid]
        ng.get('/pid')                        # -> (status, body bytes, worker pid)
        new = ng.reload()                     # nginx -s reload; returns the new workers' pids once
                                              # the old ones are gone and a new one has served
    """

    def __init__(self, test=None, workers=2, extra_http=''):
        self.dir = None
        self.proc = None
        self.master_pid = None
        self.workers = workers
        self._register(test)
        if test is not None:
            require_tools(test, 'nginx')
        self.port = free_port()
        self.dir = tempfile.mkdtemp(prefix='leaktop-nginx-')
        os.chmod(self.dir, 0o755)
        self.conf = os.path.join(self.dir, 'nginx.conf')
        self.pidfile = os.path.join(self.dir, 'nginx.pid')
        self.error_log = os.path.join(self.dir, 'error.log')
        self.html = os.path.join(self.dir, 'html')
        os.makedirs(self.html)
        with open(os.path.join(self.html, 'index.html'), 'w') as f:
            f.write('<p>leaktop nginx fixture</p>\n' * 64)
        d = self.dir
        with open(self.conf, 'w') as f:
            f.write('''# leaktop test fixture (tests/integration/services.py)
daemon off;
master_process on;
user www-data;
worker_processes %(workers)d;
pid %(d)s/nginx.pid;
error_log %(d)s/error.log info;
events { worker_connections 64; }
http {
    access_log %(d)s/access.log;
    client_body_temp_path %(d)s/client_body;
    proxy_temp_path %(d)s/proxy;
    fastcgi_temp_path %(d)s/fastcgi;
    uwsgi_temp_path %(d)s/uwsgi;
    scgi_temp_path %(d)s/scgi;
    default_type text/plain;
    keepalive_timeout 0;
    add_header X-Worker-Pid $pid always;
    server {
        listen 127.0.0.1:%(port)d;
        root %(d)s/html;
        location = /pid { return 200 "$pid\\n"; }
        location / { index index.html; }
    }
    %(extra)s
}
''' % dict(workers=workers, d=d, port=self.port, extra=extra_http))
        try:
            self.stdout = open(os.path.join(self.dir, 'stdout.log'), 'w')
            self.proc = subprocess.Popen(['nginx', '-p', self.dir, '-e', self.error_log, '-c', self.conf],
                                         stdin=subprocess.DEVNULL, stdout=self.stdout, stderr=subprocess.STDOUT)
            self.master_pid = self.proc.pid
            self._current = wait_for(lambda: self._serving(None), 30, 'nginx to start %d workers that serve' % workers)
        except BaseException as e:
            log = self.logs()
            self.close()
            if isinstance(e, AssertionError):
                raise AssertionError('%s\n%s' % (e, log))
            raise

    def logs(self):
        return 'nginx exit %s; error.log:\n%s' % (self.proc.poll() if self.proc else None,
                                                  tail(read_text(self.error_log)))

    def worker_pids(self, include_old=False):
        """The master's worker processes; include_old: also those shutting down after a reload."""
        out = []
        for c in children(self.master_pid):
            title = cmdline(c)
            if title.startswith('nginx: worker process'):
                if include_old or 'shutting down' not in title:
                    out.append(c)
        return out

    def get(self, path='/', timeout=5):
        """GET http://127.0.0.1:PORT/PATH; returns (status, body, worker pid)."""
        with urllib.request.urlopen('http://127.0.0.1:%d%s' % (self.port, path), timeout=timeout) as r:
            return r.status, r.read(), int(r.headers['X-Worker-Pid'])

    def _serving(self, old):
        """The sorted workers when there are exactly WORKERS of them, none of OLD is left, and one
        of them served a request; else None."""
        if self.proc.poll() is not None:
            raise AssertionError('nginx exited: %s' % self.logs())
        everyone = self.worker_pids(include_old=True)
        if len(everyone) != self.workers or (old and set(old) & set(everyone)):
            return None
        try:
            status, _, served_by = self.get('/pid', timeout=2)
        except OSError:
            return None
        return sorted(everyone) if status == 200 and served_by in everyone else None

    def reload(self, timeout=30):
        """nginx -s reload (SIGHUP to the master, by the pid file); waits until the old workers are
        gone and WORKERS new ones exist and serve; returns the new workers' pids."""
        old = self.worker_pids(include_old=True)
        p = subprocess.run(['nginx', '-p', self.dir, '-e', self.error_log, '-c', self.conf, '-s', 'reload'],
                           stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
        if p.returncode != 0:
            raise AssertionError('nginx -s reload failed: %s\n%s' % (p.stderr, self.logs()))
        self._current = wait_for(lambda: self._serving(old), timeout, 'new nginx workers after a reload (old %s)' % old)
        return self._current

    def close(self):
        if self.proc is not None:
            if self.proc.poll() is None:
                self.proc.send_signal(signal.SIGQUIT)  # graceful; SIGKILL if it hangs
                try:
                    self.proc.wait(10)
                except subprocess.TimeoutExpired:
                    for c in children(self.proc.pid):
                        _kill(c)
                    self.proc.kill()
                    self.proc.wait()
            self.proc = None
            self.stdout.close()
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None


# --------------------------------------------------------------------------------------------------
# A private mount namespace


def private_mount_argv(files, mount_dir, argv):
    """A command line that runs ARGV in a new mount namespace (unshare -m, private propagation)
    where a tmpfs is mounted over MOUNT_DIR (an empty directory on the host) and FILES are copied
    into it first. The shell execs ARGV, so the pid is the workload's. ARGV[0] names a path
    inside MOUNT_DIR, a path that exists only in that namespace."""
    script = ('set -e; mount -t tmpfs -o mode=0755,size=64m leaktop-mntns %s; cp -p %s %s/; exec %s' % (
        shlex.quote(mount_dir), ' '.join(shlex.quote(f) for f in files), shlex.quote(mount_dir),
        ' '.join(shlex.quote(str(a)) for a in argv)))
    return ['unshare', '--mount', '--propagation', 'private', '--', 'sh', '-c', script]


class MountNsWorkload(harness.Workload, _Owned):
    """A workload (wl.h's -w protocol, a harness.Workload) run from a copy of its binary on a tmpfs
    that is mounted, in its own mount namespace only, over a fresh empty directory.

        w = MountNsWorkload(self, 'simple', extra=('libdlsite.so',))   # "ready" seen; cleanup set
        w.pid          # host pid (unshare and sh exec into the workload: one process)
        w.ns_path      # the binary's path: mapped by the process, absent on the host, reachable
                       # from the host as /proc/PID/root + ns_path
        w.mount_dir    # the directory the tmpfs covers (empty on the host)
        w.trigger(); w.wait_done(); w.finish()
        argv, ns_path = MountNsWorkload.command(self, 'leaky')   # for leaktop -- ARGV

    EXTRA: more files of build/workloads to copy beside it (a library it dlopens, exec_second).
    """

    def __init__(self, test, name, args=(), extra=(), env=None, wait_ready=True):
        self.host_dir = None
        self._register(test)
        argv, self.ns_path = self._prepare(test, name, ['-w'] + [str(a) for a in args], extra)
        try:
            harness.Workload.__init__(self, name, args, env, wait_ready, argv=argv)
        except BaseException:
            self.close()
            raise

    def _prepare(self, test, name, args, extra):
        if test is not None:
            require_tools(test, 'unshare', 'mount')
        src = harness.workload(name)
        files = [src] + [harness.workload(e) for e in extra]
        self.host_dir = tempfile.mkdtemp(prefix='leaktop-mntns-')
        os.chmod(self.host_dir, 0o755)
        self.mount_dir = os.path.join(self.host_dir, 'root')
        os.mkdir(self.mount_dir)
        ns_path = os.path.join(self.mount_dir, os.path.basename(src))
        return private_mount_argv(files, self.mount_dir, [ns_path] + list(args)), ns_path

    @classmethod
    def command(cls, test, name, args=(), extra=()):
        """For command mode (leaktop -- ARGV): returns (ARGV, ns_path). ARGV runs NAME ARGS (no -w)
        from the namespace's tmpfs; it starts as unshare, which execs sh, which execs the workload.
        The temp dir is removed at TEST's cleanup."""
        self = cls.__new__(cls)
        self.host_dir = None
        self._register(test)
        argv, ns_path = self._prepare(test, name, [str(a) for a in args], extra)
        return argv, ns_path

    def close(self):
        if getattr(self, 'proc', None) is not None and getattr(self, '_stderr', None) is not None \
                and not self._stderr.closed:
            harness.Workload.close(self)
        if self.host_dir:
            # the tmpfs lives in the workload's namespace only: gone with it, the host dir is empty
            shutil.rmtree(self.host_dir, ignore_errors=True)
            self.host_dir = None


# --------------------------------------------------------------------------------------------------
# cgroup v2


def cgroup2_root():
    """Where cgroup2 is mounted: /sys/fs/cgroup on unified hosts, /sys/fs/cgroup/unified on hybrid."""
    with open('/proc/self/mounts') as f:
        for line in f:
            fields = line.split()
            if len(fields) > 2 and fields[2] == 'cgroup2':
                return fields[1]
    return None


def cgroup_of(pid):
    """PID's cgroup v2 path relative to the cgroup2 root ('/' at the root), or None."""
    try:
        with open('/proc/%d/cgroup' % pid) as f:
            for line in f:
                if line.startswith('0::'):
                    return line[3:].strip()
    except OSError:
        pass
    return None


class Cgroup(_Owned):
    """A fresh cgroup v2 group under the cgroup2 mount, named leaktop-test-PID-N.

        cg = Cgroup(self)          # created; removed at cleanup (its processes moved back first)
        cg.move(pid)               # writes PID to cgroup.procs
        cg.procs()                 # -> sorted pids in it
        cg.freeze(frozen=True)     # writes cgroup.freeze
        cg.path                    # /sys/fs/cgroup/unified/leaktop-test-... (what --cgroup takes)
    """

    _seq = 0

    def __init__(self, test=None):
        self.path = None
        self.root = cgroup2_root()
        if self.root is None:
            msg = 'cgroup2 is not mounted'
            if test is not None and not harness.in_ci():
                test.skipTest(msg)
            raise AssertionError(msg)
        Cgroup._seq += 1
        path = os.path.join(self.root, 'leaktop-test-%d-%d-%d' % (os.getpid(), Cgroup._seq,
                                                                  time.monotonic_ns() % 1000000))
        os.mkdir(path)
        self.path = path
        self.origin = {}  # pid -> the cgroup it was moved from
        self._register(test)

    def move(self, pid):
        self.origin.setdefault(pid, cgroup_of(pid) or '/')
        with open(os.path.join(self.path, 'cgroup.procs'), 'w') as f:
            f.write('%d\n' % pid)

    def procs(self):
        with open(os.path.join(self.path, 'cgroup.procs')) as f:
            return sorted(int(l) for l in f.read().split())

    def freeze(self, frozen=True):
        """Writes cgroup.freeze: its processes, and those born in it, stop running until thawed."""
        with open(os.path.join(self.path, 'cgroup.freeze'), 'w') as f:
            f.write('1\n' if frozen else '0\n')

    def close(self):
        if not self.path:
            return
        try:
            if os.path.isdir(self.path):
                for pid in self.procs():
                    back = os.path.join(self.root, self.origin.get(pid, '/').lstrip('/'), 'cgroup.procs')
                    if not os.path.exists(back):
                        back = os.path.join(self.root, 'cgroup.procs')
                    try:
                        with open(back, 'w') as f:
                            f.write('%d\n' % pid)
                    except OSError:  # exited meanwhile
                        pass

                def removed():
                    try:
                        os.rmdir(self.path)
                        return True
                    except FileNotFoundError:
                        return True
                    except OSError:  # EBUSY until the kernel has seen every process leave
                        return False
                wait_for(removed, 10, 'cgroup %s to be removable' % self.path)
        finally:
            self.path = None


def run_orphaned_frozen_child(test, opts):
    """leaktop OPTS -- clone_into GROUP with GROUP frozen: the command's child is born frozen and
    its parent (the command) exits before the child has run at all. Checks the run goes on while
    the child waits, thaws the group and checks the child runs to its end (exit 0: not left
    stopped). Returns (root pid, child pid, leaktop's finished Run)."""
    adopt_orphans(test)
    cg = Cgroup(test)
    cg.freeze()
    t = test.start_tracer(target=[], opts=list(opts) + ['--', harness.workload('clone_into'), cg.path])
    root = int(t.wait_stderr(r'the command .* \(pid (\d+)\) exited with status \d+\n').group(1))
    (child,) = cg.procs()
    test.addCleanup(kill_orphan, child)
    time.sleep(0.5)
    test.assertIsNone(t.proc.poll(), 'leaktop ended before the child ran:\n' + tail(t.stderr()))
    cg.freeze(False)
    test.assertEqual(wait_exit(child, 10), 0)
    r = t.stop(sig=None, timeout=30)
    test.assertOk(r)
    return root, child, r
