"""Page-level reads of the KPI pages, one module per page: the shared dashboard, a KPI's drill-down, the targets
page, the definitions page and the weekly review (figures: what the dashboard and the review share).

Each selector returns what one page shows in a fixed number of queries, whatever the amount of data: the KPI
engine's two statements, one query for targets, and one statement for all the weekly review's lists
(kpis.selectors.batch).
"""

from kpis.selectors.dashboard import TREND_PERIODS, Dashboard, dashboard, dashboards_refresh
from kpis.selectors.definitions import KPI_DOCS, kpi_definitions_html
from kpis.selectors.drilldown import DRILLDOWN_PAGE_SIZE, DrillDown, drilldown, restrict_to_viewer
from kpis.selectors.figures import Figure, FunnelStep, funnel
from kpis.selectors.review import Review, action_item_owners, action_items_for_week, weekly_review
from kpis.selectors.targets import TargetRow, target_rows

__all__ = [
    "DRILLDOWN_PAGE_SIZE",
    "KPI_DOCS",
    "TREND_PERIODS",
    "Dashboard",
    "DrillDown",
    "Figure",
    "FunnelStep",
    "Review",
    "TargetRow",
    "action_item_owners",
    "action_items_for_week",
    "dashboard",
    "dashboards_refresh",
    "drilldown",
    "funnel",
    "kpi_definitions_html",
    "restrict_to_viewer",
    "target_rows",
    "weekly_review",
]
