"""The `daas` subcommands, one module per area; each registers itself on ``console.cli.app``."""
