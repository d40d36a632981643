"""pandera models of the TOH registry export: one DataFrameModel per table, plus the rules that
span tables (:mod:`toh.schemas.crosstable`).  This layer imports no other layer of the package."""

from toh.schemas.codes import TABLES
from toh.schemas.crosstable import CROSS_TABLE_RULES, check_cross_table
from toh.schemas.episodes import EpisodesSchema
from toh.schemas.events import EventsSchema
from toh.schemas.imaging import ImagingSchema
from toh.schemas.patients import PatientsSchema

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
