"""The sandbox: the operating-system boundary around every process that imports a submission.

What: `confine` starts a command inside bubblewrap under hard limits and reads its result channel;
`launcher` is the program it starts first, which applies the resource limits and then becomes
bubblewrap (or, without it, the command); `budget` and `cputime` count the CPU time a process tree
costs; `untrusted_text` strips control characters from what comes out. This is the one place that
starts a sandboxed process for student code.
Who runs it: the grading engine (test runs, import probes) and the judged harness (its worker).
May import: nothing else of the grader.
"""
