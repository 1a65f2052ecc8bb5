"""The pure core: records and vocabularies, identity, warmth, the planner, ranking, metrics,
prompts, touches, reply commands and dates. No database, network or files: every function
takes plain values (and `now`) and returns plain values; an import contract keeps it so.
"""
