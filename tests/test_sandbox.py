"""The sandbox's contract: statuses, streams, files, limits, modes and parallel runs.

Run: `.venv/bin/python -m pytest tests/test_sandbox.py`. The attacks are in test_sandbox_adversarial.py
and the HumanEval check in test_sandbox_humaneval.py.
"""

import os
import warnings

import pytest

from eurus_lib.errors import KitError
from eurus_lib.sandbox import isolation as iso
from eurus_lib.sandbox import isolation_mode, run_many, run_python, run_unit_tests

MODE = isolation_mode()


def test_bubblewrap_mode_runs_wherever_bubblewrap_works():
    works, reason = iso.bwrap_check()
    if not works:
        pytest.skip(f"bubblewrap cannot run here, runs use the subprocess fallback: {reason}")
    assert MODE == "bwrap"
    assert run_python("print('hi')").mode == "bwrap"


def test_successful_run_reports_ok_with_its_output():
    r = run_python("import sys\nprint('out')\nprint('err', file=sys.stderr)")
    assert (r.status, r.stdout, r.stderr, r.returncode, r.mode) == ("ok", "out\n", "err\n", 0, MODE)
    assert r.ok and r.duration_s > 0 and not r.truncated


def test_exception_is_an_error_with_a_traceback_that_points_at_the_code():
    r = run_python("x = 1\nraise ValueError('bad value')\n")
    assert (r.status, r.returncode) == ("error", 1)
    assert 'File "main.py", line 2' in r.stderr and "raise ValueError('bad value')" in r.stderr
    assert r.stderr.strip().endswith("ValueError: bad value")
    assert "<string>" not in r.stderr  # the launcher's own frame is hidden


def test_syntax_error_is_an_error():
    r = run_python("def f(:\n")
    assert r.status == "error" and "SyntaxError" in r.stderr


def test_stdin_is_fed_to_the_code():
    r = run_python("import sys\nprint(input()[::-1])\nprint(sys.stdin.read().upper(), end='')", stdin="abc\nrest\n")
    assert r.stdout == "cba\nREST\n"


def test_exit_and_quit_behave_as_in_plain_python():
    assert run_python("print(1)\nexit(4)").returncode == 4
    assert run_python("quit()").status == "ok"
    assert run_python("raise SystemExit('bye')").stderr == "bye\n"


def test_main_guard_runs_because_the_code_is_main():
    assert run_python("if __name__ == '__main__':\n    print('main')").stdout == "main\n"


def test_files_are_placed_in_the_working_folder():
    code = "print(open('data/in.txt').read(), open('raw.bin', 'rb').read())"
    r = run_python(code, files={"data/in.txt": "hello", "raw.bin": b"\x00\x01"})
    assert r.stdout == "hello b'\\x00\\x01'\n"


def test_each_run_gets_a_fresh_working_folder():
    assert run_python("open('state.txt', 'w').write('x')").ok
    assert run_python("import os\nprint(os.path.exists('state.txt'))").stdout == "False\n"


@pytest.mark.parametrize("name", ["/etc/passwd", "../escape.txt", "a/../../b", ""])
def test_file_names_outside_the_working_folder_are_refused(name):
    with pytest.raises(KitError, match="relative path"):
        run_python("pass", files={name: "x"})


def test_bad_limits_and_modes_are_refused_with_a_clear_message():
    with pytest.raises(KitError, match="timeout_s"):
        run_python("pass", timeout_s=0)
    with pytest.raises(KitError, match="memory_mb"):
        run_python("pass", memory_mb=4)
    with pytest.raises(KitError, match="not a sandbox mode"):
        run_python("pass", isolation="docker")


def test_output_beyond_the_cap_is_cut_with_a_note():
    r = run_python("print('a' * 5000)", max_output_bytes=1000)
    assert r.status == "ok" and r.truncated
    kept, note = r.stdout.split("\n", 1)
    assert kept == "a" * 1000
    assert "stdout cut after 1000 bytes; 4001 more bytes not shown" in note


def test_installed_packages_are_importable_only_when_asked_for():
    assert run_python("import yaml").status == "error"
    r = run_python("import yaml\nprint(yaml.safe_dump({'a': 1}), end='')", site_packages=True)
    assert (r.status, r.stdout) == ("ok", "a: 1\n")


