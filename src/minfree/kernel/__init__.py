"""kernel layer; see docs/architecture.md."""
