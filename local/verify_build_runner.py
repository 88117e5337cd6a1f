"""Run one function of `sam build`'s output as Lambda would: `make verify-build`'s inner half.

Executed by the aarch64 CPython 3.13 under qemu, not by the host, so it uses
the standard library only. It reads a job (JSON) on stdin: the task root, the
layer folder (Lambda's /opt), the handler and the invocations; puts those
folders on sys.path in Lambda's order; imports the handler once (a cold start)
and invokes it with each event in turn (warm), as one container would. Its
last line on stdout is the result, after a marker; the handlers' own logs
come before it.

A layer module compiled from source instead of loaded from its bytecode is
recorded by wrapping the import system's one compile step
(SourceLoader.source_to_code): every source compile of an imported module goes
through it, and a module loaded from a valid .pyc never does. This is the
fact `python -v` reports as "code object from <source>", without parsing its
messages.
"""

from __future__ import annotations

import _frozen_importlib_external
import importlib
import json
import os
import platform
import sys
import time
import traceback
import uuid
from typing import Any

RESULT_MARKER = "@@verify-build-result@@ "

_compiled_from_source: list[str] = []
_source_to_code = _frozen_importlib_external.SourceLoader.source_to_code


def _recording_source_to_code(self: Any, data: Any, path: Any, **kwargs: Any) -> Any:
    _compiled_from_source.append(str(path))
    return _source_to_code(self, data, path, **kwargs)


class Context:
    """The attributes of Lambda's context object that handlers and Powertools read."""

    def __init__(self, function_name: str, timeout_seconds: int) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = (
            f"arn:aws:lambda:us-east-1:000000000000:function:{function_name}"
        )
        self.memory_limit_in_mb = int(os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512"))
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "verify-build"
        self._deadline = time.monotonic() + timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def run(job: dict[str, Any]) -> dict[str, Any]:
    """Import the handler and invoke it with each event; what happened, as JSON-ready values."""
    layer_python = os.path.join(job["layer_root"], "python")
    # Lambda's order: the task root, then the layer's two folders, then the runtime.
    sys.path[:] = [
        job["task_root"],
        os.path.join(layer_python, "lib", "python3.13", "site-packages"),
        layer_python,
        *(p for p in sys.path if p.startswith(sys.base_prefix)),
        *job.get("runtime_paths", []),
    ]
    os.chdir(job["task_root"])
    result: dict[str, Any] = {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "invocations": [],
    }
    module_name, _, function_name = job["handler"].rpartition(".")
    try:
        handler = getattr(importlib.import_module(module_name), function_name)
    except BaseException as error:
        result["import_error"] = _describe(error)
        handler = None
    for invocation in job["invocations"] if handler else []:
        context = Context(job["function_name"], job["timeout"])
        try:
            result["invocations"].append({"response": handler(invocation, context)})
        except BaseException as error:
            result["invocations"].append({"error": _describe(error)})
    layer_prefix = os.path.join(job["layer_root"], "")
    result["layer_modules"] = sorted(
        {
            os.path.relpath(file, layer_python)
            for module in list(sys.modules.values())
            if isinstance(file := getattr(module, "__file__", None), str)
            and file.startswith(layer_prefix)
            and file.endswith(".py")
        }
    )
    result["compiled_from_source"] = sorted(
        os.path.relpath(path, layer_python)
        for path in _compiled_from_source
        if path.startswith(layer_prefix)
    )
    return result


def _describe(error: BaseException) -> str:
    last = traceback.format_exception_only(error)[-1].strip()
    return f"{last}\n{''.join(traceback.format_exception(error))}"


def main() -> None:
    job = json.load(sys.stdin)
    _frozen_importlib_external.SourceLoader.source_to_code = _recording_source_to_code  # type: ignore[method-assign]
    result = run(job)
    sys.stdout.flush()
    print(RESULT_MARKER + json.dumps(result, default=str), flush=True)


if __name__ == "__main__":
    main()
