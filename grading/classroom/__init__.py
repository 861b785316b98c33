"""Classroom: delivering the course and running it.

What: the student template and hidden bundle (`release`, `templates/`), the payload for GitHub
Classroom's reporter (`payload`), collecting a roster (`roster`) at a deadline (`commits`), and the
authoritative regrade into a gradebook (`regrade`).
Who runs it: instructors (`kata release`, `kata roster`, `kata regrade`) and their workflows; the
template's `classroom.yml` runs `kata classroom` on each push.
May import: reports (and what they may import).
"""
