"""Hostile programs: each run must end with a status, leave the host as it was and leave nothing running.

Run: `.venv/bin/python -m pytest tests/test_sandbox_adversarial.py`. The file-system, secret and
network attacks need bubblewrap and are skipped in the subprocess fallback, where they would succeed.
The fork bomb runs only after a mild test has shown that the process limit holds in this sandbox.
"""

import os
import signal
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from eurus_lib.sandbox import isolation as iso
from eurus_lib.sandbox import isolation_mode, run_many, run_python, seccomp

MODE = isolation_mode()
needs_bwrap = pytest.mark.skipif(MODE != "bwrap", reason="needs bubblewrap (the subprocess fallback has no such isolation)")


def _host_processes(marker: str | None = None) -> list[int]:
    """Host pids whose command line holds `marker`, or (marker=None) that run as one of our sandbox uids."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if marker is None:
                found += [int(entry.name)] if entry.stat().st_uid in iso.own_uids() else []
            elif marker.encode() in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
        except OSError:  # the process ended while we looked
            pass
    return found


@pytest.fixture
def marker():
    """A unique string for the run's processes; whatever still carries it afterwards is killed."""
    mark = f"eurus-sandbox-test-{uuid.uuid4().hex}"
    yield mark
    for pid in _host_processes(mark):
        os.kill(pid, signal.SIGKILL)


@pytest.fixture(autouse=True)
def nothing_left_running():
    yield
    if MODE == "bwrap" and os.geteuid() == 0:
        assert _host_processes() == [], "a sandbox process outlived its run"


def test_infinite_loop_times_out():
    r = run_python("while True:\n    pass", timeout_s=1)
    assert r.status == "timeout" and r.returncode == -signal.SIGKILL


def test_sleeping_forever_times_out_on_the_wall_clock():
    assert run_python("import time\ntime.sleep(3600)", timeout_s=1).status == "timeout"


def test_ignoring_signals_does_not_survive_the_timeout():
    code = "import signal\nfor s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):\n    signal.signal(s, signal.SIG_IGN)\nwhile True: pass"
    assert run_python(code, timeout_s=1).status == "timeout"


def test_process_limit_holds_inside_the_sandbox():
    assert _process_limit_holds(), "a run could start more processes than max_processes allows"


def _process_limit_holds() -> bool:
    """Mild check: 30 sleeping children under a limit of 8 must stop with EAGAIN, well before 30."""
    code = ("import os, time\nn = 0\ntry:\n    for _ in range(30):\n        if os.fork() == 0:\n"
            "            time.sleep(5)\n            os._exit(0)\n        n += 1\n"
            "except BlockingIOError:\n    print('refused')\nprint(n)")
    r = run_python(code, timeout_s=5, max_processes=8)
    return r.stdout.split()[:1] == ["refused"] and int(r.stdout.split()[-1]) < 8


def test_fork_bomb_is_contained():
    if not _process_limit_holds():
        pytest.skip("the process limit does not hold in this mode (root without bubblewrap): no fork bomb")
    code = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass"
    r = run_python(code, timeout_s=2, max_processes=16)
    assert r.status == "timeout"
    assert subprocess.run(["true"], timeout=10).returncode == 0  # the host can still start processes


def test_hostile_runs_in_parallel_leave_honest_runs_correct():
    if not _process_limit_holds():
        pytest.skip("the process limit does not hold in this mode (root without bubblewrap): no fork bomb")
    hostile = {"import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass": "timeout",
               "x = bytearray(2 << 30)": "memory", "while True:\n    print('y' * 1000)": "killed"}
    codes = [*hostile, "print(sum(range(10**6)))"] * 2
    results = run_many(codes, workers=4, timeout_s=3)
    assert [r.status for r in results] == [*hostile.values(), "ok"] * 2
    assert [r.stdout for r in results[3::4]] == ["499999500000\n"] * 2


def test_memory_bomb_reports_memory():
    r = run_python("x = bytearray(2 << 30)", memory_mb=256)
    assert r.status == "memory" and "MemoryError" in r.stderr


def test_growing_memory_reports_memory_with_a_traceback():
    r = run_python("chunks = []\nwhile True:\n    chunks.append(b'x' * 10**7)", memory_mb=256)
    assert r.status == "memory" and 'File "main.py", line 3' in r.stderr


def test_huge_output_is_capped_and_the_flood_is_stopped():
    r = run_python("while True:\n    print('y' * 10000)", max_output_bytes=10_000, timeout_s=10)
    assert r.status == "killed" and r.truncated
    assert r.stdout.startswith("y" * 10_000) and len(r.stdout) < 11_000
    assert "killed after writing more than" in r.stderr


def test_deep_python_recursion_is_an_error():
    r = run_python("def f(n):\n    return f(n + 1)\nf(0)")
    assert r.status == "error" and r.stderr.strip().endswith("RecursionError: maximum recursion depth exceeded")


