"""Image models' data: the frames stage's crops as training examples, batched and augmented on the device.

crops     the crop table: every kept crop of the frames shards with its 2D joints (crop pixels),
          camera-frame 3D joints and the mapping back to the original image
loader    JPEG decoding in worker processes, one batch per task, pinned and copied asynchronously
augment   scale / rotation / flip / colour on the device, joints moved with the pixels
batcher   the training batches of the shared loop (pose3d.training.loop.fit)
targets   heatmap / voxel targets and the weighted L1 loss of Integral regression
evaluate  predictions (flip test), PCK and pixel errors, back-projection to 3D
detect    a keypoints2d network over every frame of every video: VideoPose3D detections
config    image experiments of params.yaml
"""
