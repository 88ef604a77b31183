"""The stream core: chunks, the chunk log, the output object, writers, nesting and usage."""

from ._chunks import AGENT as AGENT
from ._chunks import USER as USER
from ._chunks import WORKFLOW as WORKFLOW
from ._chunks import Chunk as Chunk
from ._chunks import ChunkFrom as ChunkFrom
from ._chunks import DataChunk as DataChunk
from ._chunks import ErrorInfo as ErrorInfo
from ._chunks import ErrorPayload as ErrorPayload
from ._chunks import FinishPayload as FinishPayload
from ._chunks import StepFinishPayload as StepFinishPayload
from ._chunks import StepStartPayload as StepStartPayload
from ._chunks import TextDeltaPayload as TextDeltaPayload
from ._chunks import ToolCallPayload as ToolCallPayload
from ._chunks import ToolErrorPayload as ToolErrorPayload
from ._chunks import ToolOutputPayload as ToolOutputPayload
from ._chunks import ToolResultPayload as ToolResultPayload
from ._chunks import Usage as Usage
from ._chunks import error_info as error_info
from ._chunks import is_chunk as is_chunk
from ._chunks import is_data_chunk as is_data_chunk
from ._log import ChunkLog as ChunkLog
from ._log import LogStatistics as LogStatistics
from ._run import Deferred as Deferred
from ._run import RunOutput as RunOutput
from ._run import RunStatus as RunStatus
from ._run import current_run as current_run
from ._usage import add_usage as add_usage
from ._usage import empty_usage as empty_usage
from ._usage import normalize_usage as normalize_usage
from ._writer import ChunkWriter as ChunkWriter
from ._writer import StepOutputWriter as StepOutputWriter
from ._writer import ToolOutputWriter as ToolOutputWriter
from ._writer import Writer as Writer
from ._writer import check_data_chunk as check_data_chunk

__all__ = (
    "AGENT",
    "USER",
    "WORKFLOW",
    "Chunk",
    "ChunkFrom",
    "ChunkLog",
    "ChunkWriter",
    "DataChunk",
    "Deferred",
    "ErrorInfo",
    "ErrorPayload",
    "FinishPayload",
    "LogStatistics",
    "RunOutput",
    "RunStatus",
    "StepFinishPayload",
    "StepOutputWriter",
    "StepStartPayload",
    "TextDeltaPayload",
    "ToolCallPayload",
    "ToolErrorPayload",
    "ToolOutputPayload",
    "ToolOutputWriter",
    "ToolResultPayload",
    "Usage",
    "Writer",
    "add_usage",
    "check_data_chunk",
    "current_run",
    "empty_usage",
    "error_info",
    "is_chunk",
    "is_data_chunk",
    "normalize_usage",
)