def test_stack_overflow_crash_is_reported_as_killed():
    code = "import sys\nsys.setrecursionlimit(10**6)\nclass A:\n    def __getattr__(self, n):\n        return getattr(self, n)\nA().x"
    r = run_python(code)
    assert (r.status, r.returncode) == ("killed", -signal.SIGSEGV)


def test_many_threads_hit_the_process_limit():
    code = ("import threading, time\nfor i in range(1000):\n"
            "    threading.Thread(target=time.sleep, args=(0.2,), daemon=True).start()")
    r = run_python(code, max_processes=16)
    assert r.status == "error" and "can't start new thread" in r.stderr


def test_raising_its_own_limits_is_refused():
    code = ("import resource\nfor name in ('RLIMIT_NPROC', 'RLIMIT_AS', 'RLIMIT_CPU', 'RLIMIT_FSIZE'):\n"
            "    which = getattr(resource, name)\n    try:\n"
            "        resource.setrlimit(which, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))\n"
            "        print(name, 'raised')\n    except (ValueError, OSError):\n        print(name, 'refused')")
    r = run_python(code)
    assert r.stdout.split() == ["RLIMIT_NPROC", "refused", "RLIMIT_AS", "refused", "RLIMIT_CPU", "refused",
                                "RLIMIT_FSIZE", "refused"]


def test_big_files_are_cut_by_the_file_size_limit():
    r = run_python("open('big', 'wb').write(b'x' * (64 << 20))")
    assert r.status == "error" and "File too large" in r.stderr


def test_os_exit_and_signals_give_their_status():
    r = run_python("import os\nprint('bye', flush=True)\nos._exit(3)")
    assert (r.status, r.returncode, r.stdout) == ("error", 3, "bye\n")
    for sig in (signal.SIGKILL, signal.SIGTERM, signal.SIGABRT):
        r = run_python(f"import os\nos.kill(os.getpid(), {int(sig)})")
        assert (r.status, r.returncode) == ("killed", -sig)


def test_double_forked_daemon_does_not_outlive_the_call(marker):
    # The grandchild leaves the session, ignores signals and sleeps under a marker we can find on the host.
    code = f"""
import os, signal, sys, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        for s in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
            signal.signal(s, signal.SIG_IGN)
        os.execv(sys.executable, [sys.executable, "-c", "import time; time.sleep(60)", "{marker}"])
    os._exit(0)
os.wait()
for _ in range(200):
    if any("{marker}" in open(f"/proc/{{p}}/cmdline").read() for p in os.listdir("/proc") if p.isdigit()):
        break
    time.sleep(0.01)
print("daemon started")
"""
    r = run_python(code, timeout_s=5)
    if MODE == "subprocess" and r.status == "ok":
        pytest.skip("the subprocess fallback cannot follow a process out of its group: see its warning")
    assert (r.status, r.stdout) == ("ok", "daemon started\n")
    assert _host_processes(marker) == []


@needs_bwrap
def test_code_runs_unprivileged_without_capabilities():
    r = run_python("import os\nprint(os.getuid())\nprint(open('/proc/self/status').read())")
    uid, status = r.stdout.split("\n", 1)
    assert int(uid) != 0
    fields = dict(line.split(":\t", 1) for line in status.splitlines() if ":\t" in line)
    assert fields["CapEff"].strip() == fields["CapPrm"].strip() == "0000000000000000"
    assert fields["NoNewPrivs"].strip() == "1"


@needs_bwrap
def test_code_sees_only_its_own_processes_and_descriptors():
    r = run_python("import os\nprint(sorted(os.listdir('/proc/self/fd')))\n"
                   "print(sorted(int(p) for p in os.listdir('/proc') if p.isdigit()))")
    fds, pids = r.stdout.splitlines()
    assert fds == "['0', '1', '2', '3']"  # 3 is the listing's own descriptor
    assert pids == "[1, 2]"  # bubblewrap's init and the code


@needs_bwrap
def test_writing_deleting_and_renaming_host_files_fails(tmp_path):
    # One victim outside every bind (the host's /tmp) and one inside a read-only bind (site-packages).
    outside = tmp_path / "victim.txt"
    inside = Path(iso.site_packages_dirs()[0]) / f"eurus_sandbox_victim_{uuid.uuid4().hex}.txt"
    for victim in (outside, inside):
        victim.write_text("intact")
    try:
        code = _vandal_code([str(outside), str(inside)])
        r = run_python(code, site_packages=True)
        assert r.stdout.split() == ["refused"] * 8, r.stdout
        assert outside.read_text() == inside.read_text() == "intact"
        assert sorted(p.name for p in tmp_path.iterdir()) == ["victim.txt"]
        assert not list(inside.parent.glob("eurus_sandbox_new_*"))
    finally:
        inside.unlink(missing_ok=True)
        for stray in inside.parent.glob("eurus_sandbox_new_*"):
            stray.unlink()


