"""Reference subjects, exactly as the papers define them, and their mutants.

Each paper has one module ``<paper>.py`` (its family contract and reference factory)
and, where it has mutants, ``<paper>_mutants.py``.  A module lists what it offers
in ``SUBJECTS``; the registry discovers them, the engine never names them.
"""
