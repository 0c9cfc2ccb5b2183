"""Evidence: read what the tools printed, judge each step on it, and suggest the next move.

- :mod:`.tensor_copy` — the ``[TENSOR_COPY_DEBUG]`` diagnostic log read by where copies come from (host buffers:
  the scheduler's designed offload; non-host buffers such as AMX: the bug), and the analysis form's pre-fill;
- :mod:`.backends` — what a run used: buffers by backend, offloaded layers, GPU devices; hybrid / GPU / CPU;
- :mod:`.numactl` — numactl's own failures, named as numactl's;
- :mod:`.llama_cli` — crash / rejected flag / tokens (in the log's dialect) / speed / mode of a llama-cli run, and a
  test step's verdict;
- :mod:`.llama_bench` — llama-bench results (markdown, CSV, JSON), the session's measurements, and the verdict
  against the same benchmark before the fix (:mod:`.compare`) or a comparable reference;
- :mod:`.judge` — a build's verdict from its log;
- :mod:`.criteria` — the success criteria; :mod:`.troubleshoot` — matching troubleshooting entries;
- :mod:`.context` — every value text templates may use.

Plain Python: nothing here imports the UI. Functions that read logs take ``read_log(run_id) -> text``.
"""

from .verdict import Verdict

__all__ = ["Verdict"]