def test_a_sandbox_that_cannot_start_raises_instead_of_blaming_the_code(monkeypatch):
    monkeypatch.setattr(iso, "python_executable", lambda: "/nonexistent/python3")
    with pytest.raises(KitError, match="sandbox (failed to|could not) start"):
        run_python("print(1)")


def test_run_many_keeps_the_order_and_passes_each_stdin():
    codes = [f"print({i} * int(input()))" for i in range(6)]
    results = run_many(codes, stdins=[str(i) for i in range(6)], workers=3)
    assert [r.stdout for r in results] == [f"{i * i}\n" for i in range(6)]


def test_parallel_runs_do_not_see_each_others_files():
    code = "import time\nopen('me.txt', 'w').write(input())\ntime.sleep(0.3)\nprint(open('me.txt').read())"
    results = run_many([code] * 6, stdins=[f"run{i}" for i in range(6)], workers=6)
    assert [r.stdout for r in results] == [f"run{i}\n" for i in range(6)]


@pytest.mark.skipif(MODE != "bwrap" or os.geteuid() != 0, reason="per-run uids are a root + bwrap feature")
def test_parallel_runs_do_not_share_one_process_limit():
    # Each run starts 5 threads under a limit of 8: fine alone, too many if 4 runs shared one count.
    code = ("import threading, time\nts = [threading.Thread(target=time.sleep, args=(0.5,)) for _ in range(5)]\n"
            "[t.start() for t in ts]\n[t.join() for t in ts]\nprint('ok')")
    results = run_many([code] * 4, workers=4, max_processes=8)
    assert [r.stdout for r in results] == ["ok\n"] * 4


def test_unit_tests_pass_for_a_right_solution_and_fail_for_a_wrong_one():
    prompt = "def add(a, b):\n"
    test = "def check(candidate):\n    assert candidate(2, 3) == 5\n    assert candidate(-1, 1) == 0\n"
    assert run_unit_tests(prompt, "    return a + b\n", test, "add").ok
    wrong = run_unit_tests(prompt, "    return a - b\n", test, "add")
    assert wrong.status == "error" and "AssertionError" in wrong.stderr


def test_subprocess_fallback_warns_once_and_names_what_is_missing(monkeypatch, capsys):
    monkeypatch.setattr(iso, "_warned", False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        first = run_python("print(1)", isolation="subprocess")
        run_python("print(2)", isolation="subprocess")
    assert first.mode == "subprocess" and first.stdout == "1\n"
    assert len(caught) == 1
    message = str(caught[0].message)
    for missing in ("file-system isolation", "network isolation", "PID namespace"):
        assert missing in message
    assert "MISSING" in capsys.readouterr().err


@pytest.mark.filterwarnings("ignore:eurus_lib.sandbox")
def test_subprocess_fallback_still_limits_time_memory_and_output():
    assert run_python("while True: pass", timeout_s=1, isolation="subprocess").status == "timeout"
    assert run_python("x = bytearray(1 << 30)", memory_mb=128, isolation="subprocess").status == "memory"
    flood = run_python("while True: print('y' * 1000)", max_output_bytes=1000, isolation="subprocess")
    assert flood.status == "killed" and flood.truncated


@pytest.mark.filterwarnings("ignore:eurus_lib.sandbox")
def test_subprocess_fallback_clears_the_environment_and_works_in_a_temp_folder(monkeypatch):
    monkeypatch.setenv("EURUS_FALLBACK_SECRET", "s3cret")
    r = run_python("import os\nprint(os.environ.get('EURUS_FALLBACK_SECRET'), os.getcwd())", isolation="subprocess")
    value, cwd = r.stdout.split()
    assert value == "None" and "eurus-sandbox-" in cwd
    assert not os.path.exists(cwd)  # removed after the run


def test_seccomp_filter_is_whole_instructions_and_only_for_known_cpus():
    from eurus_lib.sandbox.seccomp import filter_program

    for machine in ("x86_64", "aarch64"):
        program = filter_program(machine)
        assert program and len(program) % 8 == 0 and len(program) // 8 < 256  # jump offsets are one byte
    assert filter_program("sparc64") is None
