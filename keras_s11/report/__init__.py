"""Report folders: every figure of a trained model as PNG, metrics.json and report.md."""

from keras_s11.report.run_files import ReportError, RunRecord, read_run_folder
from keras_s11.report.summary import cross_entropy, model_loss, summarize
from keras_s11.report.writer import (
    check_class_count,
    check_report_inputs,
    classwise_table,
    write_report,
    write_run_report,
)

__all__ = [
    "ReportError",
    "RunRecord",
    "check_class_count",
    "check_report_inputs",
    "classwise_table",
    "cross_entropy",
    "model_loss",
    "read_run_folder",
    "summarize",
    "write_report",
    "write_run_report",
]
