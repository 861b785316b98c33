"""The sandbox every graded subprocess runs in: scrubbed environment and hard limits."""
import os
import sys
import time
from pathlib import Path

from grading import sandbox

MIB = 1024 * 1024


def run(tmp_path: Path, code: str, wall: float = 20, memory_mib: int = 1024, file_mib: int = 4) -> sandbox.Outcome:
    limits = sandbox.Limits(wall_seconds=wall, memory_bytes=memory_mib * MIB, file_bytes=file_mib * MIB)
    return sandbox.run([sys.executable, "-c", code], cwd=tmp_path, env=sandbox.clean_environment(tmp_path),
                       limits=limits, output_path=tmp_path / "output.txt")


def test_secrets_in_the_graders_environment_do_not_reach_the_submission(tmp_path, monkeypatch):
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_secret")
    monkeypatch.setenv("HIDDEN_TESTS_TOKEN", "also secret")
    outcome = run(tmp_path, "import os; print(sorted(os.environ))")
    assert outcome.returncode == 0
    assert "GITHUB_TOKEN" not in outcome.output_tail and "HIDDEN_TESTS_TOKEN" not in outcome.output_tail
    assert "'HOME'" in outcome.output_tail and "'OPENBLAS_NUM_THREADS'" in outcome.output_tail


def test_wall_clock_limit_kills_the_whole_process_group(tmp_path):
    code = ("import subprocess, time, pathlib\n"
            "child = subprocess.Popen(['sleep', '60'])\n"
            "pathlib.Path('child.pid').write_text(str(child.pid))\n"
            "time.sleep(60)\n")
    started = time.monotonic()
    outcome = run(tmp_path, code, wall=2)
    assert outcome.timed_out and outcome.returncode is None
    assert time.monotonic() - started < 15
    assert "time limit" in outcome.describe()
    child = int((tmp_path / "child.pid").read_text())
    time.sleep(0.2)
    assert not Path(f"/proc/{child}").exists() or "Z" in Path(f"/proc/{child}/stat").read_text().split()[2], \
        "a grandchild left running after the limit"


def test_memory_limit_turns_a_memory_bomb_into_a_memory_error(tmp_path):
    outcome = run(tmp_path, "x = bytearray(1500 * 1024 * 1024)", memory_mib=1024)
    assert outcome.returncode == 1 and "MemoryError" in outcome.output_tail


def test_file_size_limit_stops_a_flood_of_output(tmp_path):
    outcome = run(tmp_path, "import sys\nfor _ in range(100): sys.stdout.write('x' * 100_000)\n", file_mib=1)
    assert outcome.returncode != 0
    assert (tmp_path / "output.txt").stat().st_size <= 1 * MIB
    assert outcome.output_capped and outcome.describe() == "was stopped for writing more output than the grader allows"


def test_a_normal_exit_is_described_by_its_code(tmp_path):
    outcome = run(tmp_path, "raise SystemExit(3)")
    assert (outcome.returncode, outcome.timed_out, outcome.describe()) == (3, False, "exited with code 3")
    assert os.path.exists(tmp_path / "output.txt")
