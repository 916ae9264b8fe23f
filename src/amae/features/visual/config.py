"""Configuration of per-post visual feature extraction.

One frozen dataclass travels with the (picklable) extractor to every worker, and is recorded in
the feature metadata so a cached artefact says exactly how it was produced.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

#: Image extensions the contract accepts (GIF: first frame only).
IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".webp", ".gif"})
#: Video extensions the contract accepts (three frames each: first, middle, last).
VIDEO_EXTENSIONS = frozenset({".mp4", ".mov", ".webm"})


@dataclass(frozen=True)
class VisualFeatureConfig:
    """How visual features are computed.

    ``max_pixels`` bounds memory: an image whose header announces more pixels is decoded at a
    reduced scale where the format allows it (JPEG draft mode) and refused otherwise, before any
    pixel buffer is allocated. ``handcrafted`` / ``deep`` switch the two groups (Table III runs
    them separately); a switched-off group is simply absent from the result.
    """

    backbone: str = "efficientnet-lite0"
    resnet_weights: str | None = None
    device: str = "auto"  # "auto" | "cpu" | "cuda" | "cuda:N"
    face_threshold: float = 0.7
    max_pixels: int = 40_000_000
    #: images per CNN forward pass; 0 = auto (8 on CPU, where small batches stay in cache; 64 on GPU)
    batch_size: int = 0
    handcrafted: bool = True
    deep: bool = True
    #: pixels of the working copy for colour / texture (docs/design.md section 4.3: "about 200,000")
    work_pixels: int = 200_000
    #: long side of the copy given to the face detector (libfacedetection degrades above ~960)
    face_max_side: int = 640
    #: OpenMP threads of the face detector per worker thread (1: the engine runs a worker per core)
    face_threads: int = 1
    #: torch intra-op threads per worker process; the engine runs one worker per core, and 2
    #: processes x 1 thread measured ~1.4x the throughput of 1 process x 2 threads. 0 keeps torch's
    #: default (all cores: right for a single worker).
    torch_threads: int = 1
    #: threads decoding media + computing handcrafted features inside one worker while the CNN
    #: runs (OpenCV and Pillow release the GIL); <= 1 decodes inline. Useful with one GPU worker.
    decode_threads: int = 0

    def __post_init__(self) -> None:
        if not 0.0 <= self.face_threshold <= 1.0:
            raise ValueError(f"face_threshold must be in [0, 1], got {self.face_threshold}")
        if self.max_pixels < 1 or self.batch_size < 0 or self.work_pixels < 1 or self.face_max_side < 16:
            raise ValueError(
                "max_pixels and work_pixels must be positive, batch_size >= 0 and face_max_side >= 16, got "
                f"{self.max_pixels}, {self.batch_size}, {self.work_pixels}, {self.face_max_side}"
            )
        if not (self.handcrafted or self.deep):
            raise ValueError("at least one of handcrafted / deep must be switched on")
        if self.device != "auto" and self.device != "cpu" and not self.device.startswith("cuda"):
            raise ValueError(f"device must be auto, cpu or cuda[:N], got {self.device!r}")

    def to_dict(self) -> dict:
        """Plain dict for metadata / TOML."""
        return asdict(self)
