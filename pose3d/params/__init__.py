"""params.yaml's sections as typed defaults (:mod:`.schema`) and the one way to read them (:mod:`.check`)."""
from pose3d.params.check import ParamsError, as_dict, check_params, describe, section
from pose3d.params.schema import EXPERIMENT_SECTIONS, SECTIONS

__all__ = ["EXPERIMENT_SECTIONS", "SECTIONS", "ParamsError", "as_dict", "check_params", "describe", "section"]
