"""Code lists of the registry export contract (see ``docs/contract.md``).

Every coded column of the canonical export takes its values from one of these tuples.  A
registry with other codes recodes them through the mapping file (``toh.cohort.mapping``).
"""

from __future__ import annotations

__all__ = [
    "SEX",
    "JOINTS",
    "SIDES",
    "PREGNANCY",
    "TRIMESTERS",
    "MODALITIES",
    "EDEMA_EXTENT",
    "EVENT_TYPES",
    "XR_FINDINGS",
    "MRI_FINDINGS",
    "NM_FINDINGS",
    "BOOLEAN_FINDINGS",
    "TABLES",
]

SEX: tuple[str, ...] = ("M", "F")
JOINTS: tuple[str, ...] = ("hip", "knee", "ankle", "foot", "other")
SIDES: tuple[str, ...] = ("L", "R")
PREGNANCY: tuple[str, ...] = ("none", "pregnant", "postpartum")
TRIMESTERS: tuple[int, ...] = (1, 2, 3)
MODALITIES: tuple[str, ...] = ("XR", "MRI", "NM", "CT")
#: Furthest extent of the marrow oedema on MRI, from the femoral head outwards.
EDEMA_EXTENT: tuple[str, ...] = ("head", "neck", "intertrochanteric")
EVENT_TYPES: tuple[str, ...] = (
    "insufficiency_fracture",
    "subcapital_fracture",
    "avascular_necrosis",
    "surgery",
    "death",
    "other",
)
XR_FINDINGS: tuple[str, ...] = (
    "osteopenia",
    "subchondral_cortical_loss",
    "joint_effusion",
    "joint_space_preserved",
)
MRI_FINDINGS: tuple[str, ...] = ("t1_low", "t2_high")
NM_FINDINGS: tuple[str, ...] = ("uptake_increased",)
BOOLEAN_FINDINGS: tuple[str, ...] = XR_FINDINGS + MRI_FINDINGS + NM_FINDINGS

#: The four tables of the export, in the order they are read and reported.
TABLES: tuple[str, ...] = ("patients", "episodes", "imaging", "events")
