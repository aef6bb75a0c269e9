"""The pipeline: context, prompt, engine, reply, plan (edit) or findings (review).

Protocol-free: the language server and the command line both call it.
"""
