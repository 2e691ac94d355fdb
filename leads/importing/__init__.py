"""CSV import of lead lists (trade shows, seminars, purchased lists): used by the import page and
`manage.py import_leads`.

- Encodings: UTF-8, UTF-8 with BOM, UTF-16 with BOM (Excel's "Unicode text") and Shift_JIS / CP932 (Excel in
  Japan) are detected; bytes that are invalid in the file's encoding make only their own row fail.
- Columns are mapped automatically from Japanese or English headers (メールアドレス, 氏名, 会社名, 役職 …);
  unmapped columns are kept on the touch, so nothing in the file is lost.
- Each row becomes one touch (e.g. a trade-show visit) whose idempotency key is a hash of the row's contents
  and the import options (touch type, source name, campaign, date), and the lead is upserted by email:
  importing the same file again changes nothing, and after fixing a few rows only those rows are new.
- Rows go through leads.ingest in batches of 1,000, so 10,000 rows take a few dozen queries, and a bad row is
  reported (line and reason) without stopping the good ones.
"""

from leads.importing.files import (
    EXTRA,
    IGNORE,
    PREVIEW_ROWS,
    TARGET_FIELDS,
    TARGETS,
    ImportFileError,
    ParsedFile,
    custom_targets,
    decode,
    guess_mapping,
    mapping_errors,
    parse,
    preview_rows,
)
from leads.importing.jobs import (
    ImportAlreadyStarted,
    import_job_create,
    import_job_failed_rows,
    import_job_parse,
    import_job_run,
)
from leads.importing.rows import IMPORT_SOURCE, ImportResult, RowError, import_rows, row_to_event

__all__ = [
    "EXTRA",
    "IGNORE",
    "IMPORT_SOURCE",
    "PREVIEW_ROWS",
    "TARGETS",
    "TARGET_FIELDS",
    "ImportAlreadyStarted",
    "ImportFileError",
    "ImportResult",
    "ParsedFile",
    "custom_targets",
    "RowError",
    "decode",
    "guess_mapping",
    "import_job_create",
    "import_job_failed_rows",
    "import_job_parse",
    "import_job_run",
    "import_rows",
    "mapping_errors",
    "parse",
    "preview_rows",
    "row_to_event",
]
