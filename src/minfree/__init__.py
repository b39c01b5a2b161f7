"""minfree: find, explain and prevent Linux "page allocation failure" incidents.

The package is layered so that data flows one way:
``sources`` (bytes) -> ``parsers`` (text -> model) -> ``model`` (frozen dataclasses)
-> ``analysis`` (findings as data) -> ``recommend`` (pure) -> ``apply`` (the only writer).
``kernel`` holds version-aware kernel facts and formulas; ``outputs`` renders; ``cli`` is thin.
See docs/architecture.md.
"""

__version__ = "0.1.0"
