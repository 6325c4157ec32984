"""Priors for the multi-view models: triangulated pelvis positions and limb-length statistics.

Their 2D input is one of the pipeline's 2D sources (:mod:`pose3d.detections`).
"""
