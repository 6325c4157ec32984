"""Priors for the multi-view models: triangulated pelvis positions and limb-length statistics.

``noise`` and ``detections`` choose the 2D input (ground truth, a detector-like noisy copy,
or an imported VideoPose3D detections file) and are reusable by any stage that reads 2D.
"""
