"""The engine: session store, command runner, steps, evidence, git and documents. Never imports the UI."""

import os

# The wizard reads git state (status, diff) from worker threads while a step may be committing in the same
# repository; git's switch for such tools keeps those reads from taking the index lock a commit needs.
os.environ.setdefault("GIT_OPTIONAL_LOCKS", "0")
