"""2D inputs of the lifting models and the priors: ground truth, a detector-like noisy copy, or detections.

- :mod:`.load` reads and checks VideoPose3D-format ``data_2d_h36m_<name>.npz`` files against the mocap;
- :mod:`.noise` is the seeded detector-like corruption (with confidences that fall as the error grows);
- :mod:`.sources` resolves the ``inputs_2d`` entries of params.yaml into one checked file each;
- :mod:`.corruptions` and :mod:`.fill` are the robustness corruptions and the missing-joint rules;
- :mod:`.importers` (``python -m pose3d.detections import``) converts other detectors' outputs,
  read by :mod:`.readers` (formats), :mod:`.parsing` (image and sequence names) and :mod:`.coco`
  (COCO's 17 joints onto Human3.6M's).
"""
