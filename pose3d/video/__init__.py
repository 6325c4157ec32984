"""Videos -> cropped, sub-sampled frames in one shard per video, with an index for random access.

decode   frame-exact PyAV decoding that converts only the kept frames, and detects damage
boxes    person boxes from the ground_truth_bb masks or the 2D joints; the square crop
crop     crop + resize (+ undistortion) and the camera of the crop
jpeg     JPEG through PyAV's MJPEG codec
shards   the per-video ``.npy`` shard format
extract  one video -> one shard (a job a worker runs)
subject  every video of a subject: plan, run in parallel, write index + report
reader   FrameShards: open an index, get item i -> image + metadata
dump     ``python -m pose3d.video.dump``: one crop to a JPEG file
"""
from pose3d.video.extract import FrameSettings, VideoJob, VideoResult, extract_video
from pose3d.video.reader import FrameShards, read_index
from pose3d.video.subject import FramesError, extract_subject, plan_subject

__all__ = [
    "FrameSettings", "FrameShards", "FramesError", "VideoJob", "VideoResult",
    "extract_subject", "extract_video", "plan_subject", "read_index",
]
