"""jobctl: a command-line job manager for a dating platform."""

__version__ = "0.1.0"
