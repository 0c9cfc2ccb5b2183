"""Rehearsal: a throwaway sandbox shaped like the target, with stand-in tools, to walk the runbook safely."""
