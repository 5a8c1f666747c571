"""Synthetic traffic video with ground truth by construction (issue 6, item 4).

A road in perspective, vehicles simulated on the ground plane and drawn through one camera
model; the crossings of the counting lines are computed from the same ground positions, and the
edge-node config (contract C1) from the same camera.
"""

from simulators.video.generate import Summary, VideoSpec, generate

__all__ = ["Summary", "VideoSpec", "generate"]
