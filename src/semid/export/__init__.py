"""SIDs for any LLM: a SID table exported as Hugging Face tokenizer tokens and fine-tuning data, and read back."""

from semid.export.hf import ExportConfig, ExportResult, export_hf
from semid.export.loader import GeneratedSID, HFExport, load_hf_export
from semid.export.sid_text import SID_END, sid_string, sid_token_names

__all__ = [
    "SID_END",
    "ExportConfig",
    "ExportResult",
    "GeneratedSID",
    "HFExport",
    "export_hf",
    "load_hf_export",
    "sid_string",
    "sid_token_names",
]
