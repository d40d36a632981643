"""pandera models of the TOH registry export: one DataFrameModel per table, plus the rules that
span tables (:mod:`schemas.crosstable`).  This layer imports no other layer of the package."""

from schemas.codes import TABLES
from schemas.crosstable import CROSS_TABLE_RULES, check_cross_table
from schemas.episodes import EpisodesSchema
from schemas.events import EventsSchema
from schemas.imaging import ImagingSchema
from schemas.patients import PatientsSchema

__all__ = [
    "TABLES",
    "SCHEMAS",
    "CROSS_TABLE_RULES",
    "check_cross_table",
    "PatientsSchema",
    "EpisodesSchema",
    "ImagingSchema",
    "EventsSchema",
]

#: table name -> its pandera model.
SCHEMAS = {
    "patients": PatientsSchema,
    "episodes": EpisodesSchema,
    "imaging": ImagingSchema,
    "events": EventsSchema,
}
