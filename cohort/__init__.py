"""Read, map and validate registry exports; derive the analysis tables; simulate registries.

The cohort layer imports only :mod:`schemas`.  Heavy work happens in its modules; importing the
package itself stays cheap.
"""

from toh.cohort.definitions import DEFAULT_DEFINITIONS, Definitions
from toh.cohort.errors import ConfigError, InvalidDataError, StatisticalWarning, TohError, UnreadableDataError

__all__ = [
    "Definitions",
    "DEFAULT_DEFINITIONS",
    "TohError",
    "ConfigError",
    "InvalidDataError",
    "UnreadableDataError",
    "StatisticalWarning",
]
