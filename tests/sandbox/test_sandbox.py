"""The sandbox every graded subprocess runs in: bubblewrap, hard limits, a scrubbed environment.

Each test is one thing a hostile submission tries, run through `sandbox.run` exactly as the grader
runs a test process, with the exact outcome asserted. `make test` installs bubblewrap (or stops), so
none of these can skip: without it the isolation tests fail.
"""
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from bench import slow_machine
from grading import REPO_ROOT
from grading.sandbox import confine as sandbox
from grading.sandbox.budget import Allowance

MIB = 1024 * 1024
UNSANDBOXED = sandbox.Isolation("none", reason="switched off for this test")


@pytest.fixture(params=["bubblewrap", "none"])
def isolation(request, monkeypatch):
    """The limits hold with and without bubblewrap."""
    if request.param == "none":
        monkeypatch.setattr(sandbox, "isolation", lambda: UNSANDBOXED)
    return request.param


def run(tmp_path: Path, code: str, cpu: float = 20, memory_mib: int = 1024, file_mib: int = 4,
        processes: int = 64, visible: tuple[Path, ...] = ()) -> sandbox.Outcome:
    limits = sandbox.Limits(time=Allowance(cpu, wait_factor=3, overload_factor=10), memory_bytes=memory_mib * MIB,
                            file_bytes=file_mib * MIB, max_processes=processes)
    view = sandbox.View((tmp_path / "work", *visible), tmp_path / "work")
    (tmp_path / "work").mkdir(exist_ok=True)
    return sandbox.run([sys.executable, "-c", code], view=view, env=sandbox.clean_environment(tmp_path / "work"),
                       limits=limits, output_path=tmp_path / "output.txt")


