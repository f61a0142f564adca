"""The package version; ``native/Cargo.toml`` must carry the same one."""

__version__ = "2.0.0"
