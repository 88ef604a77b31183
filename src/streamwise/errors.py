"""Every error streamwise raises, in one place.

The hierarchy::

    StreamwiseError
    ├── ConfigurationError          misuse: something to change in your code or settings
    │   ├── ProviderNotInstalledError
    │   ├── UnknownProviderError
    │   └── NoAppError
    ├── WriterClosedError           a writer used after its tool or step ended
    ├── ChunkLogTruncatedError      a reader fell behind a run's replay window
    ├── TripwireTriggered           a processor or tool stopped the run on purpose (guardrail)
    ├── ScriptExhaustedError        a ScriptedModel asked for more turns than it was given
    ├── ToolError                   a tool call that did not produce a result
    │   ├── UnknownToolError
    │   ├── ToolInputError
    │   └── ToolOutputError
    ├── RunError                    a run that failed; carries ``run_id``
    │   ├── ModelError
    │   │   ├── ModelAuthenticationError   the provider refused the key (401 / 403)
    │   │   ├── ModelRateLimitError        still rate limited after the SDK's retries (429)
    │   │   └── ModelConnectionError       connection failed, timed out or dropped mid-stream
    │   ├── StructuredOutputError
    │   ├── RunNotSuspendedError
    │   ├── RunNotContinuableError  a stored run this process cannot load (a ConfigurationError)
    │   ├── RunCanceledError
    │   └── WorkflowRunBusyError
    └── StorageError                the store could not do what was asked
        ├── StorageConfigError      bad database URL or scheme, missing driver (also a ConfigurationError)
        ├── StorageUnavailableError the database cannot be reached or opened
        ├── InvalidIdError          an id that is empty, too long or has control characters
        └── ThreadNotFoundError     no thread with that id

Tool errors never escape a run: they become ``tool-error`` chunks the model can read.
"""

from __future__ import annotations

from typing import Any

__all__ = (
    "ChunkLogTruncatedError",
    "ConfigurationError",
    "InvalidIdError",
    "ModelAuthenticationError",
    "ModelConnectionError",
    "ModelError",
    "ModelRateLimitError",
    "NoAppError",
    "ProviderNotInstalledError",
    "RunCanceledError",
    "RunError",
    "RunNotContinuableError",
    "RunNotSuspendedError",
    "ScriptExhaustedError",
    "StorageConfigError",
    "StorageError",
    "StorageUnavailableError",
    "StreamwiseError",
    "StructuredOutputError",
    "ThreadNotFoundError",
    "ToolError",
    "ToolInputError",
    "ToolOutputError",
    "TripwireTriggered",
    "UnknownProviderError",
    "UnknownToolError",
    "WorkflowRunBusyError",
    "WriterClosedError",
)


class StreamwiseError(Exception):
    """Raised for every error that streamwise itself defines."""


class ConfigurationError(StreamwiseError, ValueError):
    """Raised when code or settings use streamwise wrongly; the message says what to change."""


class ProviderNotInstalledError(ConfigurationError):
    """Raised when a ``"provider/model"`` string names a provider whose extra is not installed."""


class UnknownProviderError(ConfigurationError):
    """Raised when a ``"provider/model"`` string names no registered provider."""


class NoAppError(ConfigurationError):
    """Raised when ``ctx.app`` is used by a run whose agent is not registered in a Streamwise app."""


class WriterClosedError(StreamwiseError):
    """Raised when a writer is used after the tool or step that owned it has ended."""


class ChunkLogTruncatedError(StreamwiseError):
    """Raised when a reader asks for chunks that have left a run's bounded replay window."""


class TripwireTriggered(StreamwiseError):
    """Raised (by a processor, a tool, an instructions function…) to stop a run on purpose.

    The run ends with a ``tripwire`` chunk ``{reason, retry, metadata}`` and status
    ``tripwire`` (PROTOCOL.md §2): a deliberate stop, such as a guardrail, not a failure.
    """

    def __init__(
        self, reason: str, *, retry: bool = False, metadata: dict[str, Any] | None = None
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry = retry
        self.metadata = metadata or {}


class ScriptExhaustedError(StreamwiseError):
    """Raised when a ScriptedModel is asked for a turn after its list of turns ran out."""


class ToolError(StreamwiseError):
    """Raised inside a run when a tool call cannot produce a result (becomes ``tool-error``)."""

    def details(self) -> Any:
        """JSON-ready details for the ``tool-error`` payload, or None."""
        return None


class UnknownToolError(ToolError):
    """Raised when the model calls a tool the agent does not have."""


class ToolInputError(ToolError):
    """Raised when a tool call's arguments are not valid JSON or fail the input schema."""

    def __init__(self, message: str, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.errors = errors or []

    def details(self) -> Any:
        return self.errors


class ToolOutputError(ToolError):
    """Raised when a tool returns a value that fails its output schema."""

    def __init__(self, message: str, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.errors = errors or []

    def details(self) -> Any:
        return self.errors


class RunError(StreamwiseError):
    """Raised by a run's awaitables when the run failed; ``run_id`` names the run."""

    def __init__(self, message: str, *, run_id: str | None = None) -> None:
        super().__init__(message)
        self.run_id = run_id


class ModelError(RunError):
    """Raised when the model call of a run fails (provider error, dropped connection, script)."""


class ModelAuthenticationError(ModelError):
    """Raised when the provider refuses the credentials (HTTP 401 or 403)."""


class ModelRateLimitError(ModelError):
    """Raised when the provider still rate-limits the request after the SDK's retries (429)."""


class ModelConnectionError(ModelError):
    """Raised when the connection to the provider fails, times out or drops mid-stream."""


class StructuredOutputError(RunError):
    """Raised when a run asked for structured output and the model's answer does not fit."""


class RunNotSuspendedError(RunError):
    """Raised when approving, declining or resuming a run that is not waiting for it."""


class RunNotContinuableError(RunError, ConfigurationError):
    """Raised when a stored suspended run cannot be continued by this process: its
    structured-output class cannot be imported here, or another streamwise stored it in a
    format this one does not read. The run stays stored, for a process that can continue it."""


class RunCanceledError(RunError):
    """Raised by ``generate()`` when the run was cancelled before it finished."""


class WorkflowRunBusyError(RunError):
    """Raised when a workflow run is resumed (or started) while another stream is running it."""


class StorageError(StreamwiseError):
    """Raised when the store cannot do what was asked (the message names the database)."""


class StorageConfigError(StorageError, ConfigurationError):
    """Raised when a database URL is malformed, has an unknown scheme or needs a missing driver."""


class StorageUnavailableError(StorageError):
    """Raised when the database cannot be reached or opened (down, refused, not a database)."""


class InvalidIdError(StorageError, ValueError):
    """Raised when a thread, resource, run or workflow id is empty, too long or has control
    characters."""


class ThreadNotFoundError(StorageError):
    """Raised when a thread is updated that does not exist."""
