"""parsers layer; see docs/architecture.md."""
