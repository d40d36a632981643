"""One module per question the TOH literature answers; pure functions from validated cohort
tables to frozen result objects.  (The estimators arrive with the analyses issue.)"""

__all__: list[str] = []
