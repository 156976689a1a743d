"""The schema of a prior file's config, as pydantic models: what ``load`` builds a prior from,
every field typed and ranged, and what the file records about how it was made. Unknown fields
are refused (a file from another version), as are missing and mistyped ones, in one line."""

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from invsolve.catalog import PRIOR_KINDS
from invsolve.errors import InvsolveError
from invsolve.validation import one_line

STRICT = ConfigDict(strict=True, extra="forbid", allow_inf_nan=False)
PATCH_GRID_FIELDS = ("patch_size", "pad")  # a PaDIS prior's; a whole-image prior has none


class ScheduleConfig(BaseModel):
    """A DDPM network's discrete VP schedule: beta linear from ``beta_start`` to ``beta_end``."""

    model_config = STRICT
    steps: Annotated[int, Field(ge=2)]
    beta_start: Annotated[float, Field(gt=0, lt=1)]
    beta_end: Annotated[float, Field(gt=0, lt=1)]


class NetworkConfig(BaseModel):
    """The denoising network: ``EDMNetwork(**fields)`` (preconditioning "edm") or
    ``EpsilonUNet(**fields)`` (preconditioning "eps", with its schedule), but the preconditioning,
    which names the class."""

    model_config = STRICT
    size: Literal["tiny", "small", "paper"]
    channels: Literal[1, 3]
    positional: bool
    resolution: Annotated[int, Field(ge=8)]
    preconditioning: Literal["edm", "eps"]
    sigma_data: Annotated[float, Field(gt=0)] | None = None  # EDM's data scale (edm only)
    slices: Annotated[int, Field(ge=1)] = 1  # neighbouring slices read (cross-slice priors: odd, > 1)
    schedule: ScheduleConfig | None = None  # eps only

    @model_validator(mode="after")
    def _fits_preconditioning(self) -> "NetworkConfig":
        if self.preconditioning == "edm" and (self.sigma_data is None or self.schedule is not None):
            raise ValueError("an edm network has sigma_data and no schedule")
        if self.preconditioning == "eps" and (self.schedule is None or self.sigma_data is not None or self.slices > 1):
            raise ValueError("an eps network has a schedule, and no sigma_data or slices")
        return self


class PriorConfig(BaseModel):
    """A prior file's config. The first block is what loading uses, all of it; the second is how the
    prior was made (read by people and studies)."""

    model_config = STRICT
    kind: Literal["padis", "whole"]
    objective: Literal["edm", "eps"]
    network: NetworkConfig
    image_size: Annotated[int, Field(ge=8)]
    sigma_min: Annotated[float, Field(gt=0)]
    sigma_max: float
    patch_size: Annotated[int, Field(ge=1)] | None = None  # PaDIS priors: the patch grid
    pad: Annotated[int, Field(ge=0)] | None = None  # None: the tightest pad

    training_pad: int | None = None
    patch_sizes: list[int] | None = None
    patch_probs: list[float] | None = None
    data: dict[str, Any] | None = None
    command: str | None = None
    resumed_with: list[str] = Field(default_factory=list)
    training: dict[str, Any] | None = None
    versions: dict[str, str] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> "PriorConfig":
        if not self.sigma_max > self.sigma_min:
            raise ValueError("sigma_max must exceed sigma_min")
        if self.objective != self.network.preconditioning:
            raise ValueError(
                f"a network with {self.network.preconditioning} preconditioning is not trained by {self.objective}"
            )
        if self.kind == "padis" and self.patch_size is None:
            raise ValueError("a PaDIS prior needs patch_size")
        if self.kind == "whole" and set(PATCH_GRID_FIELDS) & self.model_fields_set:
            raise ValueError("a whole-image prior has no patch grid (patch_size, pad)")
        return self


def check_prior_config(config: dict) -> PriorConfig:
    """``config`` as a typed ``PriorConfig``, or one line naming the field that is missing, mistyped,
    out of range or unknown."""
    kind = config.get("kind") if isinstance(config, dict) else None
    if kind not in PRIOR_KINDS:
        raise InvsolveError(f"unknown prior kind {kind!r} in checkpoint; this invsolve reads {', '.join(PRIOR_KINDS)}")
    try:
        return PriorConfig.model_validate(config)
    except ValidationError as error:
        unknown = [".".join(map(str, e["loc"])) for e in error.errors() if e["type"] == "extra_forbidden"]
        if unknown:
            raise InvsolveError(
                f"checkpoint config has field(s) this invsolve does not know: {', '.join(unknown)} "
                "(written by another version? upgrade invsolve)"
            ) from None
        raise InvsolveError(f"checkpoint config {one_line(error)} (damaged file?)") from None
