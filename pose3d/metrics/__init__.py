"""Evaluation metrics (Protocols #1-#3, MPJVE, PCK/AUC) and their aggregation over actions."""
from pose3d.metrics.aggregate import METRICS, ErrorAccumulator
from pose3d.metrics.errors import (
    AUC_THRESHOLDS_MM,
    PCK_THRESHOLD_MM,
    auc,
    mpjpe_per_frame,
    mpjve_per_frame,
    n_mpjpe_per_frame,
    p_mpjpe_per_frame,
    per_joint_errors,
    pck,
    procrustes_align,
    root_relative,
    sequence_metrics,
)

__all__ = [
    "AUC_THRESHOLDS_MM", "METRICS", "PCK_THRESHOLD_MM", "ErrorAccumulator", "auc", "mpjpe_per_frame",
    "mpjve_per_frame", "n_mpjpe_per_frame", "p_mpjpe_per_frame", "per_joint_errors", "pck",
    "procrustes_align", "root_relative", "sequence_metrics",
]
