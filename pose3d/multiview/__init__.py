"""Multi-view samples and their batches: learnable-triangulation and ContextPose."""
