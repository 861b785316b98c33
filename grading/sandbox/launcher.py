"""The first program of every sandboxed command: apply the hard limits, then become the command.

`python grading/sandbox/launcher.py MEMORY_BYTES FILE_BYTES CHANNEL -- COMMAND...` sets the
address-space, file-size and core-dump limits with resource.setrlimit, moves the result channel (the
inherited descriptor CHANNEL, or `-` for none) to descriptor CHANNEL_FD, and replaces itself with
COMMAND (os.execv). The grader starts commands this
way rather than with `preexec_fn`, which is unsafe when it runs several subprocesses from threads
(`--jobs`). It runs as a script, by path, so it imports nothing but the standard library.
"""
from __future__ import annotations

import os
import resource
import sys

CHANNEL_FD = 3  # the descriptor a sandboxed command writes its results to
NO_CHANNEL = "-"  # the channel argument for a command that talks over its own descriptors


def apply_limits_and_exec(argv: list[str]) -> None:
    memory_bytes, file_bytes, channel, separator, *command = argv
    if separator != "--" or not command:
        raise SystemExit("usage: python launcher.py MEMORY_BYTES FILE_BYTES CHANNEL|- -- COMMAND...")
    resource.setrlimit(resource.RLIMIT_AS, (int(memory_bytes), int(memory_bytes)))
    resource.setrlimit(resource.RLIMIT_FSIZE, (int(file_bytes), int(file_bytes)))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if channel != NO_CHANNEL and int(channel) != CHANNEL_FD:
        os.dup2(int(channel), CHANNEL_FD)  # dup2 makes the copy inheritable
        os.close(int(channel))
    os.execv(command[0], command)


if __name__ == "__main__":
    apply_limits_and_exec(sys.argv[1:])
