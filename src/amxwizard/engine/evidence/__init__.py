"""Evidence: read what the tools printed, judge each step on it, and suggest the next move.

- :mod:`.tensor_copy` — the ``[TENSOR_COPY_DEBUG]`` diagnostic log and the analysis form's pre-fill;
- :mod:`.llama_cli` — crash / rejected flag / tokens / speed of a llama-cli run, and a test step's verdict;
- :mod:`.llama_bench` — llama-bench results (markdown, CSV, JSON), the session's benchmark history, the verdict;
- :mod:`.judge` — a build's verdict from its log;
- :mod:`.criteria` — the success criteria; :mod:`.troubleshoot` — matching troubleshooting entries;
- :mod:`.context` — every value text templates may use.

Plain Python: nothing here imports the UI. Functions that read logs take ``read_log(run_id) -> text``.
"""

from .verdict import Verdict

__all__ = ["Verdict"]
