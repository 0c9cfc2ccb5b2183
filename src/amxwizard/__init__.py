"""amxwizard: walk a long, risky runbook on a remote machine and leave a record a reviewer can trust."""

__version__ = "0.1.0"
