import gc
import os

from django.core.wsgi import get_wsgi_application

from salesmarketing.priority import pass_niceness_to_database

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "salesmarketing.settings")
application = get_wsgi_application()
# A web pool started under `nice` (docker-compose's web-ingest, which serves batch API clients) runs its database
# queries at that niceness too, as the bulk workers do (salesmarketing.priority).
pass_niceness_to_database()
# What the process holds from here on (Django, the apps, their modules) lives as long as the process: out of the
# collector's reach, a full collection no longer walks it. Such a collection paused one request in ten of a big page
# (the weekly review with a few hundred people) by ~75 ms; with the startup frozen, ~20 ms.
gc.freeze()
