"""Priors for the multi-view models: pelvis positions (triangulated, or an algebraic
model's predictions where it has them) and limb-length statistics.

Their 2D input is one of the pipeline's 2D sources (:mod:`pose3d.detections`).
"""
