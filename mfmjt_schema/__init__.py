"""One table of the `generate` request's fields, and the cost of a request.

Standard library only, so editor plugins can vendor it beside the daemon's client. The daemon's
protocol checks, the pipeline's `GenerateRequest`, the daemon's intake, the command line's
options, the Python client and the editor forms all read their fields, bounds, defaults and help
from here: adding a field means adding it to `fields.FIELDS` (and to the widgets that show it).
"""

from .cost import (
    BYTES_PER_SAMPLE,
    Cost,
    RangeError,
    check_range,
    range_seconds,
    request_cost,
    sample_count,
)
from .fields import (
    FIELDS,
    MAX_SECONDS,
    MAX_SEED,
    MAX_TEXT,
    RESCALE_MODES,
    TEXT,
    VIDEO,
    VIDEO_FORMATS,
    Field,
    FieldError,
    check_fields,
    cli_fields,
    field,
    pipeline_fields,
    valid_id,
    wire_fields,
)

__all__ = ["BYTES_PER_SAMPLE", "FIELDS", "MAX_SECONDS", "MAX_SEED", "MAX_TEXT", "RESCALE_MODES", "TEXT", "VIDEO",
           "VIDEO_FORMATS", "Cost", "Field", "FieldError", "RangeError", "check_fields", "check_range", "cli_fields",
           "field", "pipeline_fields", "range_seconds", "request_cost", "sample_count", "valid_id", "wire_fields"]
