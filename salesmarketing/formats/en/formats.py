# One date and one date-time style per language (README: "Dates and amounts"): Dec 3, 2026, Dec 3, 2026 17:13.
DATE_FORMAT = "M j, Y"
SHORT_DATE_FORMAT = "M j, Y"
DATETIME_FORMAT = "M j, Y H:i"
SHORT_DATETIME_FORMAT = "M j, Y H:i"
MONTH_DAY_FORMAT = "M j"
