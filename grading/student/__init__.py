"""The student loop: what a student runs while working.

What: progress at a glance and explained failures (`progress`: `kata test`, `kata status`) and
re-running on every save (`watch`: `kata watch`).
Who runs it: students, in their template, on their own machine.
May import: authoring.
"""
