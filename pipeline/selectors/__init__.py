"""Reads for the pipeline pages: the board, the forecast and a deal's detail (a package: access, board,
forecast, deals).

Every selector runs a fixed number of queries whatever the number of deals.
"""

from pipeline.selectors.access import (
    SCOPE_ALL,
    SCOPE_MARKETING,
    SCOPE_MINE,
    SCOPE_TEAM,
    BoardFilters,
    can_edit_deals,
    companies_visible_to,
    filtered_deals,
    is_admin,
    owners_for,
    scopes_for,
)
from pipeline.selectors.board import (
    CARDS_PER_COLUMN,
    CLOSED_WINDOW_DAYS,
    MAX_CARDS_PER_COLUMN,
    After,
    Board,
    Card,
    Column,
    board_stages,
    pipeline_board,
    stage_usual_seconds,
)
from pipeline.selectors.deals import (
    DealDetail,
    activity_attachment,
    deal_activities,
    deal_detail,
    deal_for_detail,
    deal_for_reading,
    deal_page,
    deal_tasks,
)
from pipeline.selectors.forecast import Forecast, ForecastRow, add_months, forecast

__all__ = [
    "CARDS_PER_COLUMN",
    "CLOSED_WINDOW_DAYS",
    "MAX_CARDS_PER_COLUMN",
    "SCOPE_ALL",
    "SCOPE_MARKETING",
    "SCOPE_MINE",
    "SCOPE_TEAM",
    "After",
    "Board",
    "BoardFilters",
    "Card",
    "Column",
    "DealDetail",
    "Forecast",
    "ForecastRow",
    "add_months",
    "board_stages",
    "can_edit_deals",
    "companies_visible_to",
    "activity_attachment",
    "deal_activities",
    "deal_detail",
    "deal_for_detail",
    "deal_for_reading",
    "deal_page",
    "deal_tasks",
    "filtered_deals",
    "forecast",
    "is_admin",
    "owners_for",
    "pipeline_board",
    "scopes_for",
    "stage_usual_seconds",
]
