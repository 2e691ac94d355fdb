# One date and one date-time style per language (README: "Dates and amounts"): 2026/12/03, 2026/12/03 17:13.
DATE_FORMAT = "Y/m/d"
SHORT_DATE_FORMAT = "Y/m/d"
DATETIME_FORMAT = "Y/m/d H:i"
SHORT_DATETIME_FORMAT = "Y/m/d H:i"
MONTH_DAY_FORMAT = "n/j"
