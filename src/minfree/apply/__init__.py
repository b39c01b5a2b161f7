"""apply layer; see docs/architecture.md."""
