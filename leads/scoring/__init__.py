"""Lead scoring: fit + time-decaying engagement, set-based SQL, explainable. See engine.py."""
