"""Authoring: the curriculum as data, and the tools that keep the course's trees true to it.

What: the manifest loader (`curriculum`), course configurations and due dates (`course`), the stub
generator (`stubgen`) and the forward-dependency lint (`lint/`).
Who runs it: maintainers (`kata stubs`, `kata lint`); the engine, reports, classroom, student and cli
packages read the manifest through it.
May import: nothing else of the grader (the bottom layer).
"""
