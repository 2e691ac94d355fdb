"""Search: the header's one box that finds leads, companies and (through hooks.SEARCH, registered by pipeline)
deals, each group narrowed to what the viewer may see, in a fixed number of queries whatever the data size."""
