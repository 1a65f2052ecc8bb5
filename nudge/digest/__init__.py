"""The morning digest: who to call (plan), what the store says about them (facts), the words
(render, templates/), and delivering it once a day (send, claim); replies to it (replies).
"""
