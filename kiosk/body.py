"""Keypoint conventions shared by every stage.

A pose is a float32 array of shape (17, 3): one row per COCO keypoint in `BodyPart` order, columns
(x, y, score) in source-frame pixels, y pointing down. A pose track stacks poses over time.
"""

from __future__ import annotations

from enum import Enum, IntEnum

NUM_KEYPOINTS = 17

# Column indices of a pose row.
X, Y, SCORE = 0, 1, 2


class BodyPart(IntEnum):
    """The 17 COCO keypoints, in the order MoveNet outputs them."""

    NOSE = 0
    LEFT_EYE = 1
    RIGHT_EYE = 2
    LEFT_EAR = 3
    RIGHT_EAR = 4
    LEFT_SHOULDER = 5
    RIGHT_SHOULDER = 6
    LEFT_ELBOW = 7
    RIGHT_ELBOW = 8
    LEFT_WRIST = 9
    RIGHT_WRIST = 10
    LEFT_HIP = 11
    RIGHT_HIP = 12
    LEFT_KNEE = 13
    RIGHT_KNEE = 14
    LEFT_ANKLE = 15
    RIGHT_ANKLE = 16

    @property
    def key(self) -> str:
        """The snake_case name used by pose-track files (`left_hip`)."""
        return self.name.lower()


class Side(Enum):
    """The body side facing the camera."""

    LEFT = "left"
    RIGHT = "right"

    @property
    def other(self) -> Side:
        return Side.RIGHT if self is Side.LEFT else Side.LEFT

    @staticmethod
    def toward_camera(facing: int) -> Side | None:
        """The side nearer the camera of someone facing +x (1) or -x (-1) in the picture: turned to
        face the picture's right, a person shows the camera their right side. None when unknown."""
        return Side.RIGHT if facing > 0 else Side.LEFT if facing < 0 else None


class SideChain:
    """The keypoints of one body side, from head to foot, as `BodyPart` indices."""

    __slots__ = ("ankle", "ear", "elbow", "eye", "hip", "knee", "shoulder", "wrist")

    def __init__(self, side: Side) -> None:
        p = "LEFT_" if side is Side.LEFT else "RIGHT_"
        self.eye = int(BodyPart[p + "EYE"])
        self.ear = int(BodyPart[p + "EAR"])
        self.shoulder = int(BodyPart[p + "SHOULDER"])
        self.elbow = int(BodyPart[p + "ELBOW"])
        self.wrist = int(BodyPart[p + "WRIST"])
        self.hip = int(BodyPart[p + "HIP"])
        self.knee = int(BodyPart[p + "KNEE"])
        self.ankle = int(BodyPart[p + "ANKLE"])


CHAINS: dict[Side, SideChain] = {side: SideChain(side) for side in Side}

# Bones drawn for one side, as (from, to) pairs of that side's chain attributes.
SIDE_BONES: tuple[tuple[str, str], ...] = (
    ("ear", "shoulder"),
    ("shoulder", "elbow"),
    ("elbow", "wrist"),
    ("shoulder", "hip"),
    ("hip", "knee"),
    ("knee", "ankle"),
)

# The whole COCO skeleton, for debugging views and annotated video.
SKELETON: tuple[tuple[BodyPart, BodyPart], ...] = (
    (BodyPart.LEFT_EAR, BodyPart.LEFT_EYE),
    (BodyPart.RIGHT_EAR, BodyPart.RIGHT_EYE),
    (BodyPart.LEFT_EYE, BodyPart.NOSE),
    (BodyPart.RIGHT_EYE, BodyPart.NOSE),
    (BodyPart.LEFT_SHOULDER, BodyPart.RIGHT_SHOULDER),
    (BodyPart.LEFT_SHOULDER, BodyPart.LEFT_ELBOW),
    (BodyPart.LEFT_ELBOW, BodyPart.LEFT_WRIST),
    (BodyPart.RIGHT_SHOULDER, BodyPart.RIGHT_ELBOW),
    (BodyPart.RIGHT_ELBOW, BodyPart.RIGHT_WRIST),
    (BodyPart.LEFT_SHOULDER, BodyPart.LEFT_HIP),
    (BodyPart.RIGHT_SHOULDER, BodyPart.RIGHT_HIP),
    (BodyPart.LEFT_HIP, BodyPart.RIGHT_HIP),
    (BodyPart.LEFT_HIP, BodyPart.LEFT_KNEE),
    (BodyPart.LEFT_KNEE, BodyPart.LEFT_ANKLE),
    (BodyPart.RIGHT_HIP, BodyPart.RIGHT_KNEE),
    (BodyPart.RIGHT_KNEE, BodyPart.RIGHT_ANKLE),
)
