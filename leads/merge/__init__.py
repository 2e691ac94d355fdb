"""Duplicates and merge: the duplicates queue (pairs found by an indexed self-join on normalised keys) and the
merge of two leads or two companies into one, the other kept as a tombstone that redirects to the survivor."""
