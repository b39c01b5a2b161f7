"""recommend layer; see docs/architecture.md."""
