"""outputs layer; see docs/architecture.md."""