def _vandal_code(victims: list[str]) -> str:
    return f"""
import os
for victim in {victims!r}:
    folder = os.path.dirname(victim)
    attacks = [lambda: open(victim, "w").write("pwned"), lambda: os.remove(victim),
               lambda: os.rename(victim, victim + ".moved"),
               lambda: open(os.path.join(folder, "eurus_sandbox_new_file"), "w").write("pwned")]
    for attack in attacks:
        try:
            attack()
            print("done")
        except OSError:
            print("refused")
"""


@needs_bwrap
def test_home_folder_files_are_invisible():
    secret = Path.home() / f".eurus_sandbox_secret_{uuid.uuid4().hex}"
    secret.write_text("hunter2")
    try:
        code = (f"import os\ntry:\n    print(open({str(secret)!r}).read())\nexcept OSError as e:\n    print('refused')\n"
                f"print(sorted(os.listdir({str(Path.home())!r})) if os.path.isdir({str(Path.home())!r}) else [])")
        r = run_python(code)
        assert r.stdout.splitlines()[0] == "refused"
        assert "hunter2" not in r.stdout and secret.name not in r.stdout
    finally:
        secret.unlink()


@needs_bwrap
def test_environment_secrets_do_not_reach_the_code(monkeypatch):
    token = f"sk-{uuid.uuid4().hex}"
    monkeypatch.setenv("EURUS_TEST_API_KEY", token)
    code = ("import os\nprint(dict(os.environ))\nfor p in os.listdir('/proc'):\n    if p.isdigit():\n"
            "        for f in ('environ', 'cmdline'):\n            try:\n"
            "                print(open(f'/proc/{p}/{f}', 'rb').read())\n            except OSError:\n                pass")
    r = run_python(code)
    assert r.ok and "HOME" in r.stdout
    assert token not in r.stdout and "EURUS_TEST_API_KEY" not in r.stdout


@needs_bwrap
def test_loopback_connection_to_a_host_server_fails():
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        r = run_python(f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=2)")
        server.setblocking(False)
        with pytest.raises(BlockingIOError):  # nothing is waiting in the backlog
            server.accept()
    assert r.status == "error" and "ConnectionRefusedError" in r.stderr


@needs_bwrap
def test_outside_network_is_unreachable():
    r = run_python("import socket\nsocket.create_connection(('1.1.1.1', 53), timeout=3)")
    assert r.status == "error" and "Network is unreachable" in r.stderr
    r = run_python("import socket\nsocket.getaddrinfo('example.com', 80)")
    assert r.status == "error" and "gaierror" in r.stderr


@needs_bwrap
def test_starting_a_shell_fails():
    code = ("import os, subprocess\nprint(os.system('echo pwned'))\n"
            "subprocess.run(['/bin/sh', '-c', 'echo pwned'])")
    r = run_python(code)
    assert r.status == "error" and "FileNotFoundError" in r.stderr
    assert "pwned" not in r.stdout


@needs_bwrap
@pytest.mark.skipif(seccomp.filter_program() is None, reason="no seccomp syscall table for this CPU")
def test_creating_namespaces_and_tracing_are_refused():
    # Without the filter, root-mode code (a plain uid, no user namespace) could unshare a user namespace.
    code = ("import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\n"
            "for name, call in [('userns', lambda: libc.unshare(0x10000000)), ('netns', lambda: libc.unshare(0x40000000)),\n"
            "                   ('setns', lambda: libc.setns(os.open('/proc/self/ns/net', os.O_RDONLY), 0)),\n"
            "                   ('ptrace', lambda: libc.ptrace(0, 0, 0, 0))]:\n"
            "    ctypes.set_errno(0)\n    print(name, call(), ctypes.get_errno())")
    r = run_python(code)
    assert r.stdout.splitlines() == ["userns -1 1", "netns -1 1", "setns -1 1", "ptrace -1 1"]  # -1, EPERM


@needs_bwrap
def test_threads_and_child_processes_still_work_under_the_filter():
    code = ("import subprocess, sys, threading\nfrom multiprocessing import get_context\n"
            "t = threading.Thread(target=print, args=('thread',))\nt.start()\nt.join()\n"
            "print(subprocess.run([sys.executable, '-c', 'print(6 * 7)'], capture_output=True, text=True).stdout, end='')\n"
            "with get_context('fork').Pool(2) as pool:\n    print(pool.map(abs, [-1, -2]))")
    assert run_python(code).stdout == "thread\n42\n[1, 2]\n"


def test_host_python_is_untouched_by_the_runs():
    assert subprocess.run([sys.executable, "-c", "import os, json"], timeout=30).returncode == 0