def processes_with(marker: str) -> list[int]:
    """Host processes whose command line contains `marker`."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and marker.encode() in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def test_this_machine_grades_inside_bubblewrap():
    isolation = sandbox.isolation()
    assert isolation.kind == "bubblewrap", (
        f"no sandbox here: {isolation.reason}. `make test` installs bubblewrap; the isolation tests need it")
    assert isolation.version and isolation.sandboxed


def test_without_bubblewrap_the_reason_and_the_fix_are_given(monkeypatch):
    sandbox.isolation.cache_clear()
    monkeypatch.delenv(sandbox.FORCE_NONE_VARIABLE, raising=False)
    monkeypatch.setenv("PATH", "/nonexistent")
    try:
        missing = sandbox.isolation()
    finally:
        sandbox.isolation.cache_clear()
    assert missing.kind == "none" and not missing.sandboxed
    assert "not installed" in missing.reason and "apt-get install -y bubblewrap" in missing.reason


# ---------------------------------------------------------------- limits (with and without bubblewrap)
def test_secrets_in_the_graders_environment_do_not_reach_the_submission(tmp_path, monkeypatch, isolation):
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_secret")
    monkeypatch.setenv("HIDDEN_TESTS_TOKEN", "also secret")
    outcome = run(tmp_path, "import os; print(sorted(os.environ))")
    assert outcome.returncode == 0
    assert "GITHUB_TOKEN" not in outcome.output_tail and "HIDDEN_TESTS_TOKEN" not in outcome.output_tail
    assert "'HOME'" in outcome.output_tail and "'OPENBLAS_NUM_THREADS'" in outcome.output_tail


def test_a_command_asleep_past_its_own_time_is_killed_with_everything_it_started(tmp_path, isolation):
    marker = f"{time.time_ns() % 10**9}.5"
    code = ("import subprocess, sys, time\n"
            f"subprocess.Popen([sys.executable, '-c', 'import time; time.sleep({marker})'])\n"
            "time.sleep(60)\n")
    outcome = run(tmp_path, code, cpu=1)  # asleep: 3 s of its own time at most
    assert outcome.timed_out and outcome.returncode is None and not outcome.overloaded
    assert outcome.usage.cpu < 1, "it was stopped for the time it slept, not for CPU time"
    assert "time limit" in outcome.describe()
    time.sleep(0.2)
    assert processes_with(marker) == [], "a child left running after the limit"


def test_a_command_past_its_cpu_budget_is_killed(tmp_path, isolation):
    outcome = run(tmp_path, "while True:\n    pass\n", cpu=1)
    assert outcome.timed_out and outcome.returncode is None and not outcome.overloaded
    assert outcome.usage.cpu >= 1
    assert outcome.describe().startswith("was stopped after using its time limit (")


def test_a_command_starved_of_cpu_is_overloaded_not_out_of_time(tmp_path, isolation):
    # A hundredth of one CPU: the command waits for the CPU far longer than it runs, so the wall-clock
    # net (10 x 0.3 s) is reached long before its CPU budget or its own time: the machine is to blame.
    with slow_machine.slowed(0.01):
        outcome = run(tmp_path, "while True:\n    pass\n", cpu=0.3)
    assert outcome.overloaded and not outcome.timed_out and outcome.returncode is None
    assert outcome.usage.cpu < 0.3 and outcome.usage.waiting > outcome.usage.cpu
    assert outcome.describe().startswith("was stopped because the grading machine was too busy")


def test_memory_limit_turns_a_memory_bomb_into_a_memory_error(tmp_path, isolation):
    outcome = run(tmp_path, "x = bytearray(1500 * 1024 * 1024)", memory_mib=1024)
    assert outcome.returncode == 1 and "MemoryError" in outcome.output_tail


def test_an_endless_flood_of_output_is_stopped_at_the_output_limit(tmp_path, isolation):
    outcome = run(tmp_path, "import sys\nwhile True: sys.stdout.write('x' * 100_000)\n", file_mib=1)
    assert outcome.returncode is None and outcome.output_capped and not outcome.timed_out
    assert outcome.describe() == "was stopped for writing more output than the grader allows"
    assert (tmp_path / "output.txt").stat().st_size <= 1 * MIB, "the grader keeps at most the limit"


def test_a_file_in_the_scratch_is_held_to_the_file_size_limit(tmp_path, isolation):
    code = ("import os\ntry:\n    open(os.path.join(os.environ['HOME'], 'big'), 'wb').write(b'x' * (2 << 20))\n"
            "except OSError as error:\n    print('refused', error.errno)\n")
    outcome = run(tmp_path, code, file_mib=1)
    assert outcome.output_tail.strip() == "refused 27", outcome.output_tail  # EFBIG


def test_the_output_file_is_the_graders_not_the_submissions(tmp_path, isolation):
    # stdout is a pipe: the command cannot reach (chmod, truncate, rewrite) the grader's copy.
    code = "import os\nprint(os.path.exists('/proc/self/fd/1') and os.readlink('/proc/self/fd/1'))\n"
    outcome = run(tmp_path, code)
    assert outcome.output_tail.strip().startswith("pipe:"), outcome.output_tail


def test_a_fork_bomb_is_stopped_at_the_process_limit(tmp_path, isolation):
    marker = uuid.uuid4().hex
    code = ("import os, time\n"
            "for _ in range(200):\n"
            "    if os.fork() == 0:\n"
            f"        time.sleep(30)  # {marker}\n"
            "        os._exit(0)\n"
            "time.sleep(30)\n")
    outcome = run(tmp_path, f"# {marker}\n" + code, cpu=25, processes=20)
    assert outcome.too_many_processes and outcome.returncode is None
    assert outcome.describe() == "was stopped for starting more processes than the grader allows"
    time.sleep(0.2)
    assert processes_with(marker) == []


def test_a_normal_exit_is_described_by_its_code(tmp_path, isolation):
    outcome = run(tmp_path, "raise SystemExit(3)")
    assert (outcome.returncode, outcome.timed_out, outcome.describe()) == (3, False, "exited with code 3")
    assert os.path.exists(tmp_path / "output.txt")


def test_results_arrive_on_the_channel(tmp_path, isolation):
    outcome = run(tmp_path, "import os\nos.write(3, b'{\"event\": \"end\"}\\n')\n")
    assert outcome.returncode == 0 and outcome.channel == b'{"event": "end"}\n'


# ---------------------------------------------------------------- isolation (bubblewrap only)
def test_a_detached_process_does_not_survive_the_sandbox(tmp_path):
    # A double fork into a new session: the classic daemon. Outside a sandbox it would outlive the
    # grader and could rewrite the report afterwards; inside, the PID namespace ends with the command.
    marker = f"{time.time_ns() % 10**9}.25"
    code = ("import os, subprocess, sys\n"
            f"subprocess.Popen([sys.executable, '-c', 'import time; time.sleep({marker})'], start_new_session=True)\n")
    outcome = run(tmp_path, code)
    assert outcome.returncode == 0
    time.sleep(0.3)
    assert processes_with(marker) == [], "a detached process outlived the sandbox"


def test_nothing_outside_the_scratch_can_be_written(tmp_path):
    target = tmp_path / "work" / "planted.txt"
    outside = tmp_path / "outside"  # stands for the repository: a folder the view does not include
    outside.mkdir()
    code = (
        "import json, os, pathlib\n"
        "results = {}\n"
        f"for path in [{str(target)!r}, {str(outside / 'x.py')!r}, '/etc/x', '/x']:\n"
        "    try:\n"
        "        pathlib.Path(path).write_text('planted')\n"
        "        results[path] = 'written'\n"
        "    except OSError as error:\n"
        "        results[path] = type(error).__name__\n"
        "pathlib.Path(os.environ['HOME'], 'scratch.txt').write_text('mine')\n"
        "print(json.dumps(results))\n")
    outcome = run(tmp_path, code)
    assert outcome.returncode == 0, outcome.output_tail
    results = json.loads(outcome.output_tail.strip().splitlines()[-1])
    assert "written" not in results.values(), results
    assert not target.exists() and not (outside / "x.py").exists()
    assert not (tmp_path / "work" / "scratch.txt").exists(), "HOME is a private scratch, not the host's folder"


def test_only_the_view_exists_never_the_repository_or_a_sibling(tmp_path):
    sibling = tmp_path / "packages" / "isolated-01"
    sibling.mkdir(parents=True)
    (sibling / "tensor.py").write_text("solution")
    mine = tmp_path / "packages" / "isolated-02"
    mine.mkdir(parents=True)
    secrets = [REPO_ROOT / "reference", REPO_ROOT / "hidden_tests", REPO_ROOT / "spec", REPO_ROOT / "README.md",
               sibling, Path("/home"), Path.home() / ".bash_history"]
    code = f"import os, json\nprint(json.dumps([os.path.exists(p) for p in {[str(p) for p in secrets]!r}]))\n" \
           f"print(os.path.isdir({str(mine)!r}))"
    outcome = run(tmp_path, code, visible=(mine,))
    lines = outcome.output_tail.strip().splitlines()
    assert json.loads(lines[-2]) == [False] * len(secrets), dict(zip(map(str, secrets), json.loads(lines[-2])))
    assert lines[-1] == "True"


def test_the_graders_processes_and_environment_are_invisible(tmp_path, monkeypatch):
    monkeypatch.setenv("KATA_TEST_SECRET", "s3cr3t-value")
    code = ("import os\n"
            f"print(os.path.exists('/proc/{os.getpid()}/environ'))\n"
            "pids = sorted(int(p) for p in os.listdir('/proc') if p.isdigit())\n"
            "print(pids)\n"
            "for pid in pids:\n"
            "    try:\n"
            "        print(open(f'/proc/{pid}/environ', 'rb').read().decode(errors='replace'))\n"
            "    except OSError as error:\n"
            "        print('unreadable', pid, error.errno)\n")
    outcome = run(tmp_path, code)
    lines = outcome.output_tail.strip().splitlines()
    assert lines[0] == "False", "the grader's own /proc entry is visible"
    assert len(json.loads(lines[1])) <= 3, f"the sandbox sees other processes: {lines[1]}"  # its init and itself
    assert "s3cr3t-value" not in outcome.output_tail and "KATA_TEST_SECRET" not in outcome.output_tail


def test_dev_is_read_only_and_shared_memory_is_small(tmp_path):
    code = ("import os\nresults = []\n"
            "for path, size in (('/dev/planted', 10), ('/dev/shm/big', 64 << 20)):\n"
            "    try:\n"
            "        with open(path, 'wb') as handle:\n"
            "            handle.write(b'x' * size)\n"
            "        results.append('written')\n"
            "    except OSError as error:\n"
            "        results.append(error.errno)\n"
            "open('/dev/null', 'w').write('fine')\n"
            "print(results)\n")
    outcome = run(tmp_path, code, file_mib=128)
    assert outcome.output_tail.strip() == "[30, 28]", outcome.output_tail  # EROFS, ENOSPC


def test_there_is_no_network(tmp_path):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    code = ("import socket\n"
            "try:\n"
            f"    socket.create_connection(('127.0.0.1', {port}), timeout=2)\n"
            "    print('connected')\n"
            "except OSError as error:\n"
            "    print('refused', type(error).__name__)\n"
            "print(sorted(name for _, name in socket.if_nameindex()))\n")
    try:
        outcome = run(tmp_path, code)
    finally:
        listener.close()
    lines = outcome.output_tail.strip().splitlines()
    assert lines[-2].startswith("refused"), lines
    assert lines[-1] == "['lo']"


def test_the_submission_runs_as_nobody_without_capabilities(tmp_path):
    code = ("import os\nprint(os.getuid(), os.getgid())\n"
            "print([line.split()[1] for line in open('/proc/self/status') if line.startswith('CapEff')][0])\n"
            "try:\n    os.unshare(os.CLONE_NEWUSER)\n    print('new user namespace')\n"
            "except (OSError, AttributeError) as error:\n    print('refused', type(error).__name__)\n")
    outcome = run(tmp_path, code)
    lines = outcome.output_tail.strip().splitlines()
    assert lines[0] == f"{sandbox.UNPRIVILEGED_ID} {sandbox.UNPRIVILEGED_ID}"
    assert int(lines[1], 16) == 0, "capabilities left in the sandbox"
    assert lines[2].startswith("refused"), "a nested user namespace would bring capabilities back"


@pytest.mark.parametrize("forced_off", [False, True])
def test_kata_sandbox_says_whether_grading_is_isolated(forced_off):
    env = {**os.environ, sandbox.FORCE_NONE_VARIABLE: "none"} if forced_off else \
        {k: v for k, v in os.environ.items() if k != sandbox.FORCE_NONE_VARIABLE}
    completed = subprocess.run([sys.executable, "-m", "grading", "sandbox", "--require"], env=env,
                               capture_output=True, text=True, cwd=REPO_ROOT)
    if forced_off:
        assert completed.returncode == 1 and completed.stderr.startswith("sandbox: none: KATA_SANDBOX=none")
    else:
        assert completed.returncode == 0 and completed.stdout.startswith("sandbox: bubblewrap ")


def test_grading_refuses_when_a_secret_folder_lies_inside_a_sandbox_mount(tmp_path):
    # The virtualenv is mounted into every sandbox: a work directory inside it would be visible.
    from grading.authoring import curriculum as curriculum_module
    from grading.engine.grader import GradeError, GradeOptions, grade

    inside = Path(sys.prefix) / f"kata-work-{uuid.uuid4().hex}"
    options = GradeOptions(submission=REPO_ROOT / "reference", tests_root=REPO_ROOT, reference=REPO_ROOT / "reference",
                           hidden=REPO_ROOT / "hidden_tests", modules=[1], work_dir=inside)
    inside.mkdir()
    try:
        with pytest.raises(GradeError, match="which every sandbox sees"):
            grade(options, curriculum_module.load())
    finally:
        inside.rmdir()
    assert sandbox.exposed([Path("/usr/src/app/hidden_tests"), tmp_path]) == [
        (Path("/usr/src/app/hidden_tests"), Path("/usr"))]
