"""The pipeline report: every experiment's results, curves and renders in one offline HTML page (+ markdown).

``collect_inputs`` reads whatever the stages left in the workspace, ``assemble`` turns it
into sections (tables, figures, animations), ``write_report`` writes ``index.html``,
``report.md`` and the figures. The library never calls DVC: a what-changed comparison
arrives as the JSON that ``dvc params diff`` / ``dvc metrics diff`` print, in
``ReportInputs.compare``.
"""
from pose3d.report.animation import Clip, render_gif, render_worst
from pose3d.report.document import Image, Report, Section, Table, Text
from pose3d.report.inputs import ExperimentRun, ReportInputs, collect_inputs
from pose3d.report.sections import assemble
from pose3d.report.settings import ReportSettings
from pose3d.report.write import write_report

__all__ = [
    "Clip", "ExperimentRun", "Image", "Report", "ReportInputs", "ReportSettings", "Section", "Table", "Text",
    "assemble", "collect_inputs", "render_gif", "render_worst", "write_report",
]
